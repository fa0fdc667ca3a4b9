"""The one integration loop: every fixed-grid entry point (``solve``, ``fdeint``, ``odeint``) runs it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from spikede_solvers._base import Problem, Solver, Step, grid_steps
from spikede_solvers._resume import export_history, restore_history

__all__ = ["integrate", "run", "user_field"]


def check_output(shapes: list[tuple[int, ...]], dy: Any, aux: Any) -> None:
    """Raise for a field output that does not match the state (checked once per solve)."""
    n = len(shapes)
    if not isinstance(dy, (tuple, list)):
        raise TypeError(
            f"func must return a tuple of Tensors for a tuple state, got {type(dy).__name__}"
        )
    if len(dy) != n:
        raise ValueError(
            f"func returned {len(dy)} tensors, expected {n} (one derivative per state component)"
        )
    for i, (d, shape) in enumerate(zip(dy, shapes)):
        if not isinstance(d, Tensor):
            raise TypeError(f"func output {i} must be a Tensor, got {type(d).__name__}")
        if tuple(d.shape) != tuple(shape):
            raise ValueError(
                f"func returned shape {tuple(d.shape)} for state component {i}, "
                f"expected {tuple(shape)} (the shape of y0[{i}])"
            )
    if not isinstance(aux, (tuple, list)) or not all(isinstance(a, Tensor) for a in aux):
        raise TypeError("func's auxiliary output must be a tuple of Tensors")


#: Steps between two finiteness probes of the state (a probe costs one reduction).
PROBE_EVERY = 16


class _Watch:
    """Notices a state that became non-finite, without a host sync per step.

    Every :data:`PROBE_EVERY` steps the state's sum is kept (a 0-d tensor: NaN and
    infinity reach it); after the solve one sync tells whether any probe failed, and the
    recorded states (when kept) locate the first failing step exactly.
    """

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.sums: list[Tensor] = []

    def probe(self, n: int, y: tuple[Tensor, ...]) -> None:
        self.steps.append(n)
        with torch.no_grad():
            self.sums.append(sum(yi.sum() for yi in y) if len(y) > 1 else y[0].sum())

    def check(
        self, t: Tensor, hs: list[float], states: list[tuple[Tensor, ...]], start: int = 0
    ) -> None:
        """Raise ``FloatingPointError`` if a probe failed (``states[i]`` is at ``t[start + i]``)."""
        if not self.sums:
            return
        with torch.no_grad():
            finite = torch.isfinite(torch.stack([s.to(torch.float64) for s in self.sums]))
        if bool(finite.all()):
            return
        j = int((~finite).nonzero()[0, 0])
        lo, hi = (self.steps[j - 1] if j else start), self.steps[j]
        if states:  # the first non-finite state, exactly
            hi = next(
                n
                for n in range(lo, hi + 1)
                if not all(bool(torch.isfinite(c).all()) for c in states[n - start])
            )
            where = f"at t[{hi}] = {float(t[hi]):.6g}"
        else:
            where = f"between t[{lo}] = {float(t[lo]):.6g} and t[{hi}] = {float(t[hi]):.6g}"
        h = hs[min(hi, len(hs)) - 1] if hi else hs[0]
        raise FloatingPointError(
            f"the solution became non-finite (NaN or infinity) {where}, with step h = {h:.3g}. "
            "An explicit method on a stiff problem grows without bound when h is too large: "
            "try a smaller step (a finer grid t, or options={'step_size': h} in SNNWrapper), "
            "a corrector method (l1, trap; rk4 for integer order), or check the field for "
            "values that overflow."
        )


def user_field(func: Callable[..., Any], is_tuple: bool) -> Callable[..., Any]:
    """``func(t, y)`` of ``fdeint``/``odeint`` as the loop's ``field(t, y_tuple, args, step)``."""
    if is_tuple:
        return lambda t, y, args, step: func(t, y)

    def field(t: Tensor, y: tuple[Tensor, ...], args: Any, step: Step) -> tuple[Tensor, ...]:
        out = func(t, y[0])
        if not isinstance(out, Tensor):
            raise TypeError(
                f"func must return a Tensor for a Tensor state, got {type(out).__name__}"
            )
        return (out,)

    return field


