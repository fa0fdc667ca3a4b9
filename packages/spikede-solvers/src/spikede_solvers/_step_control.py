"""Step-size control of the adaptive methods: error norm, PI controller, first step.

Everything here runs without autograd on detached values: a step size is a number chosen
from the solution, and the gradient of the solve is that of the steps taken (the step
sizes are constants of the computation graph). Each function works on *rows*: the state
components carry a leading dimension of ``R`` independent systems (``R = 1`` for one
system; :func:`~spikede_solvers.odeint_events` with ``batched=True`` steps every sample
of a batch on its own), and every norm, step size and controller state is one per row.
The scalar forms used by :func:`~spikede_solvers.odeint` are these with one row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

__all__ = ["PIController", "error_norm", "initial_step", "initial_step_rows", "row_error_norm"]

F64 = torch.float64


def _row_rms(values: Sequence[Tensor], scales: Sequence[Tensor]) -> Tensor:
    """Root mean square of ``values / scales`` over each row's elements of every component."""
    total = None
    count = 0
    for v, s in zip(values, scales):
        part = (v.detach() / s).square().reshape(v.shape[0], -1).sum(1).to(F64)
        total = part if total is None else total + part
        count += v[0].numel()
    return (total / max(count, 1)).sqrt()


def row_error_norm(
    err: Sequence[Tensor],
    y_old: Sequence[Tensor],
    y_new: Sequence[Tensor],
    rtol: Sequence[float],
    atol: Sequence[float],
) -> Tensor:
    """The mixed RMS norm of a local error estimate, one value per row (float64 ``[R]``).

    Element ``i`` of component ``k`` is weighted by
    ``1 / (atol_k + rtol_k max(|y_old_i|, |y_new_i|))``; a row's norm is the root mean
    square of its weighted errors over all its elements of all components.
    """
    with torch.no_grad():
        scales = [
            torch.maximum(a.detach().abs(), b.detach().abs()).mul_(r).add_(t)
            for a, b, r, t in zip(y_old, y_new, rtol, atol)
        ]
        return _row_rms(err, scales)


def error_norm(
    err: Sequence[Tensor],
    y_old: Sequence[Tensor],
    y_new: Sequence[Tensor],
    rtol: Sequence[float],
    atol: Sequence[float],
) -> float:
    """:func:`row_error_norm` of one system (every element of every component): a float."""
    one = [[v.reshape(1, -1) for v in c] for c in (err, y_old, y_new)]
    return float(row_error_norm(*one, rtol, atol)[0])


