"""Sum-of-exponentials (SOE) approximation of the tail of a history kernel.

Every fractional method sums ``sum_l c_l u_{n-l}`` over the whole past, where the
kernel ``c_l`` decays like a power of the lag ``l`` (``l^{-1-a}`` for ``gl``,
``l^{a-1}`` for ``pred``/``trap``, ``l^{-a}`` for ``l1``). A power law is a continuous
mixture of exponentials, ``l^{-b} = Gamma(b)^{-1} int_0^inf s^{b-1} e^{-s l} ds``, so on a
finite range of lags it is approximated very well by a few exponentials with log-spaced
rates. The history option ``"soe"`` keeps the most recent ``window`` lags exact and
replaces the tail ``l >= window`` by

    c_{window + m} ~= sum_k b_k exp(-s_k m),   m = 0 .. M - 1  (M = L - window),

with fixed rates ``s_0 = 0 < s_1 < ... < s_K`` (log-spaced from ``0.5 / M`` to
``max(1, 12 / window)``) and
amplitudes ``b`` from a least-squares fit of the *exact* method coefficients (weights
growing linearly with the lag, truncated thin SVD in float64) to the decays
``exp(-s_k)`` as the state's dtype holds them. The fit is a fixed linear map of the
coefficients, ``b = P c_tail``, so gradients reach the orders through ``c_tail``. Each
step then updates ``K + 1`` running sums ``H_k <- exp(-s_k) H_k + u`` instead of summing
over all ``n`` past rows: the cost per step no longer grows with ``n``.

**Error and the number of terms.** The error of a step's history sum is bounded by the
kernel's: ``|sum_m (b(m) - c_{window+m}) u_{n-window-m}| <= E * sum_l |c_l| * max |u|``
with the relative l1 error

    E(K) = sum_m |sum_k b_k exp(-s_k m) - c_{window+m}| / sum_l |c_l|,

which :func:`fit_soe_tail` computes exactly (float64, against the exact coefficients).
A priori, with ``t = log s``, the tail is the integral over ``t`` of
``e^{b t} exp(-e^t (window + m))``, analytic in a strip of half-width ``pi / 2``;
log-spaced nodes with spacing ``log(M) / K`` on the ``M``-decade range integrate it to
``~ exp(-pi^2 K / log M)`` (the trapezoid rule on a strip), and the rates outside
``[0.5 / M, 12 / window]`` cost ``exp(-window)`` (fast ones) or are absorbed by the constant term
(slow ones). So ``K ~ log(1/tol) log(M) / pi^2`` terms meet a tolerance ``tol``: the
least-squares fit needs about 1.2 times that (15 to 18 terms for ``tol = 1e-8`` at
``M = 1000``, 20 to 24 at ``M = 16000``, for every order in ``(0, 1)``). With
``options={"soe_tol": tol}`` (default :data:`DEFAULT_TOL`) the smallest ``K`` whose
measured ``E(K) <= tol`` is used; ``soe_terms`` fixes ``K`` instead.
"""

from __future__ import annotations

import functools
import hashlib
import math
import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["SoeTail", "estimated_terms", "fit_soe_tail", "kernel_error"]

#: Default of ``options={"history": "soe"}``: the relative l1 error of the kernel
#: (below float32's rounding, so a float32 state sees the exact kernel's result).
DEFAULT_TOL = 1e-8
#: Default number of most recent lags summed exactly.
DEFAULT_WINDOW = 8
#: Fewest and most exponentials the tolerance search tries.
MIN_TERMS, MAX_TERMS = 2, 48
WEIGHT_POWER = 1.0
RCOND = 1e-8
RCOND_F64 = 1e-12
#: The slowest decaying rate is SLOWEST / M: a little below 1 / M, so that a continued
#: solve that reuses the tail beyond its M lags stays accurate (twice as far to 1e-4).
SLOWEST = 0.5
F64 = torch.float64


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


