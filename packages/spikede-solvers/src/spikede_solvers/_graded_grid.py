"""``graded_grid``: time grids refined towards the initial time."""

from __future__ import annotations

import torch
from torch import Tensor

from spikede_solvers._checks import check_graded_grid

__all__ = ["graded_grid"]


def graded_grid(
    t_end: float, n: int, r: float, t0: float = 0.0, dtype: torch.dtype | None = None
) -> Tensor:
    """The graded grid ``t_j = t0 + (t_end - t0) (j / n)^r``, ``j = 0 .. n``.

    Solutions of Caputo problems behave like ``(t - t0)^alpha`` near ``t0``; a grid
    graded with ``r > 1`` puts small steps where that singularity is and restores the
    order the methods have on smooth solutions. ``fdeint`` accepts such a grid for
    ``l1``, ``trap`` and ``pred``; for ``l1`` the grading ``r = (2 - alpha) / alpha``
    gives order ``2 - alpha`` (Stynes, O'Riordan and Gracia, SIAM J. Numer. Anal. 55,
    2017). ``r = 1`` is the uniform grid. The points are computed in float64 and cast.

    Args:
        t_end: The last time point, greater than ``t0``.
        n: Number of steps (an int >= 1).
        r: The grading exponent, a real number >= 1.
        t0: The first time point.
        dtype: A floating dtype; ``None`` uses ``torch.get_default_dtype()``.

    Returns:
        The strictly increasing grid ``[n + 1]``, ``t[0] = t0`` and ``t[n] = t_end``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``t_end <= t0``, a value is not finite, ``n < 1`` or ``r < 1``, or
            the grid is not strictly increasing in ``dtype``.

    Example:
        >>> from spikede_solvers import graded_grid
        >>> graded_grid(1.0, 4, 2.0, dtype=torch.float64).tolist()
        [0.0, 0.0625, 0.25, 0.5625, 1.0]
    """
    t_end, n, r, t0, dtype = check_graded_grid(t_end, n, r, t0, dtype)
    j = torch.arange(n + 1, dtype=torch.float64)
    t = t0 + (t_end - t0) * (j / n) ** r
    t[-1] = t_end
    out = t.to(dtype)
    steps = out[1:] - out[:-1]
    if not bool((steps > 0).all()):
        k = int(torch.nonzero(steps <= 0)[0, 0])
        raise ValueError(
            f"graded_grid(t_end={t_end!r}, n={n}, r={r!r}, t0={t0!r}) is not strictly "
            f"increasing in {dtype}: t[{k}] = t[{k + 1}] = {float(out[k])!r}; use fewer "
            "steps, a smaller r, or float64"
        )
    return out
