"""Adaptive integration with threshold-crossing events located on the dense output.

:func:`odeint_events` integrates ``y' = f(t, y)`` with an adaptive pair (``dopri5``,
``bosh3``) and watches chosen state components for upward threshold crossings
``y_i - theta_i: - -> +``. After each accepted step the step's dense output is sampled
at ``theta = 0.25, 0.5, 0.75, 1``; the first sample interval where an element crosses is
narrowed (by rounds of 32 subintervals, to ``1e-12`` of the step, in float64) on the same polynomial, the
earliest crossing ends the step there, ``on_event`` maps the state, and integration
restarts at the event: a new first stage is evaluated (the FSAL stage of the cut step
belongs to the discarded part) and the step size proposed by the controller is kept.

Gradients. The event time is a function of everything the trajectory depends on, by the
implicit-function theorem: at a crossing ``g(t*) = y_i(t*) - theta_i = 0``,
``dt*/dp = -(dg/dp) / (dg/dt)``. It enters the graph as
``t* = t_det - (g - g.detach()) / gdot.detach()`` (``t_det`` the located value,
``g`` the dense-output value at the fixed time ``t_det``, ``gdot = f_i`` there), and the
state handed to ``on_event`` as ``y_det + (t* - t_det) f`` (the same values; its
derivative in ``t*`` is the field). Every later time, stage times and dense-output
fractions included, carries ``t*``'s graph, so the trajectory after an event is shifted
with the event as the exact solution is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from spikede_solvers._adaptive import AdaptiveSolver, _weighted
from spikede_solvers._adaptive_options import check_adaptive_options
from spikede_solvers._checks import _check_states, check_options
from spikede_solvers._registry import SOLVERS
from spikede_solvers._step_control import PIController, error_norm, initial_step

__all__ = ["Crossing", "odeint_events"]

State = tuple[Tensor, ...]

#: Fractions of a step where the dense output is sampled to detect a crossing.
_SAMPLES = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Root finding stops when every bracket is this narrow (as a fraction of the step) ...
_BRACKET = 1e-12
#: ... and divides each bracket into this many parts per round.
_GRID = 32


@dataclass(frozen=True)
class Crossing:
    """An upward threshold crossing located by :func:`odeint_events`.

    Attributes:
        time: The event time, a 0-d tensor; differentiable (implicit-function theorem) in
            whatever the trajectory and the thresholds depend on.
        time_value: The same time as a Python float.
        states: The state at the event, before ``on_event`` (one tensor per component);
            its derivative with respect to :attr:`time` is the field.
        fixed_states: The same values with the time held fixed (no dependence on
            :attr:`time`); e.g. what a surrogate derivative at the crossing should see.
        derivatives: The field at ``(time, states)``.
        crossed: Per component, a bool mask of the elements that cross at this time
            (``None`` for components without a threshold).
        element_times: Per component, the event time of each crossed element, each with
            its own implicit-function gradient (values equal :attr:`time`; elements not
            crossed hold :attr:`time` without gradient), or ``None``.
    """

    time: Tensor
    time_value: float
    states: State
    fixed_states: State
    derivatives: State
    crossed: tuple[Tensor | None, ...]
    element_times: tuple[Tensor | None, ...]


class _Dense:
    """The dense output of one accepted step: ``y(t_0 + theta h)`` for any ``theta``."""

    def __init__(self, solver: AdaptiveSolver, y0: State, y1: State, ks: list[State], f1: State, h: float):
        tab = solver.tableau
        self.coef = []
        for i, (a, b) in enumerate(zip(y0, y1)):
            r2 = b - a
            r3 = torch.mul(ks[0][i], h) - r2
            r4 = r2 - torch.mul(f1[i], h) - r3
            extra = None if tab.dense is None else _weighted(h, tab.dense, ks, i)
            self.coef.append((a, r2, r3, r4, extra))

    @staticmethod
    def _poly(theta: Any, a: Tensor, r2: Tensor, r3: Tensor, r4: Tensor, extra: Tensor | None) -> Tensor:
        one = 1.0 - theta
        inner = r4 if extra is None else r4 + one * extra
        return a + theta * (r2 + one * (r3 + theta * inner))

    def at(self, theta: Any) -> State:
        """The state at fraction ``theta`` (a float or a 0-d tensor that may carry a gradient)."""
        return tuple(self._poly(theta, *c) for c in self.coef)

    def flat64(self, i: int) -> tuple[Tensor, ...]:
        """Component ``i``'s coefficients, detached, flattened and in float64 (root finding)."""
        return tuple(
            None if c is None else c.detach().reshape(-1).to(torch.float64) for c in self.coef[i]
        )


