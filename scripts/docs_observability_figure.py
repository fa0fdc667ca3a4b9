"""Draw ``docs/assets/observability.png`` by running the code of ``docs/tutorials/observability.md``.

Usage::

    python scripts/docs_observability_figure.py [--out docs/assets/observability.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared _tutorial_figure

from _tutorial_figure import TutorialFigure

FIGURE = TutorialFigure("observability.md", "observability.png")
draw = FIGURE.draw

if __name__ == "__main__":
    FIGURE.main()
