"""Griffe extension used by the documentation build (see ``mkdocs.yml``).

The packages write Google-style docstrings with an ``Example:`` section and, here and
there, Sphinx roles such as ``:class:`spikede_fx.BaseNeuron``` or ``:meth:`step```. Griffe's
Google parser knows the plural ``Examples:`` (whose ``>>>`` lines it renders as code) and
knows no Sphinx roles, so before a docstring is parsed this extension

- renames an ``Example:`` section header to ``Examples:``;
- turns ``:role:`name``` into an optional cross-reference: a link to the API entry of
  ``name`` when the site documents it, plain code otherwise (never a build warning).
  Unqualified names are looked up next to the documented object (``:meth:`step``` in a
  class docstring means that class's ``step``). A leading ``~`` shows the last component;
- turns a reST literal block (a paragraph ending in ``::`` followed by an indented block,
  which the docstrings use for small tables of equations) into a fenced ``text`` block,
  which Markdown renders as code instead of a run-on paragraph.

After a package is loaded it also tidies what the API pages list:

- class attributes without a docstring are dropped (they are set in ``__init__`` or are
  dataclass fields, and are described in the class's own docstring; listed alone they
  would show only ``name = value``);
- a private base class (``_ThresholdNeuron``) is shown as its public bases instead, since
  the site has no entry to link it to.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_EXAMPLE_HEADER = re.compile(r"^(?P<indent>[ \t]*)Example:[ \t]*$", re.MULTILINE)
_LITERAL_INTRO = re.compile(r"^(?P<indent>[ \t]*)(?P<text>.*?)::[ \t]*$")
_SPHINX_ROLE = re.compile(
    r":(?:py:)?(?P<role>class|meth|func|attr|mod|obj|data|exc|const):`(?P<target>~?[\w.]+)`"
)


def _scope(obj: griffe.Object) -> str:
    """Path under which an unqualified name in ``obj``'s docstring is looked up."""
    if obj.is_class or obj.is_module or obj.parent is None:
        return obj.path
    return obj.parent.path


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def literal_blocks_to_fences(text: str) -> str:
    """Return ``text`` with its reST literal blocks (``Intro::`` + indented block) fenced.

    ``Intro::`` becomes ``Intro:`` (a lone ``::`` line disappears), and the indented block
    becomes a fenced ``text`` block at the intro's indentation, its lines re-indented to
    match. Text with no literal block is returned unchanged.
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _LITERAL_INTRO.match(lines[i])
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if (
            match is None
            or lines[i].lstrip().startswith(">>>")
            or j == i + 1
            or j >= len(lines)
            or _indent(lines[j]) <= len(match["indent"])
        ):
            out.append(lines[i])
            i += 1
            continue
        indent = match["indent"]
        if match["text"].strip():
            out.append(f"{indent}{match['text'].rstrip()}:")
            out.append("")
        block_indent = _indent(lines[j])
        end = j
        while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) >= block_indent):
            end += 1
        while end > j and not lines[end - 1].strip():
            end -= 1
        out.append(f"{indent}```text")
        out.extend(
            f"{indent}{line[block_indent:]}" if line.strip() else "" for line in lines[j:end]
        )
        out.append(f"{indent}```")
        i = end
    return "\n".join(out)


def rewrite(text: str, scope: str) -> str:
    """Return docstring ``text`` with its ``Example:`` headers, literal blocks and Sphinx
    roles rewritten."""
    text = _EXAMPLE_HEADER.sub(lambda m: f"{m['indent']}Examples:", text)
    text = literal_blocks_to_fences(text)

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


def _public_bases(cls: griffe.Class, seen: frozenset[str] = frozenset()) -> list[Any]:
    """Return ``cls``'s bases, each private one replaced by its own public bases."""
    bases: list[Any] = []
    for base in cls.bases:
        name = str(base).rsplit(".", 1)[-1]
        if not name.startswith("_"):
            bases.append(base)
            continue
        try:
            target = cls.modules_collection[base.canonical_path]  # type: ignore[union-attr]
        except (AttributeError, KeyError, griffe.AliasResolutionError):
            continue  # a private base we cannot see into: show nothing for it
        target = target.final_target if target.is_alias else target
        if target.is_class and target.path not in seen:
            bases.extend(_public_bases(target, seen | {target.path}))
    return bases


def tidy(obj: griffe.Object) -> None:
    """Drop undocumented class attributes and private bases under ``obj`` (in place)."""
    for member in list(obj.members.values()):
        if member.is_alias:
            continue
        if obj.is_class and member.is_attribute and not member.docstring:
            del obj.members[member.name]
            continue
        if member.is_class or member.is_module:
            tidy(member)
    if obj.is_class:
        obj.bases = _public_bases(obj)  # type: ignore[union-attr]


class DocstringCompat(griffe.Extension):
    """Rewrite docstrings before they are parsed and tidy the loaded packages."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the docstring of every loaded object."""
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value, _scope(obj))

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Tidy a package once it is loaded."""
        tidy(pkg)
