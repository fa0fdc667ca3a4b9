"""The README's python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import torch._dynamo

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs():
    blocks = re.findall(
        r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL
    )
    assert len(blocks) == 1
    torch._dynamo.reset()
    exec(compile(blocks[0], str(README), "exec"), {"__name__": "readme_example"})