def _check_thresholds(thresholds: Any, states: State) -> tuple[Any, ...]:
    if not isinstance(thresholds, (list, tuple)) or len(thresholds) != len(states):
        raise ValueError(
            f"thresholds must be a sequence of {len(states)} entries (one per state component: "
            f"a number, a tensor broadcastable to the component, or None); got {thresholds!r}"
        )
    out = []
    for i, th in enumerate(thresholds):
        if th is None:
            out.append(None)
            continue
        if isinstance(th, bool) or not isinstance(th, (int, float, Tensor)):
            raise TypeError(f"thresholds[{i}] must be a number, a tensor or None; got {type(th).__name__}")
        if isinstance(th, Tensor):
            try:
                torch.broadcast_shapes(th.shape, states[i].shape)
            except RuntimeError:
                raise ValueError(
                    f"thresholds[{i}] has shape {tuple(th.shape)}, not broadcastable to the "
                    f"component's shape {tuple(states[i].shape)}"
                ) from None
            if tuple(torch.broadcast_shapes(th.shape, states[i].shape)) != tuple(states[i].shape):
                raise ValueError(
                    f"thresholds[{i}] of shape {tuple(th.shape)} would broadcast the component "
                    f"beyond its shape {tuple(states[i].shape)}"
                )
        elif not math.isfinite(float(th)):
            raise ValueError(f"thresholds[{i}] must be finite; got {th!r}")
        out.append(th)
    if all(th is None for th in out):
        raise ValueError("thresholds: at least one component needs a threshold; all are None")
    return tuple(out)


