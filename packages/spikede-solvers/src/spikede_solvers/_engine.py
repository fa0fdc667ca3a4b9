"""The integration loop shared by ``fdeint``, ``odeint`` and ``snn_solve``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from spikede_solvers._base import Problem, Solver

__all__ = ["integrate"]


class _Evaluator:
    """Calls the user's vector field, counts evaluations and checks what it returns.

    ``mode`` is ``"tensor"`` (func takes and returns one tensor), ``"tuple"`` (a tuple of
    the state's length) or ``"snn"`` (a tuple of the state's length plus ``K >= 0``
    trailing boundary tensors).
    """

    def __init__(
        self,
        func: Callable[..., Any],
        states: tuple[Tensor, ...],
        mode: str,
        recompute: bool = False,
    ) -> None:
        self.func = func
        self.recompute = recompute
        self.shapes = [tuple(y.shape) for y in states]
        self.mode = mode
        self.nfe = 0
        self.n_boundaries: int | None = None

    def __call__(
        self, t: Tensor, y: tuple[Tensor, ...]
    ) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
        self.nfe += 1
        if self.mode == "tensor":
            out = self._call(t, y[0])
            if not isinstance(out, Tensor):
                raise TypeError(
                    f"func must return a Tensor for a Tensor state, got {type(out).__name__}"
                )
            out = (out,)
        else:
            out = self._call(t, y)
            if not isinstance(out, (tuple, list)):
                raise TypeError(
                    f"func must return a tuple of Tensors for a tuple state, got {type(out).__name__}"
                )
            out = tuple(out)
        n = len(self.shapes)
        if self.n_boundaries is None:
            extra = len(out) - n
            if extra < 0 or (extra > 0 and self.mode != "snn"):
                raise ValueError(
                    f"func returned {len(out)} tensors, expected "
                    + (
                        f"at least {n} (one derivative per state component, then boundaries)"
                        if self.mode == "snn"
                        else f"{n} (one derivative per state component)"
                    )
                )
            for i, (d, shape) in enumerate(zip(out, self.shapes)):
                if not isinstance(d, Tensor):
                    raise TypeError(f"func output {i} must be a Tensor, got {type(d).__name__}")
                if tuple(d.shape) != shape:
                    raise ValueError(
                        f"func returned shape {tuple(d.shape)} for state component {i}, "
                        f"expected {shape} (the shape of y0{'' if self.mode == 'tensor' else f'[{i}]'})"
                    )
            for j, b in enumerate(out[n:]):
                if not isinstance(b, Tensor):
                    raise TypeError(
                        f"func boundary output {j} must be a Tensor, got {type(b).__name__}"
                    )
            self.n_boundaries = extra
        elif len(out) != n + self.n_boundaries:
            raise ValueError(f"func returned {len(out)} tensors, earlier {n + self.n_boundaries}")
        return out[:n], out[n:]

    def _call(self, t: Tensor, y: Any) -> Any:
        if self.recompute and torch.is_grad_enabled():
            # Keep only the inputs; autograd re-runs func in backward for its activations.
            return checkpoint(self.func, t, y, use_reentrant=False)
        return self.func(t, y)

    def derivatives(self, t: Tensor, y: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return self(t, y)[0]


def _fusable(problem: Problem, solver: Solver) -> bool:
    """Whether the state components are best solved as one flat component.

    They can be when they share dtype and device and have one common order (the same
    tensor, or equal 0-d orders that need no gradient): every weight, history sum and
    update is then the same for all of them, and one flat buffer does the work of ``N``
    (one kernel per step instead of ``N``).
    It pays only where a step does much work per component: a fractional history kept
    for autograd (several recorded functions per component and step). Elementwise
    integer-order steps and streaming histories cost less per component than the
    concatenation and split of the flat state do, so they are not fused.
    """
    if solver.kind != "fractional" or _streams(problem, solver):
        return False
    ys, comps = problem.y0, problem.components
    if len(ys) < 2 or any(y.dtype != ys[0].dtype or y.device != ys[0].device for y in ys):
        return False
    first = comps[0].orders
    if first is None or first.dim() != 0:
        return False
    for c in comps:
        if c.coefficients is not None or c.orders is None or c.orders.dim() != 0:
            return False
        if c.orders is not first and (
            c.orders.requires_grad or first.requires_grad or not torch.equal(c.orders, first)
        ):
            return False
    return True


def _streams(problem: Problem, solver: Solver) -> bool:
    """Whether ``solver`` keeps a streaming history in this solve (``Solver.streams``)."""
    fast = problem.options.get("history", "full") == "soe" or problem.memory is not None
    learning = torch.is_grad_enabled() and any(
        c.orders is not None and c.orders.requires_grad for c in problem.components
    )
    return solver.streams and fast and not learning


class _Fused:
    """One flat component ``cat([y_i.reshape(-1)])`` standing for ``N`` components."""

    def __init__(self, problem: Problem, evaluator: _Evaluator) -> None:
        self.shapes = [y.shape for y in problem.y0]
        self.sizes = [y.numel() for y in problem.y0]
        self.inner = evaluator
        flat = torch.cat([y.reshape(-1) for y in problem.y0])
        self.problem = dataclasses.replace(
            problem, y0=(flat,), components=[problem.components[0]]
        )

    def split(self, flat: Tensor) -> tuple[Tensor, ...]:
        parts = torch.split_with_sizes(flat, self.sizes)
        return tuple(part.view(shape) for part, shape in zip(parts, self.shapes))

    def __call__(self, t: Tensor, y: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        derivatives, boundaries = self.inner(t, self.split(y[0]))
        return (torch.cat([d.reshape(-1) for d in derivatives]), *boundaries)


def integrate(
    solver: Solver,
    problem: Problem,
    func: Callable[..., Any],
    mode: str,
    *,
    evaluate_last: bool,
    keep_states: bool = True,
) -> tuple[list[tuple[Tensor, ...]], list[tuple[Tensor, ...]], int]:
    """Run the solve; return the states at every grid point, the boundaries, the nfe.

    With ``options["checkpoint"]`` each evaluation of the field runs under
    ``torch.utils.checkpoint`` (non-reentrant): its activations are not kept, and backward
    recomputes them from the saved inputs.

    At step ``n`` the field is evaluated at ``(t_n, y_n)`` (boundaries recorded), then the
    stepper computes ``y_{n+1}``. The evaluation at the last point is done only when
    ``evaluate_last`` (its derivative is not needed, only its boundaries). Without
    ``keep_states`` no state is recorded (the list is empty), so each step's state can
    be freed once the next one is computed.
    """
    recompute = bool(problem.options.get("checkpoint", False))
    fused: _Fused | None = None
    if _fusable(problem, solver):
        # The user's function is checked (and counted) by the inner evaluator.
        fused = _Fused(problem, _Evaluator(func, problem.y0, mode))
        problem, func, mode = fused.problem, fused, "snn"
    evaluator = _Evaluator(func, problem.y0, mode, recompute)
    stepper = solver.setup(problem)
    y = problem.y0
    states = [y] if keep_states else []
    boundaries = []
    last = problem.n_points - 1
    times = problem.t.unbind(0)  # the grid times as views, made once
    try:
        for n in range(problem.n_points):
            if n == last and not evaluate_last:
                break
            f, b = evaluator(times[n], y)
            boundaries.append(b)
            if n == last:
                break
            y = stepper.step(n, y, f, evaluator.derivatives)
            if keep_states:
                states.append(y)
    finally:
        stepper.release()
    if fused is not None:
        states = [fused.split(s[0]) for s in states]
    return states, boundaries, evaluator.nfe