def fastest_rate(window: int) -> float:
    """The largest rate ``s_K``: the tail starts at lag ``window``, where the kernel's
    Laplace density ``s^(b-1) e^(-s window)`` has fallen off beyond ``s ~ 12 / window``
    (from 1e-8 at ``window = 16``; a faster rate is not needed below that)."""
    return max(1.0, 12.0 / window)


def _rates(
    m_count: int, window: int, terms: int, dtype: torch.dtype, device: torch.device
) -> tuple[Tensor, Tensor]:
    """The decays in ``dtype`` and the float64 rates of those decays (``s_0 = 0`` first)."""
    top = math.log10(fastest_rate(window))
    rates = torch.logspace(math.log10(SLOWEST / m_count), top, terms, dtype=F64, device=device)
    rates = torch.cat([rates.new_zeros(1), rates])
    # The running sums decay by exp(-s_k) rounded to the state's dtype. Below float64 the
    # fit uses the rates of those rounded decays: their error would otherwise compound
    # over the lags (in float32 to about 1e-3 of the slowest term after 20000 steps).
    decays = torch.exp(-rates).to(dtype)
    if dtype != F64:
        rates = -torch.log(decays.to(F64))
    return decays, rates


def _basis(rates: Tensor, m_count: int) -> Tensor:
    """``exp(-s_k m)``, ``[M, K + 1]``, float64."""
    m = torch.arange(m_count, dtype=F64, device=rates.device)
    return torch.exp(-rates[None, :] * m[:, None])


@functools.lru_cache(maxsize=8)
def _fit_map(
    m_count: int, window: int, terms: int, dtype: torch.dtype, device: torch.device
) -> tuple[Tensor, Tensor]:
    """``(decays, proj)`` of a fit: the decays in ``dtype`` and the least-squares map
    ``[K + 1, M]`` (float64) from the tail coefficients to the amplitudes.

    They depend on the sizes only, so a solve repeated on the same grid reuses them
    instead of running an SVD per call.
    """
    decays, rates = _rates(m_count, window, terms, dtype, device)
    basis = _basis(rates, m_count)
    m = torch.arange(m_count, dtype=F64, device=device)
    # Weights grow with the lag so that the small, far coefficients are fitted to a
    # similar relative accuracy; they do not depend on the orders, so the fit is an
    # order-independent linear map and its gradient is exact.
    weights = ((window + m) / window) ** WEIGHT_POWER
    u, s, vh = torch.linalg.svd(weights[:, None] * basis, full_matrices=False)
    # Truncating the SVD keeps the amplitudes small (no cancellation between terms, so
    # float32 states lose no accuracy); float64 states afford a finer cut, which the
    # tolerances below 1e-8 with many terms need (at 1e-8 the fit's error stalls).
    rcond = RCOND_F64 if dtype == F64 else RCOND
    s_inv = torch.where(s > s[0] * rcond, 1.0 / s, torch.zeros_like(s))
    proj = (vh.mT * s_inv[None, :]) @ u.mT * weights[None, :]
    return decays, proj


def _amplitudes(coef_by_lag: Tensor, window: int, terms: int) -> tuple[Tensor, Tensor]:
    """Decays and float64 amplitudes (differentiable in the coefficients) of ``terms``."""
    decays, proj = _fit_map(
        coef_by_lag.shape[0] - window, window, terms, coef_by_lag.dtype, coef_by_lag.device
    )
    return decays, torch.tensordot(proj, coef_by_lag[window:].to(F64), dims=1)


def _error(c64: Tensor, window: int, decays: Tensor, amplitudes: Tensor) -> float:
    rates = -torch.log(decays.reshape(-1).to(F64))
    approx = torch.tensordot(_basis(rates, c64.shape[0] - window), amplitudes.to(F64), dims=1)
    err = (approx - c64[window:]).abs().sum(0) / c64.abs().sum(0).clamp_min(1e-300)
    return float(err.max())