def odeint_events(
    func: Callable[[Tensor, Any], Any],
    y0: Tensor | Sequence[Tensor],
    t: Tensor,
    thresholds: Sequence[float | Tensor | None],
    on_event: Callable[[Crossing], Any],
    method: str = "dopri5",
    *,
    options: dict[str, Any] | None = None,
) -> tuple[Any, dict[str, int]]:
    """Solve ``y' = func(t, y)`` adaptively, mapping the state at every threshold crossing.

    Components with a threshold are watched for upward crossings ``y_i - theta_i`` from
    negative to ``>= 0`` (elements already at or above their threshold at ``t[0]`` are an
    event at ``t[0]``; an element that stays at or above after ``on_event`` is watched
    again once it is below). Each crossing is located in time on the method's dense
    output (to ``1e-12`` of the step, in float64), the state there is passed to
    ``on_event`` (a :class:`Crossing`), and integration restarts from what it returns.
    The event time and everything after it are differentiable through the
    implicit-function theorem (see the module documentation). The cost grows with the
    number of events: each one cuts a step and costs two extra evaluations of ``func``.
    A crossing that goes up and back down between two dense-output samples of one step
    is not seen; tighter tolerances give shorter steps.

    Args:
        func: Vector field ``func(t, y)``, ``t`` a 0-d tensor of ``y0``'s dtype.
        y0: Initial state: a floating tensor or a tuple of them.
        t: Strictly increasing 1-d times where the solution is returned.
        thresholds: One entry per state component: a number, a tensor broadcastable to
            the component (may require grad), or ``None`` for no events.
        on_event: ``on_event(crossing) -> y`` returns the state after the event (the
            structure and shapes of ``y0``).
        method: An adaptive method, ``"dopri5"`` or ``"bosh3"``.
        options: ``rtol``, ``atol``, ``first_step``, ``max_num_steps`` (accepted steps
            and events count, rejected steps too), as for :func:`odeint`.

    Returns:
        ``(ys, stats)``: the solution at ``t`` (``[len(t), ...]``, a tensor or a tuple as
        ``y0``; at an event time, the value before ``on_event``) and the counts ``nfe``,
        ``accepted``, ``rejected`` and ``events``.

    Raises:
        TypeError: For a non-callable ``func``/``on_event`` or wrongly typed arguments.
        ValueError: For a non-adaptive ``method``, bad options, times or thresholds.
        RuntimeError: When ``max_num_steps`` is reached, or ``on_event`` returns states
            of other shapes.

    Example:
        >>> import torch
        >>> from spikede_solvers import odeint_events
        >>> def reset(c):  # y' = 1 with a reset to 0 at y = 1: events at t = 1, 2, 3
        ...     return (torch.where(c.crossed[0], 0.0, c.states[0]),)
        >>> t = torch.linspace(0.0, 3.5, 8, dtype=torch.float64)
        >>> times = []
        >>> def record(c):
        ...     times.append(round(c.time_value, 9))
        ...     return reset(c)
        >>> ys, stats = odeint_events(lambda t, y: (torch.ones_like(y[0]),),
        ...                           (torch.zeros(1, dtype=torch.float64),), t, [1.0], record)
        >>> times, stats["events"]
        ([1.0, 2.0, 3.0], 3)
    """
    if not callable(func):
        raise TypeError(f"func must be callable as func(t, y), got {type(func).__name__}")
    if not callable(on_event):
        raise TypeError(f"on_event must be callable as on_event(crossing), got {type(on_event).__name__}")
    states, is_tuple = _check_states(y0)
    solver = SOLVERS.get(method) if isinstance(method, str) else None
    if not isinstance(solver, AdaptiveSolver):
        adaptive = sorted(m for m, s in SOLVERS.items() if isinstance(s, AdaptiveSolver))
        raise ValueError(f"method={method!r} is not an adaptive method; accepted: {adaptive}")
    if not isinstance(t, Tensor) or t.dim() != 1 or not t.is_floating_point() or t.shape[0] < 1:
        raise ValueError(f"t must be a 1-d floating tensor of at least one time; got {t!r}")
    if t.shape[0] > 1 and not bool((t[1:] > t[:-1]).all()):
        raise ValueError("t must be strictly increasing")
    opts = check_options(method, options)
    if opts.pop("checkpoint", False):
        raise ValueError("options['checkpoint'] is not supported by odeint_events")
    opts = check_adaptive_options(opts, states)
    ths = _check_thresholds(thresholds, states)
    loop = _EventLoop(func, states, is_tuple, t, ths, on_event, solver, opts)
    ys = loop.run()
    return (ys if is_tuple else ys[0]), loop.stats


