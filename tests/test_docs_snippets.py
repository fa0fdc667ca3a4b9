"""Run the code of every documentation page, so the docs cannot drift from the code.

For each Markdown page under ``docs/``, the fenced ``python`` blocks are joined in order and
executed as one script in a fresh namespace, inside a temporary working directory (pages
may write files, such as figures), with matplotlib's non-interactive ``Agg`` backend. A
page whose code raises fails its test, with the page and the block named.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
PAGES = sorted(DOCS.rglob("*.md"))


def python_blocks(page: Path) -> list[str]:
    """Return the bodies of the fenced ``python`` blocks of ``page``, in order."""
    return FENCE.findall(page.read_text(encoding="utf-8"))


def test_the_fence_pattern_finds_blocks(tmp_path: Path) -> None:
    page = tmp_path / "probe.md"
    page.write_text(
        'intro\n```python\nx = 1\n```\n\n```bash\nls\n```\n```python title="t"\ny = 2\n```\n',
        encoding="utf-8",
    )
    assert python_blocks(page) == ["x = 1\n", "y = 2\n"]


def test_pages_with_code_exist() -> None:
    with_code = [
        page.relative_to(DOCS).as_posix() for page in PAGES if python_blocks(page)
    ]
    for page in [
        "getting-started.md",
        "tutorials/solvers.md",
        "tutorials/neurons.md",
        "tutorials/wrapper-and-fx.md",
        "tutorials/alpha.md",
        "tutorials/memory-performance.md",
    ]:
        assert page in with_code


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if python_blocks(p)],
    ids=lambda p: p.relative_to(DOCS).as_posix(),
)
def test_page_code_runs(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matplotlib.pyplot as plt
    import torch

    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    name = page.relative_to(DOCS).as_posix()
    try:
        for number, block in enumerate(python_blocks(page), start=1):
            code = compile(block, f"{name} [python block {number}]", "exec")
            exec(code, namespace)  # noqa: S102 - running our own documentation
    finally:
        plt.close("all")
