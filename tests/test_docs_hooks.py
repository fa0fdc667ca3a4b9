"""The build-time helpers of the documentation: the MathJax hook and the griffe extension."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from mkdocs.exceptions import PluginError

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def test_mathjax_comes_from_the_installed_package(
    load_script: Callable[[str], ModuleType],
) -> None:
    hooks = load_script("docs_hooks")
    source = hooks.mathjax_source()
    assert source.name == "tex-mml-svg.js"
    assert "MathJax" in source.read_text(encoding="utf-8", errors="replace")
    assert source.stat().st_size > 1_000_000


def test_missing_mathjax_package_is_a_clear_build_error(
    monkeypatch: pytest.MonkeyPatch, load_script: Callable[[str], ModuleType]
) -> None:
    hooks = load_script("docs_hooks")
    monkeypatch.setattr(hooks, "MATHJAX_DIST", "spikede-docs-no-such-distribution")
    with pytest.raises(
        PluginError, match="pip install spikede-docs-no-such-distribution"
    ):
        hooks.mathjax_source()


def test_example_header_becomes_examples(
    load_script: Callable[[str], ModuleType],
) -> None:
    griffe_ext = load_script("docs_griffe")
    text = "Summary.\n\nExample:\n    >>> 1 + 1\n    2\n\nSee the Example: below.\n"
    out = griffe_ext.rewrite(text, "pkg.Thing")
    assert "\nExamples:\n    >>> 1 + 1" in out
    assert "See the Example: below." in out  # only a header line is renamed


def test_sphinx_roles_become_optional_cross_references(
    load_script: Callable[[str], ModuleType],
) -> None:
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


def test_literal_blocks_become_fenced_text(
    load_script: Callable[[str], ModuleType],
) -> None:
    griffe_ext = load_script("docs_griffe")
    text = (
        "Summary, with the threshold::\n\n    u = v + h I\n      s = H(u)\n\n"
        "so one step gives v.\n\nArgs:\n    x: A table::\n\n        a  b\n\n"
        "    y: Plain.\n"
    )
    out = griffe_ext.rewrite(text, "pkg.Thing")
    assert "Summary, with the threshold:\n\n```text\nu = v + h I\n  s = H(u)\n```\n" in out
    assert "\n\nso one step gives v." in out
    assert "    x: A table:\n\n    ```text\n    a  b\n    ```\n\n    y: Plain." in out
    assert "::" not in out
    plain = "No block here: a::b and\n\n    >>> d = {1: 2}\n"
    assert griffe_ext.rewrite(plain, "pkg") == plain


def test_torch_names_link_to_the_pytorch_documentation(
    load_script: Callable[[str], ModuleType],
) -> None:
    hooks = load_script("docs_hooks")
    urls = hooks.torch_urls()
    assert urls["torch.Tensor"] == (
        "https://docs.pytorch.org/docs/stable/tensors.html#torch.Tensor"
    )
    assert urls["torch.nn.Parameter"] == urls["torch.nn.parameter.Parameter"]
    assert all(url.startswith(hooks.TORCH_DOCS) for url in urls.values())


@pytest.mark.parametrize(
    ("module_name", "page"),
    [
        ("spikede", "spikede.md"),
        ("spikede_fx", "spikede-fx.md"),
        ("spikede_solvers", "spikede-solvers.md"),
        ("spikede_interp", "spikede-interp.md"),
    ],
)
def test_api_pages_list_every_public_name(module_name: str, page: str) -> None:
    # The API pages list their entries one by one (entry points first), so a new public
    # name must be added to its page: this says which, without building the site.
    import importlib
    import re

    text = (SCRIPTS.parent / "docs" / "api" / page).read_text(encoding="utf-8")
    listed = set(re.findall(rf"^::: {module_name}\.(\w+)", text, re.MULTILINE))
    public = set(importlib.import_module(module_name).__all__)
    assert not public - listed, f"docs/api/{page} lacks {sorted(public - listed)}"
    assert not listed - public, f"docs/api/{page} lists non-public {sorted(listed - public)}"


def test_changelog_markers_include_each_file_one_heading_level_down(
    load_script: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    hooks = load_script("docs_hooks")
    (tmp_path / "CHANGELOG.md").write_text(
        "# Changelog of pkg\n\nIntro.\n\n## 0.1.0\n\n- First.\n", encoding="utf-8"
    )
    page = "# Changelog\n\n<!-- changelog: CHANGELOG.md -->\n\nAfter.\n"
    out = hooks.include_changelogs(page, root=tmp_path)
    assert out == (
        "# Changelog\n\n## Changelog of pkg\n\nIntro.\n\n### 0.1.0\n\n- First.\n\nAfter.\n"
    )
    with pytest.raises(PluginError, match="NOPE.md"):
        hooks.include_changelogs("<!-- changelog: NOPE.md -->\n", root=tmp_path)


def test_changelog_page_includes_every_package(
    load_script: Callable[[str], ModuleType],
) -> None:
    hooks = load_script("docs_hooks")
    root = SCRIPTS.parent
    page = (root / "docs" / "reference" / "changelog.md").read_text(encoding="utf-8")
    included = {p.resolve() for p in hooks.changelog_paths(page)}
    assert included == {p.resolve() for p in root.glob("packages/*/CHANGELOG.md")}


def test_citation_names_the_current_version() -> None:
    import re

    root = SCRIPTS.parent
    about = (root / "packages" / "spikede" / "src" / "spikede" / "__about__.py").read_text()
    version = re.search(r'__version__ = "([^"]+)"', about).group(1)
    cff = (root / "CITATION.cff").read_text(encoding="utf-8")
    assert f'\nversion: "{version}"\n' in cff
    assert 'name: "The spikeDE developers"' in cff
    references = (root / "docs" / "reference" / "references.md").read_text(encoding="utf-8")
    assert f"version = {{{version}}}" in references
    assert "author  = {{The spikeDE developers}}" in references
