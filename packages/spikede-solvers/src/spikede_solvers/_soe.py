"""Sum-of-exponentials (SOE) approximation of the tail of a history kernel.

Every fractional method sums ``sum_l c_l u_{n-l}`` over the whole past, where the
kernel ``c_l`` decays like a power of the lag ``l`` (``l^{-1-a}`` for ``gl``,
``l^{a-1}`` for ``pred``/``trap``, ``l^{-a}`` for ``l1``). A power law is a continuous
mixture of exponentials, ``l^{-b} = Gamma(b)^{-1} int_0^inf s^{b-1} e^{-s l} ds``, so on a
finite range of lags it is approximated very well by a few exponentials with log-spaced
rates. The history option ``"soe"`` keeps the most recent ``window`` lags exact and
replaces the tail ``l >= window`` by

    c_{window + m} ~= sum_k b_k exp(-s_k m),   m = 0 .. L - window - 1,

with fixed rates ``s_0 = 0 < s_1 < ... < s_K`` (log-spaced from ``0.1 / (L - window)``
to 1) and amplitudes ``b`` from a least-squares fit of the *exact* method coefficients
(weights growing linearly with the lag, truncated thin SVD in float64) to the decays
``exp(-s_k)`` as the state's dtype holds them. The fit is a fixed linear map
of the coefficients, ``b = P c_tail``, so gradients reach the orders through ``c_tail``.
Each step then updates ``K + 1`` running sums ``H_k <- exp(-s_k) H_k + u`` instead of
summing over all ``n`` past rows: the cost per step no longer grows with ``n``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["SoeTail", "fit_soe_tail"]

#: Defaults of ``options={"history": "soe"}``: exponentials and exact lags.
DEFAULT_TERMS = 24
DEFAULT_WINDOW = 16
WEIGHT_POWER = 1.0
RCOND = 1e-8


@dataclass
class SoeTail:
    """A fitted tail: ``c_{window + m} ~= sum_k amplitudes[k] * decays[k] ** m``.

    Attributes:
        window: Number of most recent lags kept exact.
        decays: ``exp(-s_k)``, shape ``[K + 1, 1, ..., 1]`` (broadcasts over a state row).
        amplitudes: ``b_k``, shape ``[K + 1, *order_shape]`` (differentiable in the orders).
    """

    window: int
    decays: Tensor
    amplitudes: Tensor


def fit_soe_tail(coef_by_lag: Tensor, window: int, terms: int, state_dim: int) -> SoeTail | None:
    """Fit the lags ``>= window`` of ``coef_by_lag`` (shape ``[L, *order_shape]``).

    Args:
        coef_by_lag: The exact coefficients, lag 0 first.
        window: Lags kept exact.
        terms: Number of decaying exponentials (a constant term is added).
        state_dim: Number of dimensions of one state row (for the decays' shape).

    Returns:
        The fitted tail, or ``None`` when there are no lags beyond the window.
    """
    length = coef_by_lag.shape[0]
    m_count = length - window
    if m_count <= 0:
        return None
    dtype, device = coef_by_lag.dtype, coef_by_lag.device
    f64 = torch.float64
    tail = coef_by_lag[window:]
    m = torch.arange(m_count, dtype=f64, device=device)
    rates = torch.logspace(math.log10(0.1 / m_count), 0.0, terms, dtype=f64, device=device)
    rates = torch.cat([rates.new_zeros(1), rates])
    # The running sums decay by exp(-s_k) rounded to the state's dtype. Below float64 the
    # fit uses the rates of those rounded decays: their error would otherwise compound
    # over the lags (in float32 to about 1e-3 of the slowest term after 20000 steps).
    decays = torch.exp(-rates).to(dtype)
    if dtype != f64:
        rates = -torch.log(decays.to(f64))
    basis = torch.exp(-rates[None, :] * m[:, None])  # [M, K + 1]
    # Weights grow with the lag so that the small, far coefficients are fitted to a
    # similar relative accuracy; they do not depend on the orders, so the fit is an
    # order-independent linear map and its gradient is exact.
    weights = ((window + m) / window) ** WEIGHT_POWER
    a = weights[:, None] * basis
    u, s, vh = torch.linalg.svd(a, full_matrices=False)
    # Truncating the SVD at 1e-8 keeps the amplitudes small (no cancellation between
    # terms, so float32 states lose no accuracy) at no visible cost in the fit.
    cutoff = s[0] * RCOND
    s_inv = torch.where(s > cutoff, 1.0 / s, torch.zeros_like(s))
    proj = (vh.mT * s_inv[None, :]) @ u.mT * weights[None, :]  # [K + 1, M]
    amplitudes = torch.tensordot(proj, tail.to(f64), dims=1).to(dtype)
    return SoeTail(window, decays.reshape(-1, *([1] * state_dim)), amplitudes)