class _EventLoop:
    """The state of one :func:`odeint_events` solve."""

    def __init__(self, func, states, is_tuple, t, thresholds, on_event, solver, opts) -> None:
        self.func, self.y0, self.is_tuple, self.t = func, states, is_tuple, t
        self.thresholds, self.on_event, self.solver, self.opts = thresholds, on_event, solver, opts
        self.dtype, self.device = t.dtype, t.device
        self.shapes = [tuple(y.shape) for y in states]
        # A zero-valued tensor carrying the last event time's graph: every time after the
        # event is ``value + delta`` (exact value, the event's gradient).
        self.delta: Tensor | None = None
        self.stats = {"nfe": 0, "accepted": 0, "rejected": 0, "events": 0}

    # ---------------------------------------------------------------- helpers
    def at(self, value: float) -> Tensor:
        tt = torch.tensor(value, dtype=self.dtype, device=self.device)
        return tt if self.delta is None else tt + self.delta

    def field(self, tt: Tensor, y: State) -> State:
        self.stats["nfe"] += 1
        out = self.func(tt, y if self.is_tuple else y[0])
        out = tuple(out) if self.is_tuple else (out,)
        if len(out) != len(self.shapes) or any(tuple(d.shape) != s for d, s in zip(out, self.shapes)):
            raise ValueError(
                f"func returned shapes {[tuple(d.shape) for d in out]}, expected {self.shapes}"
            )
        return out

    def threshold64(self, i: int) -> Tensor | float:
        th = self.thresholds[i]
        if isinstance(th, Tensor):
            return th.detach().to(torch.float64).expand(self.shapes[i]).reshape(-1)
        return float(th)

    def handle(self, crossing: Crossing) -> State:
        self.stats["events"] += 1
        out = self.on_event(crossing)
        out = tuple(out) if self.is_tuple else (out,)
        if len(out) != len(self.shapes) or any(
            not isinstance(y, Tensor) or tuple(y.shape) != s for y, s in zip(out, self.shapes)
        ):
            raise RuntimeError(
                f"on_event must return the state's structure and shapes {self.shapes}; got "
                f"{[tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__ for y in out]}"
            )
        self.delta = crossing.time - crossing.time.detach()
        return out

    # ---------------------------------------------------------------- event location
    def _first_crossing(self, dense: _Dense) -> tuple[float, list[Tensor | None]] | None:
        """Fraction of the step of the earliest crossing and the crossed masks, or None."""
        watched = [i for i, th in enumerate(self.thresholds) if th is not None]
        coefs = {i: dense.flat64(i) for i in watched}
        ths = {i: self.threshold64(i) for i in watched}
        samples = torch.tensor(_SAMPLES, dtype=torch.float64, device=self.device).unsqueeze(1)

        def g(i: int, theta: Any, idx: Tensor | None = None) -> Tensor:
            c, th = coefs[i], ths[i]
            if idx is not None:  # a column per element: theta is [E, K]
                c = tuple(None if x is None else x[idx].unsqueeze(1) for x in c)
                th = th[idx].unsqueeze(1) if isinstance(th, Tensor) else th
            return _Dense._poly(theta, *c) - th

        # g at every sample fraction at once, [len(_SAMPLES), n] per component.
        seq = {i: g(i, samples) for i in watched}
        armed = {i: seq[i][0] < 0 for i in watched}
        hits = {i: armed[i] & (seq[i][:-1] < 0) & (seq[i][1:] >= 0) for i in watched}
        firsts = [int(h.any(1).nonzero()[0]) for h in hits.values() if bool(h.any())]
        if not firsts:
            return None
        j = min(firsts)
        top = best = _SAMPLES[j + 1]
        for i in watched:
            idx = hits[i][j].nonzero().reshape(-1)
            if idx.numel() == 0:
                continue
            # Refine every bracket [lo, hi] (g(lo) < 0 <= g(hi)) by _GRID points at once.
            lo = torch.full((idx.numel(), 1), _SAMPLES[j], dtype=torch.float64, device=idx.device)
            hi = torch.full_like(lo, top)
            width = top - _SAMPLES[j]
            steps = torch.arange(1, _GRID + 1, dtype=torch.float64, device=idx.device) / _GRID
            columns = torch.arange(_GRID, device=idx.device)
            while width > _BRACKET:
                pts = lo + width * steps
                pts[:, -1:] = hi
                up = g(i, pts, idx) >= 0
                # the first point at or above the threshold (the last one always is)
                m = torch.where(up, columns, _GRID - 1).min(1, keepdim=True).values
                hi = pts.gather(1, m)
                lo = torch.where(m > 0, pts.gather(1, (m - 1).clamp_min(0)), lo)
                width /= _GRID
            best = min(best, float(hi.min()))
        crossed: list[Tensor | None] = [None] * len(self.thresholds)
        for i in watched:
            crossed[i] = (armed[i] & (g(i, best) >= 0)).reshape(self.shapes[i])
        return best, crossed

    def _crossing(self, dense: _Dense, t_now: float, h: float, theta: float, crossed: list) -> Crossing:
        t_value = t_now + theta * h
        frac = torch.tensor(theta, dtype=self.dtype, device=self.device)
        if self.delta is not None:
            frac = frac - self.delta / h  # the step moves with the previous event
        fixed = dense.at(frac)
        # The located time as a plain value: ``fixed`` already moves with earlier events
        # (through ``frac``), so the implicit-function term below carries them once.
        t_det = torch.tensor(t_value, dtype=self.dtype, device=self.device)
        deriv = self.field(t_det, fixed)
        times: list[Tensor | None] = [None] * len(fixed)
        first: Tensor | None = None
        earliest = math.inf
        for i, mask in enumerate(crossed):
            if mask is None:
                continue
            th = self.thresholds[i]
            gval = fixed[i] - th
            gdot = deriv[i].detach()
            slope = torch.where(mask & (gdot > 0), gdot, torch.full_like(gdot, math.inf))
            times[i] = t_det - torch.where(mask, (gval - gval.detach()) / slope, torch.zeros_like(gval))
            if bool(mask.any()):
                # The located (earliest) element: the one closest below its threshold at
                # the start of the cut, i.e. with the smallest g at theta (all >= 0).
                flat_g = torch.where(mask, gval.detach(), torch.full_like(gval, math.inf)).reshape(-1)
                k = int(flat_g.argmin())
                if float(flat_g[k]) < earliest:
                    earliest = float(flat_g[k])
                    first = times[i].reshape(-1)[k]
        assert first is not None
        shift = first - t_det  # zero-valued: the implicit-function term alone
        moved = tuple(y + shift * d for y, d in zip(fixed, deriv))
        return Crossing(first, t_value, moved, fixed, deriv, tuple(crossed), tuple(times))

    # ---------------------------------------------------------------- the loop
    def run(self) -> State:
        solver, tab, opts = self.solver, self.solver.tableau, self.opts
        times = self.t.detach().tolist()
        y = self.y0
        t_now = times[0]
        start = [None if th is None else (y[i].detach() >= th) for i, th in enumerate(self.thresholds)]
        if any(m is not None and bool(m.any()) for m in start):
            t0 = self.at(t_now)
            f0 = self.field(t0, y)
            y = self.handle(
                Crossing(t0, t_now, y, y, f0, tuple(start), tuple(None if m is None else t0.expand_as(m) for m in start))
            )
        chunks: list[list[Tensor]] = [[v.unsqueeze(0)] for v in self.y0]
        if len(times) == 1:
            return tuple(c[0] for c in chunks)
        t_end = times[-1]
        eps = torch.finfo(self.dtype).eps
        rtol, atol = opts["rtol"], opts["atol"]
        f = self.field(self.at(t_now), y)
        h = opts["first_step"]
        if h is None:
            h = initial_step(
                lambda tv, yy: self.field(self.at(tv), yy), t_now, y, f, tab.error_order, rtol, atol, t_end - t_now
            )
        control = PIController(tab.error_order, solver.safety, solver.min_factor, solver.max_factor)
        nxt = 1
        while nxt < len(times):
            if sum(self.stats[k] for k in ("accepted", "rejected")) >= opts["max_num_steps"]:
                raise RuntimeError(
                    f"odeint_events({tab.name!r}) reached options['max_num_steps']="
                    f"{opts['max_num_steps']} at t={t_now!r} (end {t_end!r}, step {h:.3g}, "
                    f"{self.stats['events']} events); raise max_num_steps or loosen rtol/atol"
                )
            t_new = t_now + h
            if t_new >= t_end or t_end - t_new <= 4 * eps * abs(t_end):
                t_new, h = t_end, t_end - t_now
            if h <= 4 * eps * max(abs(t_now), abs(t_new), 1e-300):
                raise RuntimeError(
                    f"odeint_events({tab.name!r}): the step size fell to {h:.3g} at t={t_now!r}, "
                    f"below the resolution of {self.dtype}"
                )
            y_new, ks, err_est = solver.attempt(
                self.field, lambda c, t0=t_now, h=h: self.at(t0 + c * h), y, f, h
            )
            err = error_norm(err_est, y, y_new, rtol, atol)
            if not err <= 1.0:
                self.stats["rejected"] += 1
                h *= control.reject(err)
                continue
            self.stats["accepted"] += 1
            f_new = ks[-1] if tab.fsal else self.field(self.at(t_new), y_new)
            dense = _Dense(solver, y, y_new, ks, f_new, h)
            found = self._first_crossing(dense)
            t_stop = t_new if found is None else t_now + found[0] * h
            while nxt < len(times) and times[nxt] <= t_stop:
                frac = torch.tensor((times[nxt] - t_now) / h, dtype=self.dtype, device=self.device)
                if self.delta is not None:
                    frac = frac - self.delta / h
                for c, v in zip(chunks, dense.at(frac)):
                    c.append(v.unsqueeze(0))
                nxt += 1
            if found is None:
                t_now, y, f = t_new, y_new, f_new
            else:
                crossing = self._crossing(dense, t_now, h, *found)
                y = self.handle(crossing)
                t_now = crossing.time_value
                f = self.field(self.at(t_now), y)  # a new first stage: FSAL does not carry over
            h *= control.accept(err)
        return tuple(torch.cat(c) for c in chunks)
