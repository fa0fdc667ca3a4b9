"""Per-interval polynomial coefficients of the piecewise interpolants.

All functions work on samples laid out ``[T, B, F]`` (features flattened) and interval
widths ``h`` of shape ``[T - 1, B or 1, 1]``, and are built from differentiable tensor
operations only (no host synchronisation), so gradients flow from the coefficients back
to the samples.

On interval ``k`` (``x_time[k] <= t <= x_time[k + 1]``) the interpolant is the cubic

    p(t) = c0 + c1 * s + c2 * s**2 + c3 * s**3,    s = t - x_time[k],

with the coefficients stacked along dimension 2: ``[T - 1, B, 4, F]`` (``[T - 1, B, 2, F]``
for ``linear``).
"""

from __future__ import annotations

import torch

#: Akima weights ``f1 + f2`` at or below this fraction of the series' largest weight sum
#: count as zero (the node slope then falls back to the mean of the two neighbouring
#: slopes), as in ``scipy.interpolate.Akima1DInterpolator``.
AKIMA_BREAK = 1e-9


def secant_slopes(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Return the slopes ``(x[k + 1] - x[k]) / h[k]`` of the ``T - 1`` chords."""
    return (x[1:] - x[:-1]) / h


def catmull_rom_slopes(
    x: torch.Tensor, knots: torch.Tensor, h: torch.Tensor
) -> torch.Tensor:
    """Return node tangents of the (non-uniform) Catmull-Rom spline, ``[T, B, F]``.

    Interior tangents are central finite differences over two intervals,
    ``m[k] = (x[k + 1] - x[k - 1]) / (t[k + 1] - t[k - 1])``; the end tangents are the
    one-sided differences ``m[0] = (x[1] - x[0]) / h[0]`` and
    ``m[T - 1] = (x[T - 1] - x[T - 2]) / h[T - 2]``.

    Args:
        x: Samples ``[T, B, F]``.
        knots: Sample times ``[T, B or 1, 1]``.
        h: Interval widths ``[T - 1, B or 1, 1]``.
    """
    d = secant_slopes(x, h)
    inner = (x[2:] - x[:-2]) / (knots[2:] - knots[:-2])
    return torch.cat((d[:1], inner, d[-1:]), dim=0)


def akima_slopes(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Return the Akima (1970) node slopes, ``[T, B, F]`` (needs ``T >= 3``).

    With the chord slopes ``d`` extended by two linearly extrapolated values at each end
    (``d[-1] = 2 d[0] - d[1]``, ``d[-2] = 2 d[-1] - d[0]``, likewise on the right), the
    slope at node ``i`` is ``(w1 * d[i - 1] + w2 * d[i]) / (w1 + w2)`` with
    ``w1 = |d[i + 1] - d[i]|`` and ``w2 = |d[i - 1] - d[i - 2]|``; where ``w1 + w2`` is
    at most :data:`AKIMA_BREAK` times its maximum over the series (one batch element
    and feature), the slope is the mean ``(d[i - 1] + d[i]) / 2``.

    Args:
        x: Samples ``[T, B, F]``.
        h: Interval widths ``[T - 1, B or 1, 1]``.
    """
    d = secant_slopes(x, h)
    left1 = 2.0 * d[:1] - d[1:2]
    left2 = 2.0 * left1 - d[:1]
    right1 = 2.0 * d[-1:] - d[-2:-1]
    right2 = 2.0 * right1 - d[-1:]
    # m[j] for j = 0 .. T + 2; node i uses m[i], m[i + 1], m[i + 2], m[i + 3].
    m = torch.cat((left2, left1, d, right1, right2), dim=0)
    dm = (m[1:] - m[:-1]).abs()
    w1 = dm[2:]
    w2 = dm[:-2]
    w12 = w1 + w2
    defined = w12 > AKIMA_BREAK * w12.amax(dim=0, keepdim=True)
    safe = torch.where(defined, w12, torch.ones_like(w12))
    before, after = m[1:-2], m[2:-1]
    weighted = before + (w2 / safe) * (after - before)
    mean = 0.5 * (m[3:] + m[:-3])
    return torch.where(defined, weighted, mean)


def hermite_coefficients(
    x: torch.Tensor, slopes: torch.Tensor, h: torch.Tensor
) -> torch.Tensor:
    """Return ``[T - 1, B, 4, F]`` coefficients of the cubic Hermite interpolant.

    On each interval the cubic matches the samples and the node ``slopes`` at both ends.

    Args:
        x: Samples ``[T, B, F]``.
        slopes: Node slopes ``[T, B, F]``.
        h: Interval widths ``[T - 1, B or 1, 1]``.
    """
    d = secant_slopes(x, h)
    m0, m1 = slopes[:-1], slopes[1:]
    c2 = (3.0 * d - 2.0 * m0 - m1) / h
    c3 = (m0 + m1 - 2.0 * d) / (h * h)
    return torch.stack((x[:-1], m0, c2, c3), dim=2)
