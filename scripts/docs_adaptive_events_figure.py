"""Draw ``docs/assets/adaptive_events.png`` by running the code of ``docs/tutorials/adaptive-events.md``.

Usage::

    python scripts/docs_adaptive_events_figure.py [--out docs/assets/adaptive_events.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared _tutorial_figure

from _tutorial_figure import TutorialFigure

FIGURE = TutorialFigure("adaptive-events.md", "adaptive_events.png")
draw = FIGURE.draw

if __name__ == "__main__":
    FIGURE.main()
