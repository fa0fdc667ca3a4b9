"""Differentiable weight sequences shared by the fractional methods.

All functions take the order ``alpha`` as a tensor (0-d, or already padded to the state's
number of dimensions for per-element orders) and return tensors of shape
``[L, *alpha.shape]`` built from torch operations only, so gradients flow to ``alpha``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["gamma", "gl_weights", "index", "safe_pow"]


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
    """Grünwald–Letnikov weights ``w_0 .. w_{length-1}``.

    ``w_0 = 1`` and ``w_j = w_{j-1} (1 - (alpha + 1) / j)``, i.e. ``(-1)^j binom(alpha, j)``.
    """
    j = index(length - 1, alpha, start=1)
    factors = 1.0 - (alpha + 1.0) / j
    ones = torch.ones((1, *alpha.shape), dtype=alpha.dtype, device=alpha.device)
    return torch.cat([ones, torch.cumprod(factors, dim=0)], dim=0)