def initial_step_rows(
    field: Callable[[Tensor, tuple[Tensor, ...]], tuple[Tensor, ...]],
    t0: Tensor,
    y0: tuple[Tensor, ...],
    f0: tuple[Tensor, ...],
    error_order: int,
    rtol: Sequence[float],
    atol: Sequence[float],
    span: Tensor,
) -> Tensor:
    """Hairer–Wanner starting step (*Solving ODEs I*, II.4) of each row: one evaluation.

    With ``d0 = ||y0||``, ``d1 = ||f0||`` (weights ``atol + rtol |y0|``), a trial
    ``h0 = 0.01 d0 / d1`` and ``d2 = ||f(t0 + h0, y0 + h0 f0) - f0|| / h0``, the step is
    ``min(100 h0, (0.01 / max(d1, d2))^(1 / (error_order + 1)), span)``; ``t0`` and
    ``span`` are float64 ``[R]``, and so is the result.
    """
    with torch.no_grad():
        y0 = tuple(y.detach() for y in y0)
        f0 = tuple(f.detach() for f in f0)
        scales = [y.abs().mul(r).add_(a) for y, r, a in zip(y0, rtol, atol)]
        d0, d1 = _row_rms(y0, scales), _row_rms(f0, scales)
        h0 = torch.where((d0 < 1e-5) | (d1 < 1e-5), torch.full_like(d0, 1e-6), 0.01 * d0 / d1)
        h0 = torch.minimum(h0, span)
        f1 = field(t0 + h0, tuple(y + _column(h0, y) * f for y, f in zip(y0, f0)))
        d2 = _row_rms([b.detach() - a for a, b in zip(f0, f1)], scales) / h0
        top = torch.maximum(d1, d2)
        h1 = torch.where(
            top <= 1e-15, torch.clamp_min(h0 * 1e-3, 1e-6), (0.01 / top) ** (1.0 / (error_order + 1))
        )
        step = torch.minimum(torch.minimum(100.0 * h0, h1), span)
        return torch.where(torch.isfinite(top), step, torch.minimum(h0, span))


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
    """:func:`initial_step_rows` of one system at a float time: a float."""

    def one_row(t: Tensor, y: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        out = field(float(t[0]), tuple(v[0] for v in y))
        return tuple(v.unsqueeze(0) for v in out)

    t = torch.tensor([t0], dtype=F64)
    rows = tuple(v.unsqueeze(0) for v in y0)
    frows = tuple(v.unsqueeze(0) for v in f0)
    return float(initial_step_rows(one_row, t, rows, frows, error_order, rtol, atol, torch.tensor([span], dtype=F64))[0])


def _column(values: Tensor, like: Tensor) -> Tensor:
    """``values [R]`` shaped to broadcast over ``like [R, ...]``, in ``like``'s dtype."""
    return values.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


class PIController:
    """Proportional–integral step-size controller (Gustafsson; Hairer–Wanner II.4), per row.

    An accepted step with error norm ``err <= 1`` (previous accepted ``err_prev``)
    scales the step by ``safety * err^(-alpha) * err_prev^beta`` with
    ``alpha = 1/k - 0.75 beta``, ``k = error_order + 1``; a rejected one by
    ``safety * err^(-1/k)``. Factors are clipped to ``[min_factor, max_factor]``, and the
    step does not grow right after a rejection. :meth:`factors` updates ``rows``
    controllers at once; :meth:`accept` and :meth:`reject` are the one-row forms.
    """

    def __init__(
        self,
        error_order: int,
        safety: float = 0.9,
        min_factor: float = 0.2,
        max_factor: float = 10.0,
        beta: float | None = None,
        rows: int = 1,
    ) -> None:
        k = error_order + 1
        self.safety, self.min_factor, self.max_factor = safety, min_factor, max_factor
        self.beta = 0.2 / k if beta is None else beta
        self._alpha = 1.0 / k - 0.75 * self.beta
        self._inv_k = 1.0 / k
        self._err_prev = torch.full((rows,), 1e-4, dtype=F64)
        self._rejected = torch.zeros(rows, dtype=torch.bool)

    def factors(self, err: Tensor, accepted: Tensor) -> Tensor:
        """Step factors ``[R]`` after rows with error norms ``err`` were accepted or not.

        ``accepted`` rows use the accepting rule and update their controller's memory;
        the others the rejecting rule (a non-finite ``err`` gives ``min_factor``).
        """
        err = err.to(F64)
        grow = self.safety * err.pow(-self._alpha) * self._err_prev.pow(self.beta)
        grow = torch.where(err == 0.0, torch.full_like(err, self.max_factor), grow)
        grow = grow.clamp(self.min_factor, self.max_factor)
        grow = torch.where(self._rejected, grow.clamp_max(1.0), grow)
        shrink = (self.safety * err.pow(-self._inv_k)).clamp(self.min_factor, 1.0)
        shrink = torch.where(torch.isfinite(err), shrink, torch.full_like(err, self.min_factor))
        self._err_prev = torch.where(accepted, err.clamp_min(1e-4), self._err_prev)
        self._rejected = ~accepted
        return torch.where(accepted, grow, shrink)

    def accept(self, err: float) -> float:
        """Factor for the next step after accepting a step of error norm ``err``."""
        return float(self.factors(torch.tensor([err], dtype=F64), torch.ones(1, dtype=torch.bool))[0])

    def reject(self, err: float) -> float:
        """Factor for retrying a step whose error norm ``err`` exceeds 1 (or is not finite)."""
        return float(self.factors(torch.tensor([err], dtype=F64), torch.zeros(1, dtype=torch.bool))[0])
