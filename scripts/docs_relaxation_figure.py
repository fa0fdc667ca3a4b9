"""Draw the figure of the solvers tutorial by running the tutorial's own code.

The fenced ``python`` blocks of ``docs/tutorials/solvers.md`` are executed in order, in a
temporary directory, until one of them has written ``relaxation.png``; that file is then
copied to ``docs/assets/relaxation.png`` (see ``_tutorial_figure.py``).

Usage::

    python scripts/docs_relaxation_figure.py [--out docs/assets/relaxation.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared _tutorial_figure

from _tutorial_figure import ROOT, draw_from_page, run

PAGE = ROOT / "docs" / "tutorials" / "solvers.md"
DEFAULT_OUT = ROOT / "docs" / "assets" / "relaxation.png"
FIGURE = "relaxation.png"


def draw(out: Path, page: Path = PAGE) -> Path:
    """Run ``page``'s code blocks until ``relaxation.png`` exists, copy it to ``out``; return ``out``.

    Raises:
        RuntimeError: If no block of the page writes the figure.
    """
    return draw_from_page(page, FIGURE, out)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    run(__doc__, draw, DEFAULT_OUT, argv)


if __name__ == "__main__":
    main()
