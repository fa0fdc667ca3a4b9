"""Griffe extension used by the documentation build (see ``mkdocs.yml``).

The packages write Google-style docstrings with an ``Example:`` section and, here and
there, Sphinx roles such as ``:class:`spikede_fx.BaseNeuron``` or ``:meth:`step```. Griffe's
Google parser knows the plural ``Examples:`` (whose ``>>>`` lines it renders as code) and
knows no Sphinx roles, so before a docstring is parsed this extension

- renames an ``Example:`` section header to ``Examples:``;
- turns ``:role:`name``` into an optional cross-reference: a link to the API entry of
  ``name`` when the site documents it, plain code otherwise (never a build warning).
  Unqualified names are looked up next to the documented object (``:meth:`step``` in a
  class docstring means that class's ``step``). A leading ``~`` shows the last component.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_EXAMPLE_HEADER = re.compile(r"^(?P<indent>[ \t]*)Example:[ \t]*$", re.MULTILINE)
_SPHINX_ROLE = re.compile(
    r":(?:py:)?(?P<role>class|meth|func|attr|mod|obj|data|exc|const):`(?P<target>~?[\w.]+)`"
)


def _scope(obj: griffe.Object) -> str:
    """Path under which an unqualified name in ``obj``'s docstring is looked up."""
    if obj.is_class or obj.is_module or obj.parent is None:
        return obj.path
    return obj.parent.path


def rewrite(text: str, scope: str) -> str:
    """Return docstring ``text`` with its ``Example:`` headers and Sphinx roles rewritten."""
    text = _EXAMPLE_HEADER.sub(lambda m: f"{m['indent']}Examples:", text)

    def link(match: re.Match[str]) -> str:
        target = match["target"]
        short = target.startswith("~")
        target = target.lstrip("~")
        identifier = target if "." in target else f"{scope}.{target}"
        title = target.rsplit(".", 1)[-1] if short else target
        return (
            f'<autoref identifier="{html.escape(identifier)}" optional>'
            f"<code>{html.escape(title)}</code></autoref>"
        )

    return _SPHINX_ROLE.sub(link, text)


class DocstringCompat(griffe.Extension):
    """Rewrite ``Example:`` sections and Sphinx roles before docstrings are parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the docstring of every loaded object."""
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value, _scope(obj))
