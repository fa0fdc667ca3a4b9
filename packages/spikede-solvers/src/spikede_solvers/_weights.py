"""Differentiable weight sequences shared by the fractional methods, in float64.

The orders ``alpha`` come as tensors (0-d, or padded to the state's number of dimensions
for per-element orders). Every function here works in float64, whatever the state's
dtype, and returns float64; the methods cast the finished weights to the state's dtype
once, so a float32 solve loses only the rounding of its weights. The differences of
powers are written without cancellation: ``(lo + step)^p - lo^p`` as
``lo^p expm1(p log1p(step / lo))``, and the product-trapezoidal moments, whose first
orders cancel too, by their power series where ``step / lo`` is small. Everything is
built from torch operations, so gradients flow to ``alpha`` (the cast to float64 is
differentiable).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "F64",
    "gamma",
    "gl_weights",
    "index",
    "pow_diff",
    "safe_pow",
    "trap_moments",
    "trap_series",
    "wide",
]

F64 = torch.float64
#: Below this ratio ``step / lo`` the trapezoidal moments use their power series.
_SERIES_BELOW = 1.0 / 32.0
#: Terms ``x^2 .. x^(1 + _SERIES_TERMS)`` of that series: the next term is below
#: ``32^-_SERIES_TERMS`` of the first, under float64 rounding.
_SERIES_TERMS = 11


def wide(x: Tensor) -> Tensor:
    """``x`` in float64 (a differentiable cast; no copy if it already is)."""
    return x.to(F64)


def index(length: int, alpha: Tensor, start: int = 0) -> Tensor:
    """Integers ``start .. start+length-1`` shaped ``[length, 1, ..., 1]`` to broadcast with alpha."""
    k = torch.arange(start, start + length, dtype=alpha.dtype, device=alpha.device)
    return k.reshape(length, *([1] * alpha.dim()))


def safe_pow(k: Tensor, p: Tensor) -> Tensor:
    """``k ** p`` for ``k >= 0`` with ``0 ** p = 0`` and finite gradients w.r.t. ``p``.

    ``p`` must be positive wherever ``k == 0`` is used (all callers satisfy this).
    """
    zero = k == 0
    base = torch.where(zero, torch.ones_like(k), k)
    val = base**p
    return torch.where(zero, torch.zeros_like(val), val)


def gamma(x: Tensor) -> Tensor:
    """Gamma function for positive ``x`` via ``exp(lgamma(x))`` (differentiable)."""
    return torch.exp(torch.lgamma(x))


def gl_weights(alpha: Tensor, length: int) -> Tensor:
    """Grünwald–Letnikov weights ``w_0 .. w_{length-1}``, in float64.

    ``w_0 = 1`` and ``w_j = w_{j-1} (1 - (alpha + 1) / j)``, i.e. ``(-1)^j binom(alpha, j)``.
    """
    a = wide(alpha)
    j = index(length - 1, a, start=1)
    factors = 1.0 - (a + 1.0) / j
    ones = torch.ones((1, *a.shape), dtype=F64, device=a.device)
    return torch.cat([ones, torch.cumprod(factors, dim=0)], dim=0)


def pow_diff(lo: Tensor, step: Tensor, p: Tensor) -> Tensor:
    """``(lo + step)^p - lo^p`` for ``lo >= 0``, ``step > 0``, ``p >= 0``, without cancellation.

    Computed as ``lo^p expm1(p log1p(step / lo))`` (``step^p`` where ``lo = 0``); all
    arguments broadcast and should be float64.
    """
    zero = lo == 0
    base = torch.where(zero, step, lo)
    general = base**p * torch.expm1(p * torch.log1p(step / base))
    return torch.where(zero, step**p, general)


def trap_series(a: Tensor) -> tuple[Tensor, ...]:
    """Power-series coefficients of the trapezoidal moments (see :func:`trap_moments`).

    Returns one ``[2, *a.shape]`` tensor per power, the highest first (Horner's order):
    the coefficients of ``x^(_SERIES_TERMS + 1), ..., x^2`` of ``S_left`` (index 0) and
    ``S_right`` (index 1), from ``binom(a, m)`` by recursion and
    ``binom(a + 1, m) = binom(a, m) + binom(a, m - 1)``.
    """
    a = wide(a)
    binom = [torch.ones_like(a)]
    for m in range(1, _SERIES_TERMS + 2):
        binom.append(binom[-1] * (a - (m - 1)) / m)
    left = [a * binom[m - 1] - binom[m] for m in range(2, _SERIES_TERMS + 2)]
    right = [binom[m] + binom[m - 1] for m in range(2, _SERIES_TERMS + 2)]
    return tuple(torch.stack(pair) for pair in reversed(list(zip(left, right))))


def trap_moments(
    lo: Tensor, step: Tensor, a: Tensor, series: tuple[Tensor, ...]
) -> tuple[Tensor, Tensor]:
    """Product-trapezoidal weights of one interval ``[s0, s1]`` for the end point ``T > s1``.

    With ``B = T - s1 = lo > 0``, ``tau = s1 - s0 = step > 0`` and ``A = B + tau``, the
    integral ``int_{s0}^{s1} (T - s)^(a-1) phi(s) ds / Gamma(a)`` of the hat function of
    the left node (``phi = (s1 - s) / tau``) and of the right node
    (``phi = (s - s0) / tau``) equal ``left / Gamma(a + 2)`` and ``right / Gamma(a + 2)``:

        left  = (a (A^(a+1) - B^(a+1)) - (a + 1) B (A^a - B^a)) / tau,
        right = ((a + 1) A (A^a - B^a) - a (A^(a+1) - B^(a+1))) / tau.

    With ``x = tau / B`` both are ``B^(a+1) / tau * S(x)``, where ``S_left = a E_{a+1} -
    (a + 1) E_a`` and ``S_right = E_{a+1} - (a + 1) x``, ``E_p = (1 + x)^p - 1``: their terms
    of order ``x`` cancel, so below ``x = 1/32`` the series
    ``S_left = sum_{m>=2} (a C(a, m-1) - C(a, m)) x^m`` and
    ``S_right = sum_{m>=2} C(a+1, m) x^m`` are used instead. (At ``B = 0``, which callers
    handle: ``left = a tau^a``, ``right = tau^a``.)

    Args:
        lo: ``B``, float64, shaped ``[L, 1, ..., 1]`` to broadcast with ``a``.
        step: ``tau``, float64, broadcasting with ``lo``.
        a: The order (float64).
        series: :func:`trap_series` of ``a``.

    Returns:
        ``(left, right)``, float64, ``[L, *a.shape]``.
    """
    x = step / lo
    small = x < _SERIES_BELOW
    ap = a + 1.0
    # Direct form (accurate for x >= 1/32: it loses at most a few digits of float64).
    xd = torch.where(small, 1.0, x)
    lg = torch.log1p(xd)
    e1, e0 = torch.expm1(ap * lg), torch.expm1(a * lg)
    direct = torch.stack(torch.broadcast_tensors(a * e1 - ap * e0, e1 - ap * xd), dim=1)
    # Series form for small x (Horner, both moments at once).
    xs = torch.where(small, x, 0.0).unsqueeze(1)
    acc = torch.addcmul(series[1], series[0], xs)
    for c in series[2:]:
        acc = torch.addcmul(c, acc, xs)
    both = torch.where(small.unsqueeze(1), xs * xs * acc, direct) * (lo**ap / step).unsqueeze(1)
    return both[:, 0], both[:, 1]
