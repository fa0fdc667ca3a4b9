"""Draw the figures of the tutorials by running the tutorials' own code.

Each figure of :data:`FIGURES` is written by a fenced ``python`` block of its page. The
blocks of the page are executed in order, in a temporary directory, until every figure of
that page exists; the files are then copied to ``docs/assets/``. The pictures on the site
are therefore exactly what the code printed next to them draws.

Usage::

    python scripts/docs_page_figures.py                  # every figure
    python scripts/docs_page_figures.py lif_orders.png   # only some
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
DOCS = ROOT / "docs"
ASSETS = DOCS / "assets"
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)

# figure file -> the page (under docs/) whose code writes it
FIGURES = {
    "lif_orders.png": "tutorials/neurons.md",
    "surrogates.png": "tutorials/neurons.md",
    "spike_raster.png": "tutorials/wrapper-and-fx.md",
    "interpolation.png": "tutorials/wrapper-and-fx.md",
}


def draw_page(page: Path, figures: list[str], out_dir: Path) -> list[Path]:
    """Run ``page``'s code blocks until all ``figures`` exist, copy them to ``out_dir``.

    Returns:
        The paths written, in the order of ``figures``.

    Raises:
        RuntimeError: If the page's code never writes one of the figures.
    """
    import matplotlib.pyplot as plt
    import torch

    out_dir = out_dir.resolve()
    blocks = FENCE.findall(page.read_text(encoding="utf-8"))
    namespace: dict[str, object] = {"__name__": "__docs__"}
    previous = Path.cwd()
    torch.manual_seed(0)  # as the tests that run the pages
    with tempfile.TemporaryDirectory() as work:
        os.chdir(work)
        try:
            for number, block in enumerate(blocks, start=1):
                code = compile(block, f"{page.name} [python block {number}]", "exec")
                exec(code, namespace)
                if all(Path(name).is_file() for name in figures):
                    out_dir.mkdir(parents=True, exist_ok=True)
                    written = []
                    for name in figures:
                        shutil.copyfile(name, out_dir / name)
                        written.append(out_dir / name)
                    return written
            missing = [name for name in figures if not Path(name).is_file()]
        finally:
            os.chdir(previous)
            plt.close("all")
    raise RuntimeError(f"no python block of {page} writes {', '.join(missing)}")


def draw(names: list[str] | None = None, out_dir: Path = ASSETS) -> list[Path]:
    """Draw the figures ``names`` (default: all of :data:`FIGURES`) into ``out_dir``."""
    names = list(FIGURES) if not names else names
    unknown = [name for name in names if name not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; known: {sorted(FIGURES)}")
    written: list[Path] = []
    for page in dict.fromkeys(FIGURES[name] for name in names):
        wanted = [name for name in names if FIGURES[name] == page]
        written += draw_page(DOCS / page, wanted, out_dir)
    return written


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"figures to draw (default all: {', '.join(FIGURES)})")
    parser.add_argument("--out-dir", type=Path, default=ASSETS, help="directory to write to")
    args = parser.parse_args(argv)
    draw(args.names, args.out_dir)


if __name__ == "__main__":
    main()
