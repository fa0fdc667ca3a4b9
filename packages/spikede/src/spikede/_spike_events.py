"""Spikes located in time: ``SNNWrapper(integrator="odeint", method="dopri5" | "bosh3")``.

Between spikes every membrane follows its neuron's sub-threshold equation
(:meth:`spikede_fx.BaseNeuron.subthreshold`, no reset impulse), integrated by
:func:`spikede_solvers.odeint_events` on the network's event graph
(:mod:`spikede_fx._event_graph`). A crossing of a neuron's threshold from below is an
event, located in time on the method's dense output; at the event, in the order of the
model's neuron calls:

1. every neuron of the layer at or above its threshold fires: its membrane is mapped by
   :meth:`~spikede_fx.BaseNeuron.event_reset` (again while it stays at or above, so a
   large jump can emit several spikes at one time);
2. its spikes reach the layers downstream as impulses of unit area in the units of
   ``x_time``: a spike vector ``s`` makes the field of a later layer ``j`` jump by
   ``f_j(s) - f_j(0)`` (its derivative with and without the spikes, the rest unchanged),
   and its membrane jumps by that amount times one unit of time. For ``current = W s +
   b`` into a LIF neuron this is ``W s / tau``; into an IF neuron ``W s``: exactly what
   one explicit Euler step of unit size adds for a spike, so the grid methods at unit
   steps and the events agree on what a spike does downstream. A layer pushed over its
   threshold fires at the same time (step 1 for it).

Output row ``n`` is the head applied to the spikes counted in ``(t_{n-1}, t_n]`` of the
output grid (``t_{-1} = -inf``): the graph is evaluated at ``(t_n, v(t_n))`` with the
counts as every layer's spikes, which gives the head's inputs. A grid method's row ``n``
holds the spike of the step from ``t_n`` to ``t_{n+1}``, so at unit steps the event rows
are those of the grid one row later.

Training: a counted spike is 1 in the forward pass and carries the neuron's surrogate
derivative (:meth:`~spikede_fx.BaseNeuron.event_spike`) at the membrane of the crossing,
with the time held fixed, so losses on the output train as with the grid methods. The
event times are differentiable by the implicit-function theorem (recorded as
``rec.spike_times``).

Batches: every sample takes its own steps, under its own error control, and restarts only
at its own events (``odeint_events(..., batched=True)``), so a batch costs about as many
rounds as its busiest sample. A model whose layers mix the samples of a batch (batch
normalisation in training mode) cannot be stepped per sample: its samples share the
solver's steps, with a warning, and every spike in the batch then cuts the step of all.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

from spikede import _state
from spikede._recording import Recording, RecordingPlan, layer_names
from spikede._state import State
from spikede_fx import ODEFuncFromFX
from spikede_solvers import Crossing, odeint_events

__all__ = ["check_event_neurons", "forward_events", "solve_events"]

#: Relative tolerance of an event time at an output time (see _Events.counts).
_BIN_TOL = {torch.float64: 1e-10, torch.float32: 1e-6, torch.float16: 1e-3, torch.bfloat16: 1e-2}
#: Resets of one neuron at one event before its reset map is declared not to converge.
_MAX_RESETS = 1000


def check_event_neurons(odefunc: ODEFuncFromFX, layer_names: list[str], method: str) -> None:
    """Raise ``ValueError`` naming every neuron layer that cannot place spikes at events."""
    problems = []
    for name, neuron in zip(layer_names, odefunc.network.neurons()):
        reason = neuron.events_unsupported()
        if reason is not None:
            problems.append(f"layer {name!r} ({type(neuron).__name__}): {reason}")
    if problems:
        raise ValueError(
            f"method={method!r} places spikes at located threshold crossings, which needs "
            "each neuron's event interface (BaseNeuron.subthreshold, event_threshold, "
            "event_reset); " + "; ".join(problems) + ". Use a grid method (euler, midpoint, rk4) "
            "for these neurons"
        )


class _Events:
    """The per-call bookkeeping of one event solve: spikes at each event, their times."""

    def __init__(self, odefunc: ODEFuncFromFX, args: Any, layer_names: list[str], keep_times: set[int]):
        net = odefunc.network
        self.graph = net.event()
        self.neurons = net.neurons()
        self.args = args
        self.names = layer_names
        self.n = len(self.neurons)
        self.keep_times = keep_times
        self.zeros: tuple[Tensor, ...] = ()
        self.events: list[tuple[float, list[Tensor | None]]] = []
        self.times: dict[int, list[Tensor]] = {k: [] for k in keep_times}
        self.nfe = 0

    def evaluate(self, t: Tensor, v: tuple[Tensor, ...], spikes: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        self.nfe += 1
        return self.graph(*v, *spikes, self.args.interpolator(t), *self.args.extras)

    def field(self, t: Tensor, v: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return self.evaluate(t, v, self.zeros)[: self.n]

    def threshold(self, k: int) -> Tensor | float:
        th = self.neurons[k].event_threshold()
        return th.detach() if isinstance(th, Tensor) else th

    def on_event(self, c: Crossing) -> tuple[Tensor, ...]:
        v = list(c.states)
        spikes = list(self.zeros)
        emitted: list[Tensor | None] = [None] * self.n
        for k, neuron in enumerate(self.neurons):
            th = self.threshold(k)
            # per-sample steps: only the samples with an event at this call take part
            rows = None if c.rows is None else c.rows.reshape(-1, *([1] * (v[k].dim() - 1)))

            def above(value: Tensor, th: Tensor | float = th, rows: Tensor | None = rows) -> Tensor:
                up = value.detach() >= th
                return up if rows is None else up & rows

            fire = above(v[k])
            if c.crossed[k] is not None:
                fire = fire | c.crossed[k]
            if not bool(fire.any()):
                continue
            # The surrogate sees the membrane at the crossing with the time held fixed
            # (plus what this event's upstream spikes added), as a grid method's would.
            u = c.fixed_states[k] + (v[k] - c.states[k])
            total = torch.zeros_like(v[k])
            for _ in range(_MAX_RESETS):
                surrogate = neuron.event_spike(u)
                s = fire.to(v[k].dtype) + (surrogate - surrogate.detach())
                if rows is not None:
                    s = torch.where(rows, s, torch.zeros_like(s))
                total = total + s
                v[k] = neuron.event_reset(v[k], s)
                u = neuron.event_reset(u, s)
                fire = above(v[k])
                if not bool(fire.any()):
                    break
            else:
                raise RuntimeError(
                    f"neuron layer {self.names[k]!r} ({type(neuron).__name__}) stays at or above "
                    f"its threshold after {_MAX_RESETS} resets at t={c.time_value!r}: its "
                    "event_reset must bring the membrane below event_threshold()"
                )
            emitted[k] = total
            if k in self.keep_times:
                self._keep_times(k, total, c)
            if k < self.n - 1:  # the downstream response to a unit impulse of these spikes
                before = self.evaluate(c.time, tuple(v), tuple(spikes))
                spikes[k] = total
                after = self.evaluate(c.time, tuple(v), tuple(spikes))
                for j in range(k + 1, self.n):
                    v[j] = v[j] + (after[j] - before[j])
            else:
                spikes[k] = total
        self.events.append((c.time_value, emitted))
        return tuple(v)

    def _keep_times(self, k: int, total: Tensor, c: Crossing) -> None:
        counts = total.detach().round().long()
        idx = counts.nonzero()
        crossed = c.crossed[k]
        own = c.element_times[k]
        at = c.time if c.time.dim() == 0 else c.time.reshape(-1, *([1] * (total.dim() - 1)))
        time = at.expand_as(total) if crossed is None else torch.where(crossed, own, at)
        values = time[tuple(idx.T)]
        repeat = counts[tuple(idx.T)]
        rows = torch.cat([idx.to(time.dtype), values.unsqueeze(1)], dim=1)
        self.times[k].append(rows.repeat_interleave(repeat, dim=0))

    def counts(self, t_out: Tensor) -> list[Tensor]:
        """Spikes of every layer counted in ``(t_{n-1}, t_n]``: ``[N, B, ...]`` each."""
        out = []
        for k, z in enumerate(self.zeros):
            rows = [(t, e[k]) for t, e in self.events if e[k] is not None]
            acc = z.new_zeros((t_out.shape[0], *z.shape))
            if rows:
                batch = z.shape[0]
                # one time per event and sample (a float: shared by the batch)
                when = torch.tensor(
                    [[t] * batch if isinstance(t, float) else list(t) for t, _ in rows],
                    dtype=torch.float64,
                    device=t_out.device,
                )
                # A crossing is located at or just after its root: one within the location
                # tolerance after an output time counts at that time.
                edges = t_out.detach().to(torch.float64)
                edges = edges + _BIN_TOL[t_out.dtype] * edges.abs().clamp_min(1.0)
                idx = torch.searchsorted(edges, when.reshape(-1)).clamp_max(t_out.shape[0] - 1)
                sample = torch.arange(batch, device=t_out.device).repeat(len(rows))
                spikes = torch.stack([s for _, s in rows]).flatten(0, 1)
                acc = acc.index_put((idx, sample), spikes, accumulate=True)
            out.append(acc)
        return out

    def spike_times(self, k: int, like: Tensor) -> Tensor:
        rows = self.times[k]
        if not rows:
            return like.new_zeros((0, like.dim() + 1))
        table = torch.cat(rows)
        return table[torch.sort(table[:, -1].detach(), stable=True).indices]


def _batch_coupling(model: torch.nn.Module) -> str | None:
    """The first layer whose output in this mode depends on other samples, or ``None``."""
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and (
            module.training or not module.track_running_stats
        ):
            mode = "in training mode" if module.training else "without running statistics"
            return f"layer {name!r} ({type(module).__name__} {mode})"
    return None


def solve_events(
    odefunc: ODEFuncFromFX,
    v0: tuple[Tensor, ...],
    x: Tensor,
    x_time: Tensor,
    t_solve: Tensor,
    t_out: Tensor,
    method: str,
    options: dict[str, Any],
    layer_names: list[str],
    model_args: tuple,
    model_kwargs: dict[str, Any],
    plan: RecordingPlan | None,
) -> tuple[Any, tuple[Tensor, ...], Recording | None, dict[str, int]]:
    """Integrate with spikes located as events; apply the head to the counted spikes.

    Args:
        odefunc: The wrapper's traced network.
        v0: Initial membranes ``[B, ...]``, one per neuron call.
        x: Input samples ``[T, B, ...]``.
        x_time: Their times ``[T]``.
        t_solve: The solve's times: the start, then ``t_out`` (without a repeat).
        t_out: Output times, the last rows of ``t_solve``.
        method: ``"dopri5"`` or ``"bosh3"`` (or another adaptive method).
        options: The checked adaptive options.
        layer_names: Layer name of each neuron call.
        model_args: The model's extra positional inputs.
        model_kwargs: The model's extra keyword inputs.
        plan: What ``record=`` asked for, or ``None``.

    Returns:
        ``(output, membranes, recording, stats)``: the head's output ``[N, ...]``, the
        membranes at ``t_out`` (before any event at exactly that time), the
        :class:`~spikede.Recording` (or ``None``) and the solver's counts (``nfe``
        includes the evaluations at events and for the head's inputs).
    """
    args = odefunc.field_args(x, x_time, *model_args, **model_kwargs)
    keep = set() if plan is None else set(plan.calls)
    ev = _Events(odefunc, args, layer_names, keep)
    ev.zeros = tuple(torch.zeros_like(v) for v in v0)
    thresholds = [n.event_threshold() for n in ev.neurons]
    coupled = _batch_coupling(odefunc.network.model)
    if coupled is not None:
        warnings.warn(
            f"{coupled} mixes the samples of a batch, so the samples cannot take their own "
            f"steps: with method={method!r} they share the solver's steps, and every spike in "
            "the batch cuts the step of all (slower for large batches); call .eval() on the "
            "model, or use a grid method, to avoid this",
            UserWarning,
            stacklevel=4,
        )
    ys, stats = odeint_events(
        ev.field, v0, t_solve, thresholds, ev.on_event, method, options=options, batched=coupled is None
    )
    ys = tuple(y[t_solve.shape[0] - t_out.shape[0] :] for y in ys)
    counts = ev.counts(t_out)
    rows = [ev.evaluate(t_out[n], tuple(y[n] for y in ys), tuple(c[n] for c in counts)) for n in range(t_out.shape[0])]
    boundaries = tuple(torch.stack([r[ev.n + i] for r in rows]) for i in range(len(rows[0]) - ev.n))
    out = odefunc.post(boundaries, *model_args, **model_kwargs)
    stats = {**stats, "nfe": ev.nfe}  # every graph evaluation: field, events and head inputs
    rec = None
    if plan is not None:
        rec = Recording(
            {name: counts[k] for k, name in zip(plan.calls, plan.names)},
            {name: ys[k] for k, name in zip(plan.calls, plan.names)},
            t_out,
            spike_times={name: ev.spike_times(k, v0[k]) for k, name in zip(plan.calls, plan.names)},
        )
    return out, tuple(ys), rec, stats


def forward_events(
    snn: Any,
    x: Tensor,
    x_time: Tensor,
    method: str,
    options: dict[str, Any],
    *,
    step_size: float | None,
    model_args: tuple,
    model_kwargs: dict[str, Any],
    return_states: bool,
    plan: RecordingPlan | None,
    probe_silence: bool,
    initial_state: Any,
    return_state: bool,
    output_time: Tensor | None,
) -> Any:
    """``SNNWrapper.forward`` for an adaptive method (checked inputs; see the module doc)."""
    if snn.compile:
        raise ValueError(
            f"compile=True is not supported with method={method!r}: the event loop's steps "
            "depend on the data; build the wrapper with compile=False"
        )
    if return_state or isinstance(initial_state, State):
        raise ValueError(
            f"{'return_state=True' if return_state else 'initial_state=<State>'} is not "
            f"supported with method={method!r} (continuing a run whose spikes are located "
            "as events is not implemented); start a call from given membranes with "
            "initial_state=(v_1, ..., v_N), e.g. the last rows of return_states=True"
        )
    if step_size is not None:
        raise ValueError(
            f"options['step_size'] does not apply to the adaptive method {method!r}, which "
            "chooses its own steps (give first_step, rtol, atol instead)"
        )
    if "checkpoint" in options:
        raise ValueError(f"options['checkpoint'] is not supported with method={method!r}")
    names = layer_names(snn.odefunc.neuron_names)
    check_event_neurons(snn.odefunc, names, method)
    shapes = snn._infer_shapes(x[0], model_args, model_kwargs)
    batch = x.shape[1]
    if initial_state is None:
        v0 = tuple(torch.zeros((batch, *s), dtype=x.dtype, device=x.device) for s in shapes)
    else:
        v0 = _state.check_membranes(initial_state, shapes, batch, x)
    start = x_time[:1]
    if output_time is None:
        t_out = x_time
    else:
        t_out = _state.check_output_time(output_time, x_time, float(x_time[0]))
    t_solve = t_out if float(t_out[0]) == float(start) else torch.cat([start, t_out])
    if t_solve.shape[0] < 2:
        raise ValueError("the output grid needs a time after the start of the run")
    out, ys, rec, stats = solve_events(
        snn.odefunc, v0, x, x_time, t_solve, t_out, method, options, names, model_args, model_kwargs, plan
    )
    snn.odefunc.nfe += stats["nfe"]
    extras: list[Any] = []
    if return_states:
        extras.append(ys)
    if rec is not None and probe_silence:
        snn._warn_silent_layers(rec, t_out)
    elif rec is not None:
        extras.append(rec)
    return (out, *extras) if extras else out
