"""The vector field of a traced network: a pure function of explicit arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from spikede_fx._inputs import InputTable
from spikede_fx._network import Network
from spikede_fx._record import RecordGraphs

__all__ = ["FieldArgs", "network_field"]


@dataclass(frozen=True)
class FieldArgs:
    """Everything one call's evaluations read besides ``(t, v, dt)``.

    Built once per call (by :meth:`spikede_fx.ODEFuncFromFX.field_args`) and passed to
    every evaluation as an argument; nothing of it is stored on a module, so calls in
    several threads, or several wrappers of one model, do not share it.

    Attributes:
        network: The traced network.
        x: The input samples ``[T, B, ...]``.
        x_time: Their times.
        interpolator: ``x(t)`` between samples (:class:`spikede_interp.Interpolator`).
        extras: The model's extra inputs, by position.
        table: The precomputed inputs on the solver grid, by grid index, or ``None``.
        ode: What runs the ODE graph instead of the graph module (its compiled form).
        state: What runs the state-driven graph on precomputed rows (its compiled form).
        record: The graphs to run instead of the network's own (``ode``, when given, is
            the recording graph's compiled form), which also return the spikes and membranes of some neuron calls after the
            boundaries (:meth:`spikede_fx.Network.recording`), or ``None``.
    """

    network: Network
    x: torch.Tensor
    x_time: torch.Tensor
    interpolator: Any
    extras: tuple[Any, ...] = ()
    table: InputTable | None = None
    ode: Any = None
    state: Any = None
    record: RecordGraphs | None = None


def network_field(
    t: torch.Tensor, v: tuple[torch.Tensor, ...], args: FieldArgs, h: float, index: int | None
) -> tuple[torch.Tensor, ...]:
    """``(dv_1, ..., dv_N, boundary_1, ..., boundary_K)`` at time ``t``, membranes ``v``.

    ``h`` is the size of the solver step this evaluation belongs to (passed to every
    neuron), ``index`` the grid index of ``t`` when it is a grid point: the precomputed
    inputs of that point are used, otherwise the input is interpolated at ``t``. With
    ``args.record`` the recorded calls' spikes, then their membranes, follow the
    boundaries.
    """
    table, record = args.table, args.record
    if record is not None:
        ode, state = (record.ode if args.ode is None else args.ode), record.state
    else:
        ode = args.network.ode if args.ode is None else args.ode
        part = args.network.input_part
        state = args.state if args.state is not None or part is None else part.state_gm
    if table is not None and index is not None:
        row = table.row(index)
        if table.split:
            return state(*v, *row, *args.extras, h)  # type: ignore[misc]
        x_t = row[0]
    else:
        x_t = args.interpolator(t)
    return ode(*v, x_t, *args.extras, h)
