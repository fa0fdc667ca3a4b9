"""Draw ``docs/assets/nir_membranes.png`` by running the code of ``docs/tutorials/nir.md``.

Usage::

    python scripts/docs_nir_figure.py [--out docs/assets/nir_membranes.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared _tutorial_figure

from _tutorial_figure import TutorialFigure

FIGURE = TutorialFigure("nir.md", "nir_membranes.png")
draw = FIGURE.draw

if __name__ == "__main__":
    FIGURE.main()
