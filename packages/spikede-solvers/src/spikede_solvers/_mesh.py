"""Product-integration weights on a non-uniform grid ``t_0 < t_1 < ... < t_N``.

On a uniform grid the weights of ``pred``, ``l1`` and ``trap`` depend on the lag only
(one Toeplitz sequence per solve); on any other grid the weight of row ``j`` at step
``n`` depends on both, so :class:`Mesh` computes the row of weights each step needs,
over the rows ``start .. n`` it sums, from the actual steps ``tau_k = t_k - t_{k-1}``.
Everything is float64 (see :mod:`spikede_solvers._weights`) and the callers cast. On a
uniform grid every row equals the uniform method's weights up to rounding.

With ``T = t_{n+1}`` and the order ``a``:

* ``pred`` (rectangle rule): ``f_j`` has weight
  ``((T - t_j)^a - (T - t_{j+1})^a) / Gamma(a + 1)``.
* ``l1``: the increment ``y_k - y_{k-1}`` has weight
  ``tau_{n+1}^a ((T - t_{k-1})^(1-a) - (T - t_k)^(1-a)) / tau_k`` and ``f_{n+1}`` the
  weight ``Gamma(2 - a) tau_{n+1}^a`` (the equation multiplied by ``Gamma(2-a) tau_{n+1}^a``).
* ``trap`` (trapezoidal rule on the hat functions): ``f_j`` has weight
  ``(left_{j+1} + right_j) / Gamma(a + 2)`` (:func:`~spikede_solvers._weights.trap_moments`
  of the intervals after and before ``t_j``) and ``f_{n+1}`` has ``tau_{n+1}^a / Gamma(a + 2)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikede_solvers._weights import F64, gamma, pow_diff, trap_moments, wide

__all__ = ["Mesh"]


class Mesh:
    """A strictly increasing grid in float64, with the weight rows of the methods.

    Args:
        t: The time grid ``[N + 1]`` (any floating dtype; its values are used as given).
    """

    def __init__(self, t: Tensor) -> None:
        self.t = t.detach().to(F64)
        self.tau = self.t[1:] - self.t[:-1]  # tau[k - 1] = t_k - t_{k-1}
        self.steps = self.tau.tolist()

    def ratio(self, n: int) -> float:
        """``tau_{n+1} / tau_n``: the step of the linear extrapolation from ``t_n``."""
        return self.steps[n] / self.steps[n - 1]

    def _column(self, x: Tensor, a: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *([1] * a.dim()))

    def _lags(self, n: int, first: int, a: Tensor) -> tuple[Tensor, Tensor]:
        """``T - t_k`` and ``tau_k`` for ``k = first .. n + 1`` (as columns)."""
        lo = self.t[n + 1] - self.t[first : n + 2]
        return self._column(lo, a), self._column(self.tau[first - 1 : n + 1], a)

    def step_power(self, n: int, a: Tensor) -> Tensor:
        """``tau_{n+1}^a`` (float64)."""
        return self.tau[n] ** wide(a)

    def pred_row(self, n: int, start: int, a: Tensor) -> Tensor:
        """Weights of ``f_start .. f_n`` in ``y_{n+1} - y_0``."""
        a = wide(a)
        lo, step = self._lags(n, start + 1, a)  # interval [t_j, t_{j+1}] for j = start .. n
        return pow_diff(lo, step, a) / gamma(a + 1.0)

    def l1_row(self, n: int, start: int, a: Tensor) -> Tensor:
        """Weights of the increments ``y_start - y_{start-1} .. y_n - y_{n-1}`` (``start >= 1``)."""
        a = wide(a)
        lo, step = self._lags(n, start, a)
        lo, step = lo[:-1], step[:-1]  # intervals [t_{k-1}, t_k] for k = start .. n
        return self.step_power(n, a) * pow_diff(lo, step, 1.0 - a) / step

    def trap_row(self, n: int, start: int, a: Tensor) -> Tensor:
        """Weights of ``f_start .. f_n`` in ``y_{n+1} - y_0``."""
        a = wide(a)
        first = max(start, 1)
        lo, step = self._lags(n, first, a)  # intervals i = first .. n + 1
        left, right = trap_moments(lo, step, a)
        weights = left[start + 1 - first :]  # node j is the left node of interval j + 1
        inner = right[:-1]  # node j >= 1 is the right node of interval j
        if start == 0:
            inner = torch.cat([right.new_zeros((1, *right.shape[1:])), inner])
        return (weights + inner) / gamma(a + 2.0)
