"""MkDocs hooks of the spikeDE documentation site.

MathJax is served from the site itself, never from a CDN, so that the built site renders
its formulas offline (the browser test runs without network) and the hosted site does not
depend on a third-party host. The script is not stored in the repository: it is taken at
build time from the ``django-static-mathjax`` wheel on PyPI, a plain copy of MathJax 3
with no dependencies, and added to the build as a generated file at the address that
``mkdocs.yml`` lists under ``extra_javascript``.

We use the ``tex-mml-svg`` component: its SVG output carries its glyphs inside the one
script, so no font files need copying.
"""

from __future__ import annotations

import importlib.metadata
import logging
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.spikede_docs")

MATHJAX_DIST = "django-static-mathjax"
MATHJAX_COMPONENT = "mathjax/static/mathjax/es5/tex-mml-svg.js"
MATHJAX_SITE_PATH = "javascripts/vendor/mathjax/tex-mml-svg.js"


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


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the MathJax script to the site as a generated file."""
    source = mathjax_source()
    if files.get_file_from_path(MATHJAX_SITE_PATH) is None:
        files.append(
            File.generated(config, MATHJAX_SITE_PATH, abs_src_path=str(source))
        )
        log.debug("serving MathJax from %s", source)
    return files
