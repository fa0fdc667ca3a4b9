"""Draw the figure of the observability tutorial by running the tutorial's own code.

The fenced ``python`` blocks of ``docs/tutorials/observability.md`` are executed in order, in a
temporary directory, until one of them has written ``observability.png``; that file is then
copied to ``docs/assets/observability.png``. The picture on the page is therefore exactly what
the code printed on the page draws.

Usage::

    python scripts/docs_observability_figure.py [--out docs/assets/observability.png]
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
PAGE = ROOT / "docs" / "tutorials" / "observability.md"
DEFAULT_OUT = ROOT / "docs" / "assets" / "observability.png"
FIGURE = "observability.png"
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def draw(out: Path, page: Path = PAGE) -> Path:
    """Run ``page``'s code blocks until the figure exists, copy it to ``out``; return ``out``.

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
                if Path(FIGURE).is_file():
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(FIGURE, out)
                    return out
        finally:
            os.chdir(previous)
            plt.close("all")
    raise RuntimeError(f"no python block of {page} writes {FIGURE}")


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG file to write")
    args = parser.parse_args(argv)
    draw(args.out)


if __name__ == "__main__":
    main()
