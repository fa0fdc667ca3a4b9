"""The README example runs, and every docstring example is a passing doctest."""

from __future__ import annotations

import doctest
import importlib
import pathlib
import pkgutil
import re

import pytest

import spikede_fx

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) == 1
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    assert namespace["logits"].shape[0] == 2 * 19 + 1
    printed = capsys.readouterr().out
    assert "self.model.lif1(v_lif1, fc1, spikede_dt)" in printed
    assert "['lif1', 'lif2']" in printed


MODULES = [
    name
    for _, name, _ in pkgutil.iter_modules(spikede_fx.__path__, prefix="spikede_fx.")
]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if module_name in {
        "spikede_fx._neuron",
        "spikede_fx._tracer",
        "spikede_fx._odefunc",
    }:
        assert result.attempted > 0
