"""Run the code of every documentation page, so the docs cannot drift from the code.

For each Markdown page under ``docs/``, the fenced ``python`` blocks are executed in order
as one script in a fresh namespace, inside a temporary working directory (pages may write
files, such as figures), with matplotlib's non-interactive ``Agg`` backend. A page whose
code raises fails its test, with the page and the block named.

A ``text`` block titled ``Output`` right after a ``python`` block shows what that block
prints; the test checks that the block prints exactly that (trailing spaces aside).
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(
    r"^```(?P<lang>\w*)(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
PAGES = sorted(DOCS.rglob("*.md"))


@dataclass
class Block:
    """One fenced ``python`` block and the output it is documented to print, if any."""

    code: str
    output: str | None


def page_blocks(text: str) -> list[Block]:
    """Return the ``python`` blocks of a page's Markdown ``text``, in order."""
    blocks: list[Block] = []
    for fence in FENCE.finditer(text):
        if fence["lang"] == "python":
            blocks.append(Block(fence["body"], None))
        elif fence["lang"] == "text" and 'title="Output"' in fence["info"] and blocks:
            blocks[-1].output = fence["body"]
    return blocks


def python_blocks(page: Path) -> list[str]:
    """Return the bodies of the fenced ``python`` blocks of ``page``, in order."""
    return [block.code for block in page_blocks(page.read_text(encoding="utf-8"))]


def normalise(output: str) -> str:
    """Drop trailing spaces on each line and blank lines at both ends."""
    return "\n".join(line.rstrip() for line in output.strip("\n").splitlines())


class Tee(io.StringIO):
    """Capture what is written while still passing it on to the real stream."""

    def __init__(self, stream: io.TextIOBase) -> None:
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(text)
        return super().write(text)


def test_blocks_and_outputs_are_found() -> None:
    text = (
        "intro\n```python\nx = 1\n```\n\n```bash\nls\n```\n"
        '```python title="t"\nprint(2)\n```\n```text title="Output"\n2\n```\n'
        "```text\nnot an output\n```\n"
    )
    assert page_blocks(text) == [Block("x = 1\n", None), Block("print(2)\n", "2\n")]


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
        "tutorials/observability.md",
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
    # The pages use tiny tensors, for which one thread is fastest; several threads on a
    # busy 2-core machine mostly wait for each other. Restored afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    name = page.relative_to(DOCS).as_posix()
    try:
        for number, block in enumerate(
            page_blocks(page.read_text(encoding="utf-8")), 1
        ):
            where = f"{name} [python block {number}]"
            code = compile(block.code, where, "exec")
            captured = Tee(sys.stdout)
            with contextlib.redirect_stdout(captured):
                exec(code, namespace)
            if block.output is not None:
                assert normalise(captured.getvalue()) == normalise(block.output), (
                    f"{where} prints something else than its Output block shows"
                )
    finally:
        torch.set_num_threads(threads)
        plt.close("all")
