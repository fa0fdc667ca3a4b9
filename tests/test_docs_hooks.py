"""The build-time helpers of the documentation: the MathJax hook and the griffe extension."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from mkdocs.exceptions import PluginError

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def load_script(name: str) -> ModuleType:
    """Import ``scripts/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_mathjax_comes_from_the_installed_package() -> None:
    hooks = load_script("docs_hooks")
    source = hooks.mathjax_source()
    assert source.name == "tex-mml-svg.js"
    assert "MathJax" in source.read_text(encoding="utf-8", errors="replace")
    assert source.stat().st_size > 1_000_000


def test_missing_mathjax_package_is_a_clear_build_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hooks = load_script("docs_hooks")
    monkeypatch.setattr(hooks, "MATHJAX_DIST", "spikede-docs-no-such-distribution")
    with pytest.raises(
        PluginError, match="pip install spikede-docs-no-such-distribution"
    ):
        hooks.mathjax_source()


def test_example_header_becomes_examples() -> None:
    griffe_ext = load_script("docs_griffe")
    text = "Summary.\n\nExample:\n    >>> 1 + 1\n    2\n\nSee the Example: below.\n"
    out = griffe_ext.rewrite(text, "pkg.Thing")
    assert "\nExamples:\n    >>> 1 + 1" in out
    assert "See the Example: below." in out  # only a header line is renamed


def test_sphinx_roles_become_optional_cross_references() -> None:
    griffe_ext = load_script("docs_griffe")
    out = griffe_ext.rewrite(
        "Uses :class:`spikede_fx.BaseNeuron`, :meth:`step` and :func:`~pkg.mod.helper`.",
        "pkg.Thing",
    )
    assert (
        '<autoref identifier="spikede_fx.BaseNeuron" optional>'
        "<code>spikede_fx.BaseNeuron</code></autoref>"
    ) in out
    assert (
        '<autoref identifier="pkg.Thing.step" optional><code>step</code></autoref>'
        in out
    )
    assert (
        '<autoref identifier="pkg.mod.helper" optional><code>helper</code></autoref>'
        in out
    )
    assert ":class:" not in out and ":meth:" not in out and ":func:" not in out
