"""spikede: part of spikeDE."""

from spikede.__about__ import __version__

__all__ = ["__version__"]
