"""Draw ``docs/assets/relaxation.png`` by running the code of ``docs/tutorials/solvers.md``.

Usage::

    python scripts/docs_relaxation_figure.py [--out docs/assets/relaxation.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared _tutorial_figure

from _tutorial_figure import TutorialFigure

FIGURE = TutorialFigure("solvers.md", "relaxation.png")
draw = FIGURE.draw

if __name__ == "__main__":
    FIGURE.main()
