"""Step-size control of the adaptive methods: error norm, PI controller, first step.

Everything here runs without autograd on detached values: a step size is a Python
number chosen from the solution, and the gradient of the solve is that of the steps
taken (the step sizes are constants of the computation graph).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["PIController", "error_norm", "initial_step"]


def error_norm(
    err: Sequence[Tensor],
    y_old: Sequence[Tensor],
    y_new: Sequence[Tensor],
    rtol: Sequence[float],
    atol: Sequence[float],
) -> float:
    """The mixed RMS norm of a local error estimate over every element of every component.

    Element ``i`` of component ``k`` is weighted by
    ``1 / (atol_k + rtol_k max(|y_old_i|, |y_new_i|))``; the result is the root mean square
    of the weighted errors over all elements of all components (one host sync).
    """
    with torch.no_grad():
        sums = []
        count = 0
        for e, y0, y1, r, a in zip(err, y_old, y_new, rtol, atol):
            scale = torch.maximum(y0.detach().abs(), y1.detach().abs()).mul_(r).add_(a)
            sums.append(torch.linalg.vector_norm(e.detach() / scale).square().to(torch.float64))
            count += e.numel()
        total = sums[0] if len(sums) == 1 else torch.stack(sums).sum()
        return math.sqrt(float(total) / max(count, 1))


def _rms(values: Sequence[Tensor], scales: Sequence[Tensor]) -> float:
    total = sum(float(torch.linalg.vector_norm(v / s).square()) for v, s in zip(values, scales))
    count = sum(v.numel() for v in values)
    return math.sqrt(total / max(count, 1))


def initial_step(
    field: Callable[[float, tuple[Tensor, ...]], tuple[Tensor, ...]],
    t0: float,
    y0: tuple[Tensor, ...],
    f0: tuple[Tensor, ...],
    error_order: int,
    rtol: Sequence[float],
    atol: Sequence[float],
    span: float,
) -> float:
    """Hairer–Wanner starting step (*Solving ODEs I*, II.4): one extra evaluation of ``field``.

    With ``d0 = ||y0||``, ``d1 = ||f0||`` (weights ``atol + rtol |y0|``), a trial
    ``h0 = 0.01 d0 / d1`` and ``d2 = ||f(t0 + h0, y0 + h0 f0) - f0|| / h0``, the step is
    ``min(100 h0, (0.01 / max(d1, d2))^(1 / (error_order + 1)), span)``.
    """
    with torch.no_grad():
        y0 = tuple(y.detach() for y in y0)
        f0 = tuple(f.detach() for f in f0)
        scales = [y.abs().mul(r).add_(a) for y, r, a in zip(y0, rtol, atol)]
        d0, d1 = _rms(y0, scales), _rms(f0, scales)
        h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        h0 = min(h0, span)
        f1 = field(t0 + h0, tuple(torch.add(y, f, alpha=h0) for y, f in zip(y0, f0)))
        d2 = _rms([b.detach() - a for a, b in zip(f0, f1)], scales) / h0
        top = max(d1, d2)
        if not math.isfinite(top):
            return min(h0, span)
        h1 = max(1e-6, h0 * 1e-3) if top <= 1e-15 else (0.01 / top) ** (1.0 / (error_order + 1))
        return min(100.0 * h0, h1, span)


@dataclass
class PIController:
    """Proportional–integral step-size controller (Gustafsson; Hairer–Wanner II.4).

    An accepted step with error norm ``err <= 1`` (previous accepted ``err_prev``)
    scales the step by ``safety * err^(-alpha) * err_prev^beta`` with
    ``alpha = 1/k - 0.75 beta``, ``k = error_order + 1``; a rejected one by
    ``safety * err^(-1/k)``. Factors are clipped to ``[min_factor, max_factor]``, and the
    step does not grow right after a rejection.
    """

    error_order: int
    safety: float = 0.9
    min_factor: float = 0.2
    max_factor: float = 10.0
    beta: float | None = None

    def __post_init__(self) -> None:
        k = self.error_order + 1
        if self.beta is None:
            self.beta = 0.2 / k
        self._alpha = 1.0 / k - 0.75 * self.beta
        self._inv_k = 1.0 / k
        self._err_prev = 1e-4
        self._rejected = False

    def accept(self, err: float) -> float:
        """Factor for the next step after accepting a step of error norm ``err``."""
        if err == 0.0:
            factor = self.max_factor
        else:
            factor = self.safety * err ** (-self._alpha) * self._err_prev**self.beta
        factor = min(self.max_factor, max(self.min_factor, factor))
        if self._rejected:
            factor = min(factor, 1.0)
        self._err_prev = max(err, 1e-4)
        self._rejected = False
        return factor

    def reject(self, err: float) -> float:
        """Factor for retrying a step whose error norm ``err`` exceeds 1 (or is not finite)."""
        self._rejected = True
        if not math.isfinite(err):
            return self.min_factor
        return min(1.0, max(self.min_factor, self.safety * err ** (-self._inv_k)))
