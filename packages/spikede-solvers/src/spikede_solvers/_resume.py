"""Saving a solve's history and continuing from it: :class:`History`.

A continued solve is the tail of one long solve. Its grid starts at the saved end time;
the method sees a *virtual* grid, the saved times followed by the new ones, and starts
its loop at the saved last point with its buffers and carried values restored, so every
weight, history sum and index is the one the long solve would use. Only what the method
still reads is saved:

* full history: every row (and every grid time), so chunked equals one run to rounding;
* ``memory=M``: the last ``M`` rows and ``M + 1`` times;
* ``history="soe"``: the last ``window`` rows, the running exponential sums over the
  older ones, and the fitted tail, which later chunks reuse (they never refit it);
* integer-order methods: the state alone.

The saved rows keep their index in the whole run; ``History.offset`` is the index of
the first saved time, so a method whose weights depend on the absolute step index
(``trap``'s initial-value weight) reads it from :attr:`Problem.offset`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from spikede_solvers._base import Problem, Stepper
from spikede_solvers._history import History as _Buffer
from spikede_solvers._soe import SoeTail
from spikede_solvers._stream import StreamingHistory
from spikede_solvers._stream_exact import ExactStreamingHistory

__all__ = ["History", "Saved", "export_history", "kept_from", "restore_history", "saved_history"]


@dataclass(frozen=True, eq=False)
class Saved:
    """One component's saved history buffer.

    Attributes:
        rows: The explicit rows ``[R, *shape]``; ``rows[j]`` is row ``first + j`` of the
            whole run.
        first: Index of ``rows[0]``.
        sums: ``history="soe"``: the running sums ``[K + 1, *shape]`` over the rows
            ``sum_start .. first - 1`` (``None`` when no row has left the exact window).
        sum_start: First row of the running sums.
        tail: The fitted tail the running sums belong to (``None`` without sums).
    """

    rows: Tensor
    first: int
    sums: Tensor | None = None
    sum_start: int = 0
    tail: SoeTail | None = None

    def _map(self, fn: Any) -> Saved:
        tail = self.tail
        if tail is not None:
            tail = SoeTail(tail.window, fn(tail.decays), fn(tail.amplitudes))
        sums = None if self.sums is None else fn(self.sums)
        return dataclasses.replace(self, rows=fn(self.rows), sums=sums, tail=tail)


@dataclass(frozen=True, eq=False)
class History:
    """Everything a method needs to continue a solve: pass it as ``initial_history``.

    :func:`~spikede_solvers.solve` returns one with ``return_history=True`` (as
    ``Solution.history``). A solve given ``initial_history=H`` continues the run: its
    grid must start at ``H.end_time`` (the previous grid's last point, whose state is
    ``H.y``), and ``solve(t[:k+1])`` then ``solve(t[k:], initial_history=H)`` equals one
    solve over ``t``: to rounding with the full history and with ``memory=M``; with
    ``history="soe"`` the tail fitted by the first solve is reused, which differs from
    one long solve's fit by the fit's error (see the docs). The continued solve's first
    row (states and auxiliary outputs) is the point ``t[k]`` again.

    What is kept: the full history keeps every row (memory grows with the run); with
    ``memory=M`` or ``history="soe"`` the saved history has a fixed size, so a chunk of a
    stream costs the same whatever came before. The method, the orders, ``memory`` and
    the history options must be those of the solve that made it (checked).

    Attributes:
        method: The method that made it.
        times: The grid times still needed, ``times[-1]`` the end time.
        offset: Index of ``times[0]`` in the whole run.
        y: The state at the end time, one tensor per component.
        y0: The initial value of the whole run (the Caputo initial value).
        saved: Per component, its saved buffer (``None`` for integer-order methods).
        carry: Values a step hands to the next (e.g. the previous field value), one
            tensor per component each.
        orders: Per component, ``(orders, coefficients)`` (detached; ``None`` for
            integer-order methods).
        memory: The solve's ``memory``.
        history_options: The solve's ``history``, ``soe_window``, ``soe_terms`` and ``soe_tol``.

    Example:
        >>> import torch
        >>> from spikede_solvers import solve
        >>> def field(t, y, args, step):
        ...     return (-y[0],)
        >>> t = torch.linspace(0.0, 2.0, 9, dtype=torch.float64)
        >>> y0 = (torch.ones(3, dtype=torch.float64),)
        >>> whole = solve(field, y0, t, "gl", alpha=0.6).ys[0]
        >>> first = solve(field, y0, t[:5], "gl", alpha=0.6, return_history=True)
        >>> rest = solve(field, None, t[4:], "gl", alpha=0.6, initial_history=first.history)
        >>> torch.allclose(torch.cat([first.ys[0], rest.ys[0][1:]]), whole)
        True
    """

    method: str
    times: Tensor
    offset: int
    y: tuple[Tensor, ...]
    y0: tuple[Tensor, ...]
    saved: tuple[Saved | None, ...]
    carry: dict[str, tuple[Tensor, ...]]
    orders: tuple[tuple[Tensor | None, Tensor | None], ...]
    memory: int | None
    history_options: tuple[Any, ...]

    @property
    def end_time(self) -> Tensor:
        """The time of the last point (where a continued grid starts), 0-d."""
        return self.times[-1]

    @property
    def steps(self) -> int:
        """Number of steps taken since the start of the whole run."""
        return self.offset + self.times.shape[0] - 1

    def _map(self, fn: Any) -> History:
        def many(ts: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            return tuple(fn(v) for v in ts)

        return dataclasses.replace(
            self,
            times=fn(self.times),
            y=many(self.y),
            y0=many(self.y0),
            saved=tuple(None if s is None else s._map(fn) for s in self.saved),
            carry={k: many(v) for k, v in self.carry.items()},
            orders=tuple(
                (None if o is None else fn(o), None if c is None else fn(c)) for o, c in self.orders
            ),
        )

    def to(self, *args: Any, **kwargs: Any) -> History:
        """A copy with every tensor converted by ``Tensor.to(*args, **kwargs)``.

        Example:
            >>> import torch
            >>> from spikede_solvers import solve
            >>> sol = solve(lambda t, y, a, s: (-y[0],), (torch.ones(2),), torch.arange(3.0),
            ...             "euler", return_history=True)
            >>> sol.history.to(torch.float64).y[0].dtype
            torch.float64
        """
        return self._map(lambda v: v.to(*args, **kwargs))

    def detach(self) -> History:
        """A copy whose tensors are detached from the autograd graph (truncated
        backpropagation through time: the next chunk's gradient stops here).

        Example:
            >>> import torch
            >>> from spikede_solvers import solve
            >>> y0 = (torch.ones(2, requires_grad=True),)
            >>> sol = solve(lambda t, y, a, s: (-y[0],), y0, torch.arange(3.0), "euler",
            ...             return_history=True)
            >>> sol.history.y[0].requires_grad, sol.history.detach().y[0].requires_grad
            (True, False)
        """
        return self._map(lambda v: v.detach())

    def _requires_grad(self) -> bool:
        values = [*self.y, *self.y0, *(v for vs in self.carry.values() for v in vs)]
        return any(v.requires_grad for v in values)


def history_options(options: dict[str, Any]) -> tuple[Any, ...]:
    """The options that shape a history (a continued solve must repeat them)."""
    mode = options.get("history", "full")
    if mode != "soe":
        return (mode,)
    return (mode, options.get("soe_window"), options.get("soe_terms"), options.get("soe_tol"))


# ---------------------------------------------------------------- saving
def _covers(buffer: Any, fused: Any) -> int:
    """Number of state components one buffer holds."""
    if fused is not None:
        return len(fused.sizes)
    if isinstance(buffer, (StreamingHistory, ExactStreamingHistory)):
        return len(buffer.shapes)
    return 1


def _rows_of(buffer: Any, lo: int, hi: int) -> Tensor:
    """Rows ``lo .. hi`` of a buffer, flat ``[R, features]`` (a copy)."""
    if hi < lo:
        return _flat_rows(buffer).new_zeros((0, _flat_rows(buffer).shape[1]))
    return buffer.buf[lo : hi + 1].reshape(hi - lo + 1, -1).clone()


def _flat_rows(buffer: Any) -> Tensor:
    return buffer.buf.reshape(buffer.buf.shape[0], -1)


def _save_buffer(buffer: Any, problem: Problem) -> tuple[Tensor, int, Tensor | None, int, SoeTail | None]:
    """``(rows, first, sums, sum_start, tail)`` of one buffer (flat rows, virtual indices)."""
    last = buffer.last
    if isinstance(buffer, StreamingHistory):
        rows, first, sums, tail = buffer.saved()
        return rows, first, sums, 0, tail
    tail = buffer.tail
    if tail is not None and buffer.soe_first is not None:
        fold_to = last - tail.window
        if fold_to >= buffer.soe_first:
            sums = buffer.soe.clone()
            for r in range(buffer.soe_fed, fold_to + 1):  # rows the next reads would add
                sums = torch.addcmul(buffer.buf[r], sums, tail.decays)
            flat = sums.reshape(sums.shape[0], -1)
            amplitudes = tail.amplitudes.detach()
            saved_tail = SoeTail(tail.window, tail.decays.reshape(-1), amplitudes)
            return _rows_of(buffer, fold_to + 1, last), fold_to + 1, flat, buffer.soe_first, saved_tail
    first = 0 if problem.memory is None else max(0, last - problem.memory + 1)
    return _rows_of(buffer, first, last), first, None, 0, None


def _split(flat: Tensor, shapes: list[torch.Size], lead: int) -> list[Tensor]:
    sizes = [math.prod(s) for s in shapes]
    parts = flat.split(sizes, dim=1)
    return [p.reshape(lead, *s) for p, s in zip(parts, shapes)]


def export_history(
    method: str,
    problem: Problem,
    stepper: Stepper,
    y: tuple[Tensor, ...],
    fused: Any,
    shapes: list[torch.Size],
) -> History:
    """The :class:`History` at the end of a solve (before the stepper is released).

    ``problem`` is the solve's (unfused) problem, ``y`` the final state per component,
    ``fused`` the fusion in use (or ``None``), ``shapes`` the components' shapes.
    """
    n_end = problem.n_points - 1  # virtual index of the last point
    saved: list[Saved | None] = []
    shift = n_end
    k = 0
    for buffer in getattr(stepper, "bufs", ()):
        count = _covers(buffer, fused)
        rows, first, sums, sum_start, tail = _save_buffer(buffer, problem)
        comp_shapes = shapes[k : k + count]
        parts = _split(rows, comp_shapes, rows.shape[0])
        sum_parts = [None] * count if sums is None else _split(sums, comp_shapes, sums.shape[0])
        for r, s in zip(parts, sum_parts):
            saved.append(Saved(r, first + problem.offset, s, sum_start + problem.offset, tail))
        shift = min(shift, kept_from(first, sums is not None, problem))
        k += count
    if not saved:
        saved = [None] * len(problem.y0)
    carry = {}
    for name in type(stepper).carry:
        value = tuple(getattr(stepper, name))
        if fused is not None and value:
            value = fused.split(value[0])
        carry[name] = value
    return saved_history(method, problem, shift, tuple(y), tuple(saved), carry)


def kept_from(first: int, has_sums: bool, problem: Problem) -> int:
    """The first point a continued solve needs of one buffer whose saved rows start at
    ``first`` (see the module doc): the point before them with running sums, the last
    ``memory`` steps' with short memory, else every point."""
    if has_sums:
        return first - 1
    if problem.memory is not None:
        return max(0, problem.n_points - 1 - problem.memory)
    return 0


def saved_history(
    method: str,
    problem: Problem,
    shift: int,
    y: tuple[Tensor, ...],
    saved: tuple[Saved | None, ...],
    carry: dict[str, tuple[Tensor, ...]],
) -> History:
    """The :class:`History` of a solve of ``problem`` ending in state ``y``, keeping the
    grid from point ``shift`` on."""
    orders = tuple(
        (
            None if c.orders is None else c.orders.detach().clone(),
            None if c.coefficients is None else c.coefficients.detach().clone(),
        )
        for c in problem.components
    )
    return History(
        method=method,
        times=problem.t[shift:].detach().clone(),
        offset=problem.offset + shift,
        y=y,
        y0=tuple(problem.y0),
        saved=saved,
        carry=carry,
        orders=orders,
        memory=problem.memory,
        history_options=history_options(problem.options),
    )


# ---------------------------------------------------------------- restoring
def _restore_buffer(buffer: Any, parts: list[Saved], offset: int) -> None:
    first = parts[0].first - offset
    rows = torch.cat([p.rows.reshape(p.rows.shape[0], -1) for p in parts], dim=1)
    count = rows.shape[0]
    last = first + count - 1
    sums = None
    if parts[0].sums is not None:
        sums = torch.cat([p.sums.reshape(p.sums.shape[0], -1) for p in parts], dim=1)
    tail = parts[0].tail
    if isinstance(buffer, StreamingHistory):
        buffer.restore(rows, first, sums, tail)
        return
    if count:
        buffer.buf[first : last + 1] = rows.reshape(count, *buffer.buf.shape[1:])
        buffer.last = max(buffer.last, last)
    if sums is not None:
        assert tail is not None and buffer.tail is not None
        like = buffer.buf.shape[1:]
        buffer.tail = SoeTail(
            tail.window, tail.decays.reshape(-1, *([1] * len(like))), tail.amplitudes
        )
        buffer.soe = sums.reshape(sums.shape[0], *like).clone()
        buffer.soe_first = parts[0].sum_start - offset
        buffer.soe_fed = first


def restore_history(stepper: Stepper, history: History, fused: Any, offset: int) -> None:
    """Load a saved history into a stepper set up on the continued (virtual) grid."""
    k = 0
    for buffer in getattr(stepper, "bufs", ()):
        count = _covers(buffer, fused)
        parts = [s for s in history.saved[k : k + count] if s is not None]
        if len(parts) == count:
            _restore_buffer(buffer, parts, offset)
        k += count
    for name in type(stepper).carry:
        value = history.carry.get(name, ())
        if fused is not None and value:
            value = (torch.cat([v.reshape(-1) for v in value]),)
        setattr(stepper, name, tuple(value))


def is_buffer(obj: Any) -> bool:
    """Whether ``obj`` is a history buffer this module can save."""
    return isinstance(obj, (_Buffer, StreamingHistory, ExactStreamingHistory))


# ---------------------------------------------------------------- checking
def _describe(orders: tuple[tuple[Tensor | None, Tensor | None], ...]) -> list[Any]:
    out = []
    for o, _ in orders:
        if o is None:
            out.append(None)
        else:
            out.append([round(v, 6) for v in o.detach().reshape(-1).tolist()])
    return out


def continued_grid(history: Any, y0: Any, t: Any, method: Any) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Check the start of a continued solve; return its virtual grid and initial value.

    Raises:
        TypeError: If ``history`` is not a :class:`History`, or ``t`` not a tensor.
        ValueError: If ``y0`` is given, the method differs, or ``t`` does not start at
            the history's end time with at least one new point.
    """
    if not isinstance(history, History):
        raise TypeError(
            f"initial_history must be a spikede_solvers.History (Solution.history of a solve "
            f"with return_history=True) or None, got {type(history).__name__}"
        )
    if y0 is not None:
        raise ValueError(
            "y0 must be None when initial_history is given: the history holds the state at "
            "t[0] and the run's initial value"
        )
    if method != history.method:
        raise ValueError(
            f"method={method!r} does not match initial_history, which method "
            f"{history.method!r} made; continue with the same method"
        )
    if not isinstance(t, Tensor) or t.dim() != 1 or not t.is_floating_point():
        raise TypeError("t must be a 1-d floating Tensor of time points")
    if t.shape[0] < 2:
        raise ValueError(
            f"t must hold the history's end time and at least one new point; got {t.shape[0]} point(s)"
        )
    end = history.end_time.to(dtype=t.dtype, device=t.device)
    scale = max(1.0, abs(float(end)))
    tol = 16.0 * torch.finfo(t.dtype).eps * scale
    if abs(float(t[0].detach()) - float(end)) > tol:
        raise ValueError(
            f"t[0]={float(t[0])!r} must equal the end time of initial_history, {float(end)!r}: a "
            f"continued grid starts at the previous grid's last point"
        )
    grid = torch.cat([history.times[:-1].to(dtype=t.dtype, device=t.device), t])
    return grid, tuple(history.y0)


def check_continued(history: History, problem: Problem) -> None:
    """Refuse a history that does not fit the continued problem (orders, shapes, options).

    Raises:
        ValueError: On any mismatch, naming it.
    """
    if len(history.y) != len(problem.y0) or len(history.orders) != len(problem.components):
        raise ValueError(
            f"initial_history has {len(history.y)} state component(s), the solve {len(problem.y0)}"
        )
    if history.memory != problem.memory:
        raise ValueError(
            f"memory={problem.memory!r} does not match initial_history's memory={history.memory!r}"
        )
    if history_options(problem.options) != history.history_options:
        raise ValueError(
            f"options {dict(zip(('history', 'soe_window', 'soe_terms', 'soe_tol'), history_options(problem.options)))} "
            f"do not match initial_history's "
            f"{dict(zip(('history', 'soe_window', 'soe_terms', 'soe_tol'), history.history_options))}"
        )
    for i, ((o, c), comp) in enumerate(zip(history.orders, problem.components)):
        now = comp.orders
        if (o is None) != (now is None) or (c is None) != (comp.coefficients is None):
            raise ValueError(f"component {i}: the orders' form differs from initial_history's")
        if o is None:
            continue
        if tuple(o.shape) != tuple(now.shape) or (
            c is not None and tuple(c.shape) != tuple(comp.coefficients.shape)
        ):
            raise ValueError(
                f"component {i}: orders of shape {tuple(now.shape)} do not match initial_history's "
                f"{tuple(o.shape)}"
            )
        learnable = now.requires_grad or (c is not None and comp.coefficients.requires_grad)
        same = torch.allclose(o.to(now), now.detach()) and (
            c is None or torch.allclose(c.to(comp.coefficients), comp.coefficients.detach())
        )
        if not same and not learnable:
            raise ValueError(
                f"component {i}: orders {_describe(((now, comp.coefficients),))[0]} differ from "
                f"initial_history's {_describe(((o, c),))[0]}; continue with the same orders "
                f"(a learnable order may change between chunks)"
            )
    if torch.is_grad_enabled() and problem.components[0].orders is not None and history._requires_grad():
        raise ValueError(
            "initial_history holds tensors that require grad: a fractional method's saved history "
            "carries no gradient, so the gradient would stop part-way; call history.detach() "
            "first (truncated backpropagation through time), or continue under torch.no_grad()"
        )
