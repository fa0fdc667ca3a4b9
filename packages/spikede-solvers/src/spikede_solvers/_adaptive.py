"""Adaptive embedded Runge–Kutta methods (``dopri5``, ``bosh3``) and their solve loop.

The loop is its own: the solver steps freely over ``[t[0], t[-1]]`` with steps chosen
by a PI controller from a local error estimate, and reads the values at the requested
times ``t`` off each accepted step's dense output. It does not use the fixed-grid
:class:`~spikede_solvers.Stepper` interface.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from spikede_solvers._base import Problem, Solver, Stepper
from spikede_solvers._step_control import PIController, error_norm, initial_step
from spikede_solvers._tableaus import BOSH3, DOPRI5, Tableau

__all__ = ["AdaptiveSolver", "Bosh3Solver", "DenseOutput", "Dopri5Solver"]

#: Option defaults of the adaptive methods.
DEFAULTS: dict[str, Any] = {"rtol": 1e-6, "atol": 1e-9, "first_step": None, "max_num_steps": 10_000}

State = tuple[Tensor, ...]


class _Field:
    """Calls ``func`` at a Python-number time, counts evaluations, checks what it returns."""

    def __init__(
        self,
        func: Callable[..., Any],
        y0: State,
        t_like: Tensor,
        tensor_mode: bool,
        recompute: bool,
    ) -> None:
        self.func = func
        self.shapes = [tuple(y.shape) for y in y0]
        self.dtype, self.device = t_like.dtype, t_like.device
        self.tensor_mode = tensor_mode
        self.recompute = recompute
        self.nfe = 0
        self.checked = False

    def __call__(self, t: float, y: State) -> State:
        self.nfe += 1
        tt = torch.tensor(t, dtype=self.dtype, device=self.device)
        arg: Any = y[0] if self.tensor_mode else y
        if self.recompute and torch.is_grad_enabled():
            out = checkpoint(self.func, tt, arg, use_reentrant=False)
        else:
            out = self.func(tt, arg)
        if self.tensor_mode:
            if not isinstance(out, Tensor):
                raise TypeError(
                    f"func must return a Tensor for a Tensor state, got {type(out).__name__}"
                )
            out = (out,)
        elif isinstance(out, (tuple, list)):
            out = tuple(out)
        else:
            raise TypeError(
                f"func must return a tuple of Tensors for a tuple state, got {type(out).__name__}"
            )
        if not self.checked:
            self._check(out)
        elif len(out) != len(self.shapes):
            raise ValueError(f"func returned {len(out)} tensors, earlier {len(self.shapes)}")
        return out

    def _check(self, out: State) -> None:
        n = len(self.shapes)
        if len(out) != n:
            raise ValueError(
                f"func returned {len(out)} tensors, expected {n} (one derivative per state component)"
            )
        for i, (d, shape) in enumerate(zip(out, self.shapes)):
            if not isinstance(d, Tensor):
                raise TypeError(f"func output {i} must be a Tensor, got {type(d).__name__}")
            if tuple(d.shape) != shape:
                where = "y0" if self.tensor_mode else f"y0[{i}]"
                raise ValueError(
                    f"func returned shape {tuple(d.shape)} for state component {i}, "
                    f"expected {shape} (the shape of {where})"
                )
        self.checked = True


Step = Any  # a float, or per component a tensor that broadcasts over it (one step per row)


def _part(h: Step, i: int) -> Any:
    return h if isinstance(h, (int, float)) else h[i]


def _weighted(h: Step, weights: Sequence[float], ks: Sequence[State], i: int) -> Tensor:
    """``h sum_j weights_j ks_j[i]`` for component ``i``."""
    acc = None
    for w, k in zip(weights, ks):
        if w == 0.0:
            continue
        acc = torch.mul(k[i], w) if acc is None else acc.add_(k[i], alpha=w)
    return torch.zeros_like(ks[0][i]) if acc is None else acc.mul_(_part(h, i))


def _combine(y: State, h: Step, weights: Sequence[float], ks: Sequence[State]) -> State:
    """``y + h sum_j weights_j ks_j``, one new tensor per component."""
    return tuple(yi + _weighted(h, weights, ks, i) for i, yi in enumerate(y))


def _column(values: Any, like: Tensor) -> Any:
    """A per-row tensor ``[R]`` shaped to broadcast over ``like [R, ...]`` (a number as is)."""
    if not isinstance(values, Tensor) or values.dim() == 0:
        return values
    return values.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


class DenseOutput:
    """The dense output of one accepted step: ``y(t_0 + theta h)`` for any ``theta``.

    The quartic (``dopri5``) or cubic Hermite (``bosh3``) interpolant through the step's
    stages, ``a + theta (r2 + (1 - theta) (r3 + theta (r4 + (1 - theta) extra)))``.
    """

    def __init__(self, tab: Tableau, y0: State, y1: State, ks: Sequence[State], f1: State, h: Step) -> None:
        self.coef = []
        for i, (a, b) in enumerate(zip(y0, y1)):
            hi = _part(h, i)
            r2 = b - a
            r3 = ks[0][i] * hi - r2
            r4 = r2 - f1[i] * hi - r3
            extra = None if tab.dense is None else _weighted(h, tab.dense, ks, i)
            self.coef.append((a, r2, r3, r4, extra))

    @staticmethod
    def poly(theta: Any, a: Tensor, r2: Tensor, r3: Tensor, r4: Tensor, extra: Tensor | None) -> Tensor:
        """The interpolant at ``theta`` (anything that broadcasts with the coefficients)."""
        one = 1.0 - theta
        inner = r4 if extra is None else r4 + one * extra
        return a + theta * (r2 + one * (r3 + theta * inner))

    def at(self, theta: Any) -> State:
        """The state at fraction ``theta`` of the step: a number, a 0-d tensor, or one
        fraction per row ``[R]``; a tensor may carry a gradient."""
        return tuple(self.poly(_column(theta, c[0]), *c) for c in self.coef)

    def stack(self, thetas: list[float]) -> State:
        """The states at several fractions at once, ``[len(thetas), ...]`` per component."""
        out = []
        for c in self.coef:
            a = c[0]
            th = torch.tensor(thetas, dtype=a.dtype, device=a.device).view(-1, *([1] * a.dim()))
            out.append(self.poly(th, *c))
        return tuple(out)

    def flat64(self, i: int) -> tuple[Tensor | None, ...]:
        """Component ``i``'s coefficients detached, as float64 ``[R, n]`` (its first
        dimension the rows; root finding)."""
        rows = self.coef[i][0].shape[0]
        return tuple(None if c is None else c.detach().reshape(rows, -1).to(torch.float64) for c in self.coef[i])


class AdaptiveSolver(Solver):
    """An adaptive embedded Runge–Kutta method for :func:`~spikede_solvers.odeint`.

    The class attribute ``adaptive = True`` tells ``odeint`` to run :meth:`solve` (its
    own loop with error control and dense output) instead of the fixed-grid
    :meth:`setup`/:class:`~spikede_solvers.Stepper` loop, which an adaptive method does
    not provide. A subclass sets :attr:`tableau` (a
    :class:`~spikede_solvers.Tableau`) and may change the controller's constants; an
    instance registered with :func:`~spikede_solvers.register_method` is then an
    ``odeint`` method with the options ``rtol``, ``atol``, ``first_step``,
    ``max_num_steps`` and ``checkpoint``. ``snn_solve`` (a fixed grid) refuses it.

    Attributes:
        tableau: The embedded pair and its dense output.
        safety: Safety factor of the step-size controller.
        min_factor: Smallest factor by which one step changes the step size.
        max_factor: Largest factor by which one step changes the step size.

    Example:
        >>> import torch
        >>> from spikede_solvers import SOLVERS
        >>> solver = SOLVERS["dopri5"]
        >>> solver.adaptive, solver.kind, solver.tableau.order
        (True, 'integer', 5)
    """

    kind = "integer"
    uniform_only = False
    adaptive: ClassVar[bool] = True
    options: ClassVar[frozenset[str]] = frozenset(DEFAULTS)
    tableau: ClassVar[Tableau]
    safety: ClassVar[float] = 0.9
    min_factor: ClassVar[float] = 0.2
    max_factor: ClassVar[float] = 10.0

    def setup(self, problem: Problem) -> Stepper:
        """Not available: an adaptive method has no fixed-grid stepper.

        Raises:
            TypeError: Always; ``odeint`` runs :meth:`solve` for adaptive methods.
        """
        raise TypeError(
            f"method {self.tableau.name!r} is adaptive: it runs in odeint's adaptive loop "
            "(AdaptiveSolver.solve), not on a fixed grid"
        )

    def attempt(
        self,
        field: Callable[[Any, State], State],
        time: Callable[[float], Any],
        y: State,
        f: State,
        h: Step,
    ) -> tuple[State, list[State], list[Tensor]]:
        """One trial step of size ``h`` from ``y`` (whose derivative is ``f``).

        Args:
            field: The vector field, called as ``field(time(c_i), y_i)`` at every stage.
            time: Maps a stage's fraction ``c_i`` of the step to the time argument that
                ``field`` receives (a float, or a tensor that carries a gradient).
            y: The state at the start of the step.
            f: ``field`` at the start of the step (the first stage).
            h: The step size: a float, or per component a tensor that broadcasts over it
                (e.g. ``[R, 1, ...]``: one step per row of independent systems).

        Returns:
            ``(y_new, ks, err)``: the propagated solution, the stages (with the FSAL stage
            ``f(t + h, y_new)`` last for an FSAL pair) and the local error estimate of
            each component.
        """
        tab = self.tableau
        ks = [f]
        for i in range(1, len(tab.c) - (1 if tab.fsal else 0)):
            ks.append(field(time(tab.c[i]), _combine(y, h, tab.a[i], ks)))
        y_new = _combine(y, h, tab.b, ks)
        if tab.fsal:
            ks.append(field(time(1.0), y_new))
        return y_new, ks, [_weighted(h, tab.e, ks, i) for i in range(len(y))]

    def solve(
        self,
        func: Callable[..., Any],
        y0: State,
        t: Tensor,
        tensor_mode: bool,
        options: dict[str, Any],
    ) -> tuple[State, dict[str, int]]:
        """Integrate from ``t[0]`` to ``t[-1]``; values at every ``t`` from dense output.

        Args:
            func: The vector field ``func(t, y)``.
            y0: The initial state components.
            t: The requested times, strictly increasing (checked by ``odeint``).
            tensor_mode: Whether ``func`` takes and returns a single tensor.
            options: Checked options: ``rtol`` and ``atol`` (one float per component),
                ``first_step`` (float or ``None``), ``max_num_steps`` (int),
                ``checkpoint`` (bool, optional).

        Returns:
            The trajectory components ``[len(t), ...]`` and the counts ``nfe``,
            ``accepted`` and ``rejected``.

        Raises:
            RuntimeError: If the solve needs more than ``max_num_steps`` steps, or the
                step size falls below the resolution of the time dtype.
        """
        tab = self.tableau
        rtol, atol = options["rtol"], options["atol"]
        max_steps = options["max_num_steps"]
        field = _Field(func, y0, t, tensor_mode, bool(options.get("checkpoint", False)))
        times = t.detach().tolist()
        chunks: list[list[Tensor]] = [[y.unsqueeze(0)] for y in y0]
        stats = {"nfe": 0, "accepted": 0, "rejected": 0}
        if len(times) == 1:
            return tuple(c[0] for c in chunks), stats
        t_now, t_end = times[0], times[-1]
        eps = torch.finfo(t.dtype).eps
        y = y0
        f = field(t_now, y)
        h = options["first_step"]
        if h is None:
            h = initial_step(field, t_now, y, f, tab.error_order, rtol, atol, t_end - t_now)
        control = PIController(tab.error_order, self.safety, self.min_factor, self.max_factor)
        nxt = 1
        while nxt < len(times):
            if stats["accepted"] + stats["rejected"] >= max_steps:
                raise RuntimeError(
                    f"odeint({tab.name!r}) reached options['max_num_steps']={max_steps} at "
                    f"t={t_now!r} (end {t_end!r}, step {h:.3g}); the problem may be stiff or "
                    "the tolerances too tight: raise max_num_steps or loosen rtol/atol"
                )
            t_new = t_now + h
            if t_new >= t_end or t_end - t_new <= 4 * eps * abs(t_end):
                t_new, h = t_end, t_end - t_now
            if h <= 4 * eps * max(abs(t_now), abs(t_new), 1e-300):
                raise RuntimeError(
                    f"odeint({tab.name!r}): the step size fell to {h:.3g} at t={t_now!r}, "
                    f"below the resolution of {t.dtype}; the solution may blow up or the "
                    "tolerances be too tight for this dtype"
                )
            y_new, ks, err_est = self.attempt(field, lambda c, t0=t_now, h=h: t0 + c * h, y, f, h)
            err = error_norm(err_est, y, y_new, rtol, atol)
            if not err <= 1.0:
                stats["rejected"] += 1
                h *= control.reject(err)
                continue
            stats["accepted"] += 1
            f_new = ks[-1] if tab.fsal else field(t_new, y_new)
            thetas, hit = [], False
            while nxt < len(times) and times[nxt] <= t_new:
                if times[nxt] == t_new:
                    hit = True
                else:
                    thetas.append((times[nxt] - t_now) / h)
                nxt += 1
            if thetas:
                for c, v in zip(chunks, DenseOutput(tab, y, y_new, ks, f_new, h).stack(thetas)):
                    c.append(v)
            if hit:
                for c, v in zip(chunks, y_new):
                    c.append(v.unsqueeze(0))
            t_now, y, f = t_new, y_new, f_new
            h *= control.accept(err)
        stats["nfe"] = field.nfe
        return tuple(torch.cat(c) for c in chunks), stats


class Dopri5Solver(AdaptiveSolver):
    """Dormand–Prince 5(4): order 5, error estimate of order 4, FSAL (6 evaluations per
    step), fourth-order dense output."""

    order = "5"
    tableau = DOPRI5


class Bosh3Solver(AdaptiveSolver):
    """Bogacki–Shampine 3(2): order 3, error estimate of order 2, FSAL (3 evaluations per
    step), cubic Hermite dense output."""

    order = "3"
    tableau = BOSH3
