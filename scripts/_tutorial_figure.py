"""Shared by the figure scripts that draw a tutorial's figure with the tutorial's own code.

The fenced ``python`` blocks of a page are executed in order, in a temporary directory,
until one of them has written the figure file; that file is then copied to its place under
``docs/assets``. The picture on the page is therefore exactly what the code printed on the
page draws. Each script (``docs_nir_figure.py``, ``docs_relaxation_figure.py``) names its
page and its figure and calls :func:`draw_from_page` and :func:`run`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from collections.abc import Callable
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


def run(
    doc: str, draw: Callable[[Path], Path], default_out: Path, argv: list[str] | None
) -> None:
    """The command line of a figure script: ``--out`` (default ``default_out``), then draw.

    Args:
        doc: The script's docstring (its first line describes the command).
        draw: The script's ``draw(out)``.
        default_out: Where the figure goes without ``--out``.
        argv: The arguments (``None``: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=Path, default=default_out, help="PNG file to write")
    draw(parser.parse_args(argv).out)
