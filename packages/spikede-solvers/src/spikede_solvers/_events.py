"""Adaptive integration with threshold-crossing events located on the dense output.

:func:`odeint_events` integrates ``y' = f(t, y)`` with an adaptive pair (``dopri5``,
``bosh3``) and watches chosen state components for upward threshold crossings
``y_i - theta_i: - -> +``. After each accepted step the step's dense output is sampled
at ``theta = 0.25, 0.5, 0.75, 1``; the first sample interval where an element crosses is
narrowed (by rounds of 32 subintervals, to ``1e-12`` of the step, in float64) on the same
polynomial, the earliest crossing ends the step there, ``on_event`` maps the state, and
integration restarts at the event: a new first stage is evaluated (the FSAL stage of the
cut step belongs to the discarded part) and the step size proposed by the controller is
kept.

With ``batched=True`` every sample of a batch takes its own steps and has its own events
(the loop, on rows of the state, is in :mod:`spikede_solvers._event_loop`).

Gradients. The event time is a function of everything the trajectory depends on, by the
implicit-function theorem: at a crossing ``g(t*) = y_i(t*) - theta_i = 0``,
``dt*/dp = -(dg/dp) / (dg/dt)``. It enters the graph as
``t* = t_det - (g - g.detach()) / gdot.detach()`` (``t_det`` the located value,
``g`` the dense-output value at the fixed time ``t_det``, ``gdot = f_i`` there), and the
state handed to ``on_event`` as ``y_det + (t* - t_det) f`` (the same values; its
derivative in ``t*`` is the field). Every later time of the row, stage times and
dense-output fractions included, carries ``t*``'s graph, so the trajectory after an
event is shifted with the event as the exact solution is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from spikede_solvers._adaptive import AdaptiveSolver
from spikede_solvers._adaptive_options import check_adaptive_options
from spikede_solvers._checks import _check_states, check_options
from spikede_solvers._crossing import Crossing
from spikede_solvers._event_loop import EventLoop
from spikede_solvers._registry import SOLVERS

__all__ = ["Crossing", "odeint_events"]

State = tuple[Tensor, ...]
F64 = torch.float64

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


def _check_batched(batched: Any, states: State) -> bool:
    if not isinstance(batched, bool):
        raise TypeError(f"batched must be a bool; got {type(batched).__name__}")
    if batched:
        lead = {tuple(y.shape[:1]) for y in states}
        if any(y.dim() == 0 for y in states) or len(lead) != 1:
            raise ValueError(
                "batched=True needs every state component to have the same first (batch) "
                f"dimension; got shapes {[tuple(y.shape) for y in states]}"
            )
    return batched


def odeint_events(
    func: Callable[[Tensor, Any], Any],
    y0: Tensor | Sequence[Tensor],
    t: Tensor,
    thresholds: Sequence[float | Tensor | None],
    on_event: Callable[[Crossing], Any],
    method: str = "dopri5",
    *,
    options: dict[str, Any] | None = None,
    batched: bool = False,
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

    With ``batched=True``, dim 0 of every component indexes independent systems (a
    batch): each sample takes its own steps under its own error control and restarts
    only at its own events, so the number of rounds is that of the busiest sample
    rather than the batch's total event count. ``func`` then receives one time per
    sample (``t`` of shape ``[B]``) and must not mix samples.

    Args:
        func: Vector field ``func(t, y)``, ``t`` a 0-d tensor of ``y0``'s dtype (``[B]``
            when batched).
        y0: Initial state: a floating tensor or a tuple of them.
        t: Strictly increasing 1-d times where the solution is returned.
        thresholds: One entry per state component: a number, a tensor broadcastable to
            the component (may require grad), or ``None`` for no events.
        on_event: ``on_event(crossing) -> y`` returns the state after the event (the
            structure and shapes of ``y0``).
        method: An adaptive method, ``"dopri5"`` or ``"bosh3"``.
        options: ``rtol``, ``atol``, ``first_step``, ``max_num_steps`` (accepted steps
            and events count, rejected steps too; per sample when batched), as for
            :func:`odeint`.
        batched: Step the samples along dim 0 of every component independently.

    Returns:
        ``(ys, stats)``: the solution at ``t`` (``[len(t), ...]``, a tensor or a tuple as
        ``y0``; at an event time, the value before ``on_event``) and the counts ``nfe``
        (evaluations of ``func``), ``accepted``, ``rejected`` and ``events`` (summed over
        the samples when batched).

    Raises:
        TypeError: For a non-callable ``func``/``on_event`` or wrongly typed arguments.
        ValueError: For a non-adaptive ``method``, bad options, times or thresholds, or
            components without a common batch dimension when ``batched=True``.
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
    batched = _check_batched(batched, states)
    opts = check_options(method, options)
    if opts.pop("checkpoint", False):
        raise ValueError("options['checkpoint'] is not supported by odeint_events")
    opts = check_adaptive_options(opts, states)
    ths = _check_thresholds(thresholds, states)
    loop = EventLoop(func, states, is_tuple, t, ths, on_event, solver, opts, batched)
    ys = loop.run()
    return (ys if is_tuple else ys[0]), loop.stats
