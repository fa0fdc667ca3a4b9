"""spikede_solvers: part of spikeDE."""

from spikede_solvers.__about__ import __version__

__all__ = ["__version__"]
