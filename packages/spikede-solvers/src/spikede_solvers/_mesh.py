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

from spikede_solvers._weights import F64, gamma, pow_diff, trap_moments, trap_series, wide

__all__ = ["Mesh"]


class _Order:
    """An order in float64 and what its weight rows need from it, computed once."""

    def __init__(self, a: Tensor) -> None:
        self.a = wide(a)
        self.dims = a.dim()
        self.gamma1 = gamma(self.a + 1.0)
        self.gamma2 = gamma(self.a + 2.0)
        self.gamma_l1 = gamma(2.0 - self.a)
        self.series: tuple[Tensor, ...] | None = None


class Mesh:
    """A strictly increasing grid in float64, with the weight rows of the methods.

    Args:
        t: The time grid ``[N + 1]`` (any floating dtype; its values are used as given).
        device: Where the weights are needed (the state's device).
    """

    def __init__(self, t: Tensor, device: torch.device) -> None:
        self.t = t.detach().to(device=device, dtype=F64)
        self.tau = self.t[1:] - self.t[:-1]  # tau[k - 1] = t_k - t_{k-1}
        self.steps = self.tau.tolist()
        self._orders: dict[int, _Order] = {}

    def _order(self, a: Tensor) -> _Order:
        # Keyed by identity: the orders live as long as the solve (the Problem holds them).
        key = id(a)
        if key not in self._orders:
            self._orders[key] = _Order(a)
        return self._orders[key]

    def ratio(self, n: int) -> float:
        """``tau_{n+1} / tau_n``: the step of the linear extrapolation from ``t_n``."""
        return self.steps[n] / self.steps[n - 1]

    def _lags(self, n: int, first: int, last: int, order: _Order) -> tuple[Tensor, Tensor]:
        """``T - t_k`` and ``tau_k`` for ``k = first .. last`` (columns that broadcast with
        the order)."""
        shape = (last + 1 - first, *([1] * order.dims))
        lo = self.t[n + 1] - self.t[first : last + 1]
        return lo.reshape(shape), self.tau[first - 1 : last].reshape(shape)

    def step_power(self, n: int, a: Tensor) -> Tensor:
        """``tau_{n+1}^a`` (float64)."""
        return self.tau[n] ** self._order(a).a

    def pred_row(self, n: int, start: int, a: Tensor) -> Tensor:
        """Weights of ``f_start .. f_n`` in ``y_{n+1} - y_0``."""
        order = self._order(a)
        lo, step = self._lags(n, start + 1, n + 1, order)  # [t_j, t_{j+1}], j = start .. n
        return pow_diff(lo, step, order.a) / order.gamma1

    def l1_row(self, n: int, start: int, a: Tensor) -> Tensor:
        """Weights of the increments ``y_start - y_{start-1} .. y_n - y_{n-1}`` (``start >= 1``)."""
        order = self._order(a)
        lo, step = self._lags(n, start, n, order)  # [t_{k-1}, t_k], k = start .. n
        return self.step_power(n, a) * pow_diff(lo, step, 1.0 - order.a) / step

    def l1_scale(self, n: int, a: Tensor) -> Tensor:
        """``Gamma(2 - a) tau_{n+1}^a``: the weight of ``f_{n+1}`` in ``l1``."""
        return self._order(a).gamma_l1 * self.step_power(n, a)

    def trap_scale(self, n: int, a: Tensor) -> Tensor:
        """``tau_{n+1}^a / Gamma(a + 2)``: the weight of ``f_{n+1}`` in ``trap``."""
        return self.step_power(n, a) / self._order(a).gamma2

    def trap_row(self, n: int, start: int, a: Tensor) -> Tensor:
        """Weights of ``f_start .. f_n`` in ``y_{n+1} - y_0``."""
        order = self._order(a)
        if order.series is None:
            order.series = trap_series(order.a)
        first = max(start, 1)
        power = self.step_power(n, a).unsqueeze(0)
        if first <= n:  # intervals i = first .. n (the last one, i = n + 1, ends at T)
            lo, step = self._lags(n, first, n, order)
            left, right = trap_moments(lo, step, order.a, order.series)
            left = torch.cat([left, order.a * power])
        else:
            left = right = order.a * power
        # Node j is the left node of interval j + 1 and (j >= 1) the right node of interval j.
        weights = left[start + 1 - first :]
        if first <= n:
            inner = (
                right if start >= 1 else torch.cat([right.new_zeros((1, *right.shape[1:])), right])
            )
            weights = weights + inner
        return weights / order.gamma2
