"""The loop of :func:`~spikede_solvers.odeint_events`: adaptive steps per row, events located.

The loop works on ``R`` independent systems at once (rows ``[R, ...]`` of the state; one
row holds the whole state when the solve is not batched), each with its own time, step
size, controller and events. A round attempts one step in every unfinished row; rows
whose error is too large retry with a smaller step while the others advance, and a
crossing cuts only its own row's step. See :mod:`spikede_solvers._events` for the
location of crossings and the gradients of event times.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from spikede_solvers._adaptive import DenseOutput, _column
from spikede_solvers._crossing import Crossing
from spikede_solvers._step_control import PIController, initial_step_rows, row_error_norm

__all__ = ["EventLoop"]

State = tuple[Tensor, ...]
F64 = torch.float64

#: Fractions of a step where the dense output is sampled to detect a crossing (equally spaced).
_SAMPLES = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Root finding stops when every bracket is this narrow (as a fraction of the step) ...
_BRACKET = 1e-12
#: ... and divides each bracket into this many parts per round.
_GRID = 32


def _where(mask: Tensor, a: State, b: State) -> State:
    """Row-wise choice between two states: ``a`` in the rows of ``mask [R]``, else ``b``."""
    return tuple(torch.where(mask.reshape(-1, *([1] * (x.dim() - 1))), x, y) for x, y in zip(a, b))


class EventLoop:
    """The state of one :func:`odeint_events` solve, on rows ``[R, ...]`` of the state."""

    def __init__(self, func, states, is_tuple, t, thresholds, on_event, solver, opts, batched) -> None:
        self.func, self.is_tuple, self.t, self.batched = func, is_tuple, t, batched
        self.on_event, self.solver, self.opts = on_event, solver, opts
        self.dtype, self.device = t.dtype, t.device
        self.shapes = [tuple(y.shape) for y in states]
        self.y0 = self.rows(states)
        self.R = self.y0[0].shape[0]
        self.row_shapes = [tuple(y.shape) for y in self.y0]
        # thresholds broadcast to the row view (a leading 1 for one unbatched row)
        self.thresholds = tuple(
            th.reshape(1, *th.shape) if isinstance(th, Tensor) and not batched else th for th in thresholds
        )
        # A zero-valued [R] tensor carrying each row's last event time's graph: every time
        # of the row after its event is ``value + delta`` (exact value, the event's gradient).
        self.delta: Tensor | None = None
        self.stats = {"nfe": 0, "accepted": 0, "rejected": 0, "events": 0}

    # ---------------------------------------------------------------- the row view
    def rows(self, y: Sequence[Tensor]) -> State:
        return tuple(y) if self.batched else tuple(v.unsqueeze(0) for v in y)

    def user(self, y: State) -> State:
        return y if self.batched else tuple(v[0] for v in y)

    def at(self, values: Tensor) -> Tensor:
        """Float64 times ``[R]`` as the field's time argument, with each row's event graph."""
        tt = values.to(self.dtype)
        return tt if self.delta is None else tt + self.delta

    def field(self, tt: Tensor, y: State) -> State:
        self.stats["nfe"] += 1
        arg = self.user(y)
        out = self.func(tt if self.batched else tt[0], arg if self.is_tuple else arg[0])
        out = tuple(out) if self.is_tuple else (out,)
        if len(out) != len(self.shapes) or any(tuple(d.shape) != s for d, s in zip(out, self.shapes)):
            raise ValueError(f"func returned shapes {[tuple(d.shape) for d in out]}, expected {self.shapes}")
        return self.rows(out)

    def threshold64(self, i: int) -> Tensor | float:
        th = self.thresholds[i]
        if isinstance(th, Tensor):
            return th.detach().to(F64).expand(self.row_shapes[i]).reshape(self.R, -1)
        return float(th)

    def handle(self, crossing: Crossing, y: State) -> State:
        """Apply ``on_event``; rows without an event keep ``y``."""
        rows = crossing.rows
        self.stats["events"] += 1 if rows is None else int(rows.sum())
        if not self.batched:
            crossing = Crossing(
                crossing.time[0], float(crossing.time_value[0]), *(self.user(s) for s in
                (crossing.states, crossing.fixed_states, crossing.derivatives)),
                tuple(None if m is None else m[0] for m in crossing.crossed),
                tuple(None if m is None else m[0] for m in crossing.element_times),
            )
        out = self.on_event(crossing)
        out = tuple(out) if self.is_tuple else (out,)
        if len(out) != len(self.shapes) or any(
            not isinstance(v, Tensor) or tuple(v.shape) != s for v, s in zip(out, self.shapes)
        ):
            raise RuntimeError(
                f"on_event must return the state's structure and shapes {self.shapes}; got "
                f"{[tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__ for v in out]}"
            )
        out = self.rows(out)
        time = crossing.time.reshape(-1) if self.batched else crossing.time.reshape(1)
        delta = time - time.detach()
        if rows is None:
            self.delta = delta
            return out
        old = torch.zeros_like(delta) if self.delta is None else self.delta
        self.delta = torch.where(rows, delta, old)
        return _where(rows, out, y)

    # ---------------------------------------------------------------- event location
    def _first_crossing(self, dense: DenseOutput, live: Tensor) -> tuple[Tensor, Tensor, list[Tensor | None]] | None:
        """Per row: the fraction of the step of its earliest crossing (1 where none), the
        rows with a crossing, and the crossed masks; ``None`` if no row of ``live`` crosses."""
        watched = [i for i, th in enumerate(self.thresholds) if th is not None]
        coefs = {i: dense.flat64(i) for i in watched}
        ths = {i: self.threshold64(i) for i in watched}
        samples = torch.tensor(_SAMPLES, dtype=F64, device=self.device)

        def g(i: int, theta: Tensor, idx: tuple[Tensor, Tensor] | None = None) -> Tensor:
            c, th = coefs[i], ths[i]
            if idx is not None:  # one row of points per (row, element) pair: theta is [E, K]
                c = tuple(None if x is None else x[idx].unsqueeze(1) for x in c)
                th = th[idx].unsqueeze(1) if isinstance(th, Tensor) else th
            return DenseOutput.poly(theta, *c) - th

        # g at every sample fraction at once, [len(_SAMPLES), R, n] per component.
        seq = {i: g(i, samples.view(-1, 1, 1)) for i in watched}
        armed = {i: (seq[i][0] < 0) & live.unsqueeze(1) for i in watched}
        hits = {i: armed[i] & (seq[i][:-1] < 0) & (seq[i][1:] >= 0) for i in watched}
        last = len(_SAMPLES) - 1
        first = torch.full((self.R,), last, dtype=torch.long, device=self.device)
        for h in hits.values():
            any_hit = h.any(2)  # [S - 1, R]
            idx = torch.where(any_hit, torch.arange(last, device=self.device).unsqueeze(1), last).min(0).values
            first = torch.minimum(first, idx)
        found = first < last
        if not bool(found.any()):
            return None
        width = _SAMPLES[1] - _SAMPLES[0]
        best = torch.ones(self.R, dtype=F64, device=self.device)
        steps = torch.arange(1, _GRID + 1, dtype=F64, device=self.device) / _GRID
        columns = torch.arange(_GRID, device=self.device)
        jj = first.clamp_max(last - 1)
        for i in watched:
            sel = hits[i].gather(0, jj.view(1, -1, 1).expand(1, *hits[i].shape[1:]))[0] & found.unsqueeze(1)
            pairs = sel.nonzero()
            if pairs.shape[0] == 0:
                continue
            r, e = pairs[:, 0], pairs[:, 1]
            # Refine every bracket [lo, hi] (g(lo) < 0 <= g(hi)) by _GRID points at once.
            lo = samples[jj[r]].unsqueeze(1)
            hi = lo + width
            span = width
            while span > _BRACKET:
                pts = lo + span * steps
                pts[:, -1:] = hi
                up = g(i, pts, (r, e)) >= 0
                # the first point at or above the threshold (the last one always is)
                m = torch.where(up, columns, _GRID - 1).min(1, keepdim=True).values
                hi = pts.gather(1, m)
                lo = torch.where(m > 0, pts.gather(1, (m - 1).clamp_min(0)), lo)
                span /= _GRID
            best = best.scatter_reduce(0, r, hi[:, 0], reduce="amin")
        crossed: list[Tensor | None] = [None] * len(self.thresholds)
        for i in watched:
            mask = armed[i] & (g(i, best.view(-1, 1)) >= 0) & found.unsqueeze(1)
            crossed[i] = mask.reshape(self.row_shapes[i])
        return best, found, crossed

    def _crossing(self, dense: DenseOutput, t_now: Tensor, h: Tensor, theta: Tensor, found: Tensor, crossed: list) -> Crossing:
        t_value = t_now + theta * h
        frac = theta.to(self.dtype)
        if self.delta is not None:
            # the step moves with the previous event (finished rows have h = 0: divide by 1,
            # or their unused values would still send NaN into the backward pass)
            frac = frac - self.delta / torch.where(h > 0, h, torch.ones_like(h)).to(self.dtype)
        fixed = dense.at(frac)
        # The located time as a plain value: ``fixed`` already moves with earlier events
        # (through ``frac``), so the implicit-function term below carries them once.
        t_det = t_value.to(self.dtype)
        deriv = self.field(t_det, fixed)
        times: list[Tensor | None] = [None] * len(fixed)
        first = t_det.clone()
        earliest = torch.full((self.R,), math.inf, dtype=F64, device=self.device)
        for i, mask in enumerate(crossed):
            if mask is None:
                continue
            gval = fixed[i] - self.thresholds[i]
            gdot = deriv[i].detach()
            slope = torch.where(mask & (gdot > 0), gdot, torch.full_like(gdot, math.inf))
            times[i] = _column(t_det, gval) - torch.where(mask, (gval - gval.detach()) / slope, torch.zeros_like(gval))
            # The located (earliest) element of each row: the one closest below its
            # threshold at the start of the cut, i.e. with the smallest g at theta (all >= 0).
            flat_g = torch.where(mask, gval.detach(), torch.full_like(gval, math.inf)).reshape(self.R, -1)
            low, k = flat_g.to(F64).min(1)
            better = low < earliest
            earliest = torch.where(better, low, earliest)
            first = torch.where(better, times[i].reshape(self.R, -1).gather(1, k.unsqueeze(1))[:, 0], first)
        shift = first - t_det  # zero-valued: the implicit-function term alone
        moved = tuple(y + _column(shift, y) * d for y, d in zip(fixed, deriv))
        return Crossing(
            first, tuple(t_value.tolist()), moved, fixed, deriv, tuple(crossed), tuple(times),
            found if self.batched else None,
        )

    # ---------------------------------------------------------------- the loop
    def run(self) -> State:
        solver, tab, opts = self.solver, self.solver.tableau, self.opts
        times = self.t.detach().to(F64)
        R, n_out = self.R, times.shape[0]
        y = self.y0
        t_now = times[0].expand(R).clone()
        start = [None if th is None else (y[i].detach() >= th) for i, th in enumerate(self.thresholds)]
        at_start = torch.zeros(R, dtype=torch.bool, device=self.device)
        for m in start:
            if m is not None:
                at_start |= m.reshape(R, -1).any(1)
        if bool(at_start.any()):
            t0 = self.at(t_now)
            f0 = self.field(t0, y)
            start = [None if m is None else m & _column(at_start, m).bool() for m in start]
            crossing = Crossing(
                t0, tuple(t_now.tolist()), y, y, f0, tuple(start),
                tuple(None if m is None else _column(t0, m).expand_as(m) for m in start),
                at_start if self.batched else None,
            )
            y = self.handle(crossing, y)
        outs: list[State | None] = [self.y0] + [None] * (n_out - 1)
        if n_out == 1:
            return tuple(v.unsqueeze(0) for v in self.user(self.y0))
        t_end = float(times[-1])
        eps = torch.finfo(self.dtype).eps
        rtol, atol = opts["rtol"], opts["atol"]
        f = self.field(self.at(t_now), y)
        if opts["first_step"] is None:
            h = initial_step_rows(
                lambda tv, yy: self.field(self.at(tv), yy), t_now, y, f, tab.error_order, rtol, atol, t_end - t_now
            )
        else:
            h = torch.full((R,), float(opts["first_step"]), dtype=F64, device=self.device)
        control = PIController(tab.error_order, solver.safety, solver.min_factor, solver.max_factor, rows=R)
        nxt = torch.ones(R, dtype=torch.long, device=self.device)  # each row's next output index
        tried = torch.zeros(R, dtype=torch.long, device=self.device)
        while True:
            live = nxt < n_out
            # An event within the time dtype's resolution of the end leaves no step to
            # take: an Euler step over the remainder (error below that resolution) ends it.
            short = live & (t_end - t_now <= 4 * eps * abs(t_end))
            if bool(short.any()):
                y_end = tuple(v + _column(t_end - t_now, v) * d for v, d in zip(y, f))
                for n in range(n_out):
                    take = short & (nxt <= n)
                    outs[n] = y_end if outs[n] is None else _where(take, y_end, outs[n])
                nxt = torch.where(short, torch.full_like(nxt, n_out), nxt)
                live = live & ~short
            if not bool(live.any()):
                break
            if int(tried.max()) >= opts["max_num_steps"]:
                r = int(tried.argmax())
                raise RuntimeError(
                    f"odeint_events({tab.name!r}) reached options['max_num_steps']="
                    f"{opts['max_num_steps']} at t={float(t_now[r])!r}"
                    f"{f' in sample {r}' if self.batched else ''} (end {t_end!r}, step {float(h[r]):.3g}, "
                    f"{self.stats['events']} events); raise max_num_steps or loosen rtol/atol"
                )
            t_new = t_now + h
            clip = (t_new >= t_end) | (t_end - t_new <= 4 * eps * abs(t_end))
            t_new = torch.where(clip, torch.full_like(t_new, t_end), t_new)
            h = torch.where(live, t_new - t_now, torch.zeros_like(h))
            tiny = live & (h <= 4 * eps * torch.maximum(t_now.abs(), t_new.abs()).clamp_min(1e-300))
            if bool(tiny.any()):
                r = int(tiny.nonzero()[0])
                raise RuntimeError(
                    f"odeint_events({tab.name!r}): the step size fell to {float(h[r]):.3g} at "
                    f"t={float(t_now[r])!r}, below the resolution of {self.dtype}"
                )
            hs = tuple(_column(h, v) for v in y)
            y_new, ks, err_est = solver.attempt(self.field, lambda c, t0=t_now, h=h: self.at(t0 + c * h), y, f, hs)
            err = row_error_norm(err_est, y, y_new, rtol, atol)
            ok = live & (err <= 1.0)
            tried += live.long()
            self.stats["accepted"] += int(ok.sum())
            self.stats["rejected"] += int((live & ~ok).sum())
            h_next = h * control.factors(torch.where(live, err, torch.zeros_like(err)), ok | ~live)
            if not bool(ok.any()):
                h = h_next
                continue
            f_new = ks[-1] if tab.fsal else self.field(self.at(t_new), y_new)
            dense = DenseOutput(tab, y, y_new, ks, f_new, hs)
            located = self._first_crossing(dense, ok)
            theta = torch.ones(R, dtype=F64, device=self.device)
            found = torch.zeros(R, dtype=torch.bool, device=self.device)
            if located is not None:
                theta, found, crossed = located
            t_stop = t_now + theta * h
            self._outputs(outs, dense, times, nxt, ok, t_now, h, t_stop)
            y_next, f_next = _where(ok, y_new, y), _where(ok, f_new, f)
            t_next = torch.where(ok, t_new, t_now)
            if located is not None:
                crossing = self._crossing(dense, t_now, h, theta, found, crossed)
                y_next = self.handle(crossing, y_next)
                t_next = torch.where(found, t_stop, t_next)
                # a new first stage where an event restarted the row: FSAL does not carry over
                f_next = _where(found, self.field(self.at(t_next), y_next), f_next)
            y, f, t_now = y_next, f_next, t_next
            h = torch.where(live, h_next, h)
        ys = tuple(torch.stack([o[i] for o in outs]) for i in range(len(self.y0)))
        return ys if self.batched else tuple(v[:, 0] for v in ys)

    def _outputs(self, outs, dense, times, nxt, ok, t_now, h, t_stop) -> None:
        """Record the dense output at every requested time each accepted row passed."""
        safe_h = torch.where(h > 0, h, torch.ones_like(h))
        reach = float(torch.where(ok, t_stop, torch.full_like(t_stop, -math.inf)).max())
        n = int(torch.where(ok, nxt, times.shape[0]).min())
        while n < times.shape[0] and float(times[n]) <= reach:
            take = ok & (nxt == n) & (times[n] <= t_stop)
            if not bool(take.any()):
                n += 1
                continue
            frac = ((times[n] - t_now) / safe_h).to(self.dtype)
            if self.delta is not None:
                frac = frac - self.delta / safe_h.to(self.dtype)
            value = dense.at(frac)
            outs[n] = value if outs[n] is None else _where(take, value, outs[n])
            nxt += take.long()
            n += 1
