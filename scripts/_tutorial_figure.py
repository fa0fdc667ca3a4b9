"""Shared by the figure scripts that draw a tutorial's figure with the tutorial's own code.

The fenced ``python`` blocks of a page are executed in order, in a temporary directory,
until one of them has written the figure file; that file is then copied to its place under
``docs/assets``. The picture on the page is therefore exactly what the code printed on the
page draws. Each script (``docs_nir_figure.py``, ``docs_relaxation_figure.py``) is one
:class:`TutorialFigure`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def draw_from_page(page: Path, figure: str, out: Path) -> Path:
    """Run ``page``'s code blocks until ``figure`` exists, copy it to ``out``; return ``out``.

    Args:
        page: The Markdown page whose fenced ``python`` blocks draw the figure.
        figure: The file name the page's code writes (in its working directory).
        out: Where to copy the figure.

    Raises:
        RuntimeError: If no block of the page writes the figure.
    """
    import matplotlib.pyplot as plt

    out = out.resolve()
    blocks = FENCE.findall(page.read_text(encoding="utf-8"))
    namespace: dict[str, object] = {"__name__": "__docs__"}
    previous = Path.cwd()
    with tempfile.TemporaryDirectory() as work:
        os.chdir(work)
        try:
            for number, block in enumerate(blocks, start=1):
                code = compile(block, f"{page.name} [python block {number}]", "exec")
                exec(code, namespace)
                if Path(figure).is_file():
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(figure, out)
                    return out
        finally:
            os.chdir(previous)
            plt.close("all")
    raise RuntimeError(f"no python block of {page} writes {figure}")


class TutorialFigure:
    """The figure of one tutorial page, drawn by the page's own code.

    Args:
        page: The page's file name under ``docs/tutorials``.
        figure: The file its code writes; the figure goes to ``docs/assets/<figure>``.
    """

    def __init__(self, page: str, figure: str) -> None:
        self.page = ROOT / "docs" / "tutorials" / page
        self.figure = figure
        self.default_out = ROOT / "docs" / "assets" / figure

    def draw(self, out: Path, page: Path | None = None) -> Path:
        """Run the page's code blocks (or ``page``'s) until the figure exists; copy it to ``out``.

        Raises:
            RuntimeError: If no block of the page writes the figure.
        """
        return draw_from_page(self.page if page is None else page, self.figure, out)

    def main(self, argv: list[str] | None = None) -> None:
        """Command line: ``--out`` (default ``docs/assets/<figure>``), then draw."""
        parser = argparse.ArgumentParser(
            description=f"Draw {self.figure} by running the code of {self.page.name}."
        )
        parser.add_argument("--out", type=Path, default=self.default_out, help="PNG file to write")
        self.draw(parser.parse_args(argv).out)