def kernel_error(coef_by_lag: Tensor, tail: SoeTail) -> float:
    """The relative l1 error ``E`` of a fitted kernel (see the module doc), in float64.

    Args:
        coef_by_lag: The exact coefficients ``[L, *order_shape]``, lag 0 first.
        tail: Its fit.

    Returns:
        The largest over the orders of ``sum_m |fit_m - c_{window+m}| / sum_l |c_l|``.
    """
    c64 = coef_by_lag.detach().to(F64)
    return _error(c64, tail.window, tail.decays, tail.amplitudes.detach())


def estimated_terms(m_count: int, tol: float) -> int:
    """The a-priori number of terms for ``tol`` over ``m_count`` tail lags (module doc)."""
    return math.ceil(1.2 * math.log(1.0 / tol) * math.log(max(m_count, 2)) / math.pi**2)


#: The chosen number of terms per (coefficients, window, tolerance): a solve repeated
#: with the same orders and grid skips the search.
_CHOSEN: dict[tuple, int] = {}
_CHOSEN_MAX = 256


def _choose_terms(coef_by_lag: Tensor, window: int, tol: float) -> int:
    """The fewest terms whose kernel error is at most ``tol`` (raised to the dtype's
    machine epsilon: a float32 state rounds every step by more than that)."""
    c = coef_by_lag.detach()
    tol = max(tol, float(torch.finfo(c.dtype).eps))
    c64 = c.to(F64)
    digest = hashlib.blake2b(c64.cpu().numpy().tobytes(), digest_size=16).digest()
    key = (digest, tuple(c.shape), window, tol, c.dtype, str(c.device))
    if key in _CHOSEN:
        return _CHOSEN[key]

    def error(terms: int) -> float:
        return _error(c64, window, *_amplitudes(c, window, terms))

    # Start at the a-priori estimate and walk to the fewest terms that meet tol. The
    # error falls with K (geometrically) but not strictly (the SVD truncation can stall
    # a K), so the walk stops at the first K that fails below one that meets.
    terms = min(max(estimated_terms(c.shape[0] - window, tol), MIN_TERMS), MAX_TERMS)
    err = error(terms)
    if err <= tol:
        while terms > MIN_TERMS and error(terms - 1) <= tol:
            terms -= 1
    else:
        best, best_err = terms, err
        while err > tol and terms < MAX_TERMS:
            terms += 1
            err = error(terms)
            if err < best_err:
                best, best_err = terms, err
        if err > tol:
            warnings.warn(
                f"options['soe_tol']={tol:g} is not reached with up to {MAX_TERMS} "
                f"exponentials (the best, {best} terms, gives a relative kernel error of "
                f"{best_err:.1e}); using {best} terms. A larger options['soe_window'] or "
                "soe_tol reaches it.",
                RuntimeWarning,
                stacklevel=4,
            )
            terms = best
    if len(_CHOSEN) >= _CHOSEN_MAX:
        _CHOSEN.clear()
    _CHOSEN[key] = terms
    return terms


def fit_soe_tail(
    coef_by_lag: Tensor,
    window: int,
    terms: int | None,
    state_dim: int,
    tol: float = DEFAULT_TOL,
) -> SoeTail | None:
    """Fit the lags ``>= window`` of ``coef_by_lag`` (shape ``[L, *order_shape]``).

    Args:
        coef_by_lag: The exact coefficients, lag 0 first.
        window: Lags kept exact.
        terms: Number of decaying exponentials (a constant term is added); ``None``
            chooses the fewest whose relative l1 kernel error is at most ``tol``.
        state_dim: Number of dimensions of one state row (for the decays' shape).
        tol: The error the choice of ``terms`` meets (see the module doc).

    Returns:
        The fitted tail, or ``None`` when there are no lags beyond the window.
    """
    if coef_by_lag.shape[0] - window <= 0:
        return None
    if terms is None:
        terms = _choose_terms(coef_by_lag, window, tol)
    decays, amplitudes = _amplitudes(coef_by_lag, window, terms)
    return SoeTail(window, decays.reshape(-1, *([1] * state_dim)), amplitudes.to(coef_by_lag.dtype))
