"""spikede_interp: batched, differentiable pure-PyTorch interpolation of time series.

Reconstruct a continuous signal ``x(t)`` from samples ``x [T, B, ...]`` taken at
``x_time`` (``[T]``, ``[B, T]`` or ``[T, B]``), with the methods ``linear``,
``nearest``, ``previous`` (zero-order hold), ``cubic`` (Catmull-Rom) and ``akima``.
"""

from spikede_interp.__about__ import __version__
from spikede_interp._checks import METHODS
from spikede_interp._functional import (
    akima_interpolate_batched,
    cubic_interpolate_batched,
    interpolate,
    linear_interpolate_batched,
    nearest_interpolate_batched,
)
from spikede_interp._interpolator import Interpolator

__all__ = [
    "METHODS",
    "Interpolator",
    "__version__",
    "akima_interpolate_batched",
    "cubic_interpolate_batched",
    "interpolate",
    "linear_interpolate_batched",
    "nearest_interpolate_batched",
]