class _Evaluator:
    """Calls the vector field, counts evaluations and checks what it returns.

    The field is ``func(t, y, args, step) -> dy`` (a tuple of the state's length), or
    ``(dy, aux)`` with ``has_aux``: ``aux`` a tuple of tensors recorded per grid point.
    Every entry point normalises its user's function to this form once.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        states: tuple[Tensor, ...],
        args: Any = None,
        has_aux: bool = False,
        recompute: bool = False,
    ) -> None:
        self.func = func
        self.args = args
        self.has_aux = has_aux
        self.recompute = recompute
        self.shapes = [tuple(y.shape) for y in states]
        self.nfe = 0
        self.checked = False  # the output is checked at the first evaluation

    def __call__(
        self, t: Tensor, y: tuple[Tensor, ...], step: Step
    ) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
        self.nfe += 1
        out = self._call(t, y, step)
        dy, aux = out if self.has_aux else (out, ())
        if not self.checked:
            check_output(self.shapes, dy, aux)
            self.checked = True
        return tuple(dy), tuple(aux)

    def _call(self, t: Tensor, y: tuple[Tensor, ...], step: Step) -> Any:
        if self.recompute and torch.is_grad_enabled():
            # Keep only the inputs; autograd re-runs func in backward for its activations.
            return checkpoint(self.func, t, y, self.args, step, use_reentrant=False)
        return self.func(t, y, self.args, step)


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
    """Whether ``solver`` keeps a streaming history in this solve (``Solver.streams``):
    its coefficients need no gradient (full, short and fast histories all stream then)."""
    learning = torch.is_grad_enabled() and any(
        c.orders is not None and c.orders.requires_grad for c in problem.components
    )
    return solver.streams and not learning


class _Fused:
    """One flat component ``cat([y_i.reshape(-1)])`` standing for ``N`` components."""

    def __init__(self, problem: Problem, func: Callable[..., Any], has_aux: bool) -> None:
        self.shapes = [y.shape for y in problem.y0]
        self.sizes = [y.numel() for y in problem.y0]
        self.func = func
        self.has_aux = has_aux
        self.checked = False
        flat = torch.cat([y.reshape(-1) for y in problem.y0])
        self.problem = dataclasses.replace(
            problem, y0=(flat,), components=[problem.components[0]]
        )

    def split(self, flat: Tensor) -> tuple[Tensor, ...]:
        parts = torch.split_with_sizes(flat, self.sizes)
        return tuple(part.view(shape) for part, shape in zip(parts, self.shapes))

    def __call__(self, t: Tensor, y: tuple[Tensor, ...], args: Any, step: Step) -> Any:
        out = self.func(t, self.split(y[0]), args, step)
        dy, aux = out if self.has_aux else (out, ())
        if not self.checked:  # before the concatenation can fail obscurely
            check_output(self.shapes, dy, aux)
            self.checked = True
        flat = (torch.cat([d.reshape(-1) for d in dy]),)
        return (flat, aux) if self.has_aux else flat


def integrate(
    solver: Solver,
    problem: Problem,
    func: Callable[..., Any],
    *,
    args: Any = None,
    has_aux: bool = False,
    keep_states: bool = True,
) -> tuple[list[tuple[Tensor, ...]], list[tuple[Tensor, ...]], int]:
    """Run the solve; return the states at every grid point, the auxiliary outputs, the nfe.

    ``func(t, y, args, step)`` is the normalised field (see :class:`_Evaluator`). At step
    ``n`` it is evaluated at ``(t_n, y_n)`` (its auxiliary outputs recorded), then the
    stepper computes ``y_{n+1}``. The last point is evaluated only for its auxiliary
    outputs (``has_aux``). Without ``keep_states`` no state is recorded (the list is
    empty), so each step's state can be freed once the next one is computed.

    With ``options["checkpoint"]`` each evaluation runs under ``torch.utils.checkpoint``
    (non-reentrant): its activations are not kept, and backward recomputes them from the
    saved inputs (the field's ``args`` included).
    """
    states, aux, nfe, _ = run(
        solver, problem, func, args=args, has_aux=has_aux, keep_states=keep_states
    )
    return states, aux, nfe


def run(
    solver: Solver,
    problem: Problem,
    func: Callable[..., Any],
    *,
    args: Any = None,
    has_aux: bool = False,
    keep_states: bool = True,
    initial_history: Any = None,
    return_history: bool = False,
    method: str = "",
) -> tuple[list[tuple[Tensor, ...]], list[tuple[Tensor, ...]], int, Any]:
    """:func:`integrate`, optionally continuing from a saved history and saving one.

    With ``initial_history`` (a :class:`~spikede_solvers.History`), ``problem`` is the
    continued solve on the virtual grid (the saved times, then the new ones; its ``y0``
    the run's initial value): the buffers and carried values are restored and the loop
    starts at the saved last point, whose state is the history's. The field sees step
    and grid indices of the new grid. With ``return_history`` the fourth value is the
    :class:`~spikede_solvers.History` at the end (else ``None``).
    """
    recompute = bool(problem.options.get("checkpoint", False))
    unfused = problem
    fused: _Fused | None = None
    if _fusable(problem, solver):
        fused = _Fused(problem, func, has_aux)
        problem, func = fused.problem, fused
    start = 0
    y = problem.y0
    if initial_history is not None:
        start = initial_history.times.shape[0] - 1
        y = tuple(initial_history.y)
        if fused is not None:
            y = (torch.cat([v.reshape(-1) for v in y]),)
    evaluator = _Evaluator(func, problem.y0, args, has_aux, recompute)
    stepper = solver.setup(problem)
    if initial_history is not None:
        restore_history(stepper, initial_history, fused, problem.offset)
    states = [y] if keep_states else []
    aux = []
    last = problem.n_points - 1
    times = problem.t.unbind(0)  # the grid times as views, made once
    # The step each evaluation serves: the grid's own steps, or the uniform step a
    # fractional method uses on a uniform grid (so the field and the method agree on h).
    mean = last == 0 or solver.uniform_only or (solver.kind == "fractional" and problem.uniform)
    hs = [problem.h] * max(last, 1) if mean else grid_steps(problem.t)

    def evaluate(n: int) -> Callable[..., tuple[Tensor, ...]]:
        def call(t: Tensor, y: tuple[Tensor, ...], index: int | None = None) -> tuple[Tensor, ...]:
            where = None if index is None else index - start
            return evaluator(t, y, Step(n - start, hs[n], where))[0]

        return call

    watch = _Watch()
    history = None
    try:
        for n in range(start, problem.n_points):
            if n == last and not has_aux:
                break
            k = min(n, len(hs) - 1)  # the last point belongs to the last step
            f, a = evaluator(times[n], y, Step(k - start, hs[k], n - start))
            aux.append(a)
            if n == last:
                break
            y = stepper.step(n, y, f, evaluate(n))
            if keep_states:
                states.append(y)
            if (n + 1) % PROBE_EVERY == 0 or n + 1 == last:
                watch.probe(n + 1, y)
        if return_history:
            final = fused.split(y[0]) if fused is not None else y
            shapes = [v.shape for v in unfused.y0]
            history = export_history(method, unfused, stepper, final, fused, shapes)
    finally:
        stepper.release()
    watch.check(problem.t, hs, states, start)
    if fused is not None:
        states = [fused.split(s[0]) for s in states]
    return states, aux, evaluator.nfe, history
