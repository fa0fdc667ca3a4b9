"""MkDocs hooks of the spikeDE documentation site.

MathJax is served from the site itself, never from a CDN, so that the built site renders
its formulas offline (the browser test runs without network) and the hosted site does not
depend on a third-party host. The script is not stored in the repository: it is taken at
build time from the ``django-static-mathjax`` wheel on PyPI, a plain copy of MathJax 3
with no dependencies, and added to the build as a generated file at the address that
``mkdocs.yml`` lists under ``extra_javascript``.

We use the ``tex-mml-svg`` component: its SVG output carries its glyphs inside the one
script, so no font files need copying.

The PyTorch names that appear in signatures and docstrings (``torch.Tensor``,
``torch.nn.Module``, ...) link to PyTorch's documentation. mkdocstrings would take such
links from PyTorch's ``objects.inv`` inventory, which has to be downloaded at build time;
the build runs offline, so the hook registers the addresses of the few PyTorch names the
site uses with autorefs instead (:data:`TORCH_PAGES`). Names not listed stay plain code.

The changelog page includes each package's ``CHANGELOG.md`` at build time
(:func:`include_changelogs`), so the site always shows the files as they are.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
from collections.abc import Callable
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.livereload import LiveReloadServer
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.spikede_docs")

MATHJAX_DIST = "django-static-mathjax"
MATHJAX_COMPONENT = "mathjax/static/mathjax/es5/tex-mml-svg.js"
MATHJAX_SITE_PATH = "javascripts/vendor/mathjax/tex-mml-svg.js"

TORCH_DOCS = "https://docs.pytorch.org/docs/stable/"
# identifier -> page of the PyTorch documentation that documents it (anchor = identifier)
TORCH_PAGES = {
    "torch.Tensor": "tensors.html",
    "torch.Size": "size.html",
    "torch.dtype": "tensor_attributes.html",
    "torch.device": "tensor_attributes.html",
    "torch.Generator": "generated/torch.Generator.html",
    "torch.compile": "generated/torch.compile.html",
    "torch.no_grad": "generated/torch.no_grad.html",
    "torch.nn.Module": "generated/torch.nn.Module.html",
    "torch.nn.ModuleList": "generated/torch.nn.ModuleList.html",
    "torch.nn.Sequential": "generated/torch.nn.Sequential.html",
    "torch.nn.Linear": "generated/torch.nn.Linear.html",
    "torch.nn.Conv2d": "generated/torch.nn.Conv2d.html",
    "torch.nn.AvgPool2d": "generated/torch.nn.AvgPool2d.html",
    "torch.nn.Flatten": "generated/torch.nn.Flatten.html",
    "torch.nn.parameter.Parameter": "generated/torch.nn.parameter.Parameter.html",
    "torch.func.vmap": "generated/torch.func.vmap.html",
    "torch.autograd.Function": "autograd.html",
    "torch.utils.checkpoint.checkpoint": "checkpoint.html",
    "torch.fx.Graph": "fx.html",
    "torch.fx.GraphModule": "fx.html",
    "torch.fx.Node": "fx.html",
    "torch.fx.Tracer": "fx.html",
    "torch.fx.Tracer.trace": "fx.html",
    "torch.fx.symbolic_trace": "fx.html",
}
# aliases under which the same objects are reached
TORCH_ALIASES = {"torch.nn.Parameter": "torch.nn.parameter.Parameter"}


def mathjax_source() -> Path:
    """Return the path of the installed MathJax component.

    Raises:
        PluginError: When the distribution providing MathJax is not installed.
    """
    try:
        dist = importlib.metadata.distribution(MATHJAX_DIST)
    except importlib.metadata.PackageNotFoundError as exc:
        raise PluginError(
            f"the docs serve MathJax from the site itself and take it from the PyPI package "
            f"{MATHJAX_DIST!r}, which is not installed; install it with "
            f"`pip install {MATHJAX_DIST}` (it is listed in the docs environment of hatch.toml)"
        ) from exc
    path = Path(str(dist.locate_file(MATHJAX_COMPONENT)))
    if not path.is_file():
        raise PluginError(
            f"{MATHJAX_DIST} {dist.version} is installed but has no {MATHJAX_COMPONENT}; "
            "a MathJax 3 release of that package is needed"
        )
    return path


def torch_urls() -> dict[str, str]:
    """Return the absolute documentation address of each PyTorch name of :data:`TORCH_PAGES`."""
    urls = {name: f"{TORCH_DOCS}{page}#{name}" for name, page in TORCH_PAGES.items()}
    urls.update({alias: urls[target] for alias, target in TORCH_ALIASES.items()})
    return urls


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Register the PyTorch names with autorefs, so that references to them link out."""
    autorefs = config.plugins.get("autorefs")
    if autorefs is None:
        raise PluginError("the docs hooks need the autorefs plugin (see mkdocs.yml)")
    for identifier, url in torch_urls().items():
        autorefs.register_url(identifier, url)
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the MathJax script to the site as a generated file."""
    source = mathjax_source()
    if files.get_file_from_path(MATHJAX_SITE_PATH) is None:
        files.append(
            File.generated(config, MATHJAX_SITE_PATH, abs_src_path=str(source))
        )
        log.debug("serving MathJax from %s", source)
    return files


# --- changelogs -----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
#: A line ``<!-- changelog: packages/<name>/CHANGELOG.md -->`` of a page is replaced by that
#: file (path relative to the repository root), its headings one level lower, so that the
#: site shows the changelogs as they are in the repository and never a stale copy.
CHANGELOG_MARKER = re.compile(r"^<!-- changelog: (?P<path>\S+) -->[ \t]*$", re.MULTILINE)
HEADING = re.compile(r"^(#{1,5}) ", re.MULTILINE)


def include_changelogs(markdown: str, root: Path = ROOT) -> str:
    """Replace every changelog marker of ``markdown`` by the file it names.

    Raises:
        PluginError: When a named file does not exist.
    """

    def include(match: re.Match[str]) -> str:
        path = root / match["path"]
        if not path.is_file():
            raise PluginError(f"changelog marker names {match['path']!r}, which does not exist")
        text = path.read_text(encoding="utf-8")
        # Outside fenced code a Markdown heading starts a line with '#'; the changelogs
        # have no code blocks, so every such line is a heading.
        return HEADING.sub(lambda h: "#" + h[1] + " ", text).strip("\n")

    return CHANGELOG_MARKER.sub(include, markdown)


def changelog_paths(markdown: str, root: Path = ROOT) -> list[Path]:
    """The files that the changelog markers of ``markdown`` name."""
    return [root / m["path"] for m in CHANGELOG_MARKER.finditer(markdown)]


def on_page_markdown(markdown: str, **kwargs: object) -> str:
    """Include the packages' changelogs where a page asks for them."""
    return include_changelogs(markdown)


def on_serve(server: LiveReloadServer, config: MkDocsConfig, builder: Callable[[], None]) -> LiveReloadServer:
    """Rebuild on `mkdocs serve` when a changelog changes."""
    for changelog in sorted(ROOT.glob("packages/*/CHANGELOG.md")):
        server.watch(str(changelog))
    return server
