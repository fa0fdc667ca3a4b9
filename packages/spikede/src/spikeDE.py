"""The import name ``spikeDE``: the same objects as :mod:`spikede`, for code written as ``from spikeDE import ...``.

Every public name of :mod:`spikede` is re-exported unchanged (``spikeDE.LIFNeuron is
spikede.LIFNeuron``), and the submodules are reachable under this name too:
``spikeDE.nir``, ``spikeDE.plot`` and ``spikeDE.events`` are :mod:`spikede.nir`,
:mod:`spikede.plot` and :mod:`spikede.events`; ``spikeDE.neuron``, ``spikeDE.layer``,
``spikeDE.surrogate`` and ``spikeDE.snn`` are :mod:`spikede` itself, and
``spikeDE.odefunc`` is :mod:`spikede_fx`. Names that exist no more raise an
``ImportError`` saying what replaces them. See the migration guide.

This is one module file, not a package folder: a ``spikeDE/`` folder next to
``spikede/`` would be the same folder on a case-insensitive file system.

Example:
    >>> import spikede
    >>> from spikeDE import SNNWrapper, LIFNeuron
    >>> SNNWrapper is spikede.SNNWrapper and LIFNeuron is spikede.LIFNeuron
    True
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

import spikede
from spikede import *  # noqa: F403  (the public API, listed in spikede.__all__)
from spikede._compat import REMOVED_NAMES

__all__ = list(spikede.__all__)
# An empty search path makes ``import spikeDE.nir`` look for submodules; the finder below
# answers for the names of _SUBMODULES, and no file is ever searched.
__path__: list[str] = []

#: ``spikeDE.<name>`` -> the module it is.
_SUBMODULES = {
    "nir": "spikede.nir",
    "plot": "spikede.plot",
    "events": "spikede.events",
    "neuron": "spikede",
    "layer": "spikede",
    "surrogate": "spikede",
    "snn": "spikede",
    "odefunc": "spikede_fx",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``spikeDE.<name>`` as the existing module it stands for (no second copy)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        head, _, tail = fullname.partition(".")
        if head != __name__ or tail not in _SUBMODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        # The module object itself: its classes are spikede's, isinstance checks agree.
        return importlib.import_module(_SUBMODULES[spec.name.partition(".")[2]])

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was imported under its own name."""


if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
    sys.meta_path.insert(0, _Alias())


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in REMOVED_NAMES:
        raise ImportError(f"spikeDE.{name} was removed: {REMOVED_NAMES[name]}", name=name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, *_SUBMODULES})
