"""spikede_interp: part of spikeDE."""

from spikede_interp.__about__ import __version__

__all__ = ["__version__"]
