"""Variants of the field's graphs that also return chosen neurons' spikes and membranes.

The spike of a neuron call is a value inside the ODE graph: the solver never sees it
unless the post part reads it. To record it, the ODE graph (and the hoisted state graph,
when the input-driven layers are split off) is copied with extra outputs appended after
the boundaries: the spikes of the chosen calls, then their membranes (the ``v``
placeholders, i.e. the state the evaluation received). The solver records every output
after the derivatives at each grid point, from the evaluation at ``(t_n, y_n)``, so the
extras arrive stacked over the grid in ``Solution.aux`` and are split off there.

The variants are built on first use, once per set of recorded calls, and kept by the
:class:`~spikede_fx.Network` (they look the model's layers up at call time, like the
network's own graphs).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import fx, nn

__all__ = ["RecordGraphs", "recording_graphs"]


@dataclass
class RecordGraphs:
    """The graphs that return ``(dv..., boundaries..., spikes..., membranes...)``.

    Attributes:
        calls: Indices of the recorded neuron calls (execution order).
        ode: The ODE graph with the extra outputs.
        state: The hoisted state graph with the same extra outputs (``None`` when the
            network has no input-driven part).
        compiled: The compiled form of ``ode``, made on first request.
    """

    calls: tuple[int, ...]
    ode: fx.GraphModule
    state: fx.GraphModule | None
    compiled: Callable[..., Any] | None = field(default=None, repr=False)

    def compiled_ode(self) -> Callable[..., Any]:
        """``torch.compile`` of :attr:`ode`'s forward, made once."""
        if self.compiled is None:
            import torch

            self.compiled = torch.compile(self.ode.forward)
        return self.compiled


def _with_extras(gm: fx.GraphModule, model: nn.Module, spikes: list[str], membranes: list[str], name: str) -> fx.GraphModule:
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    out_value = None
    for node in gm.graph.nodes:
        if node.op == "output":
            out_value = node.args[0]
            continue
        env[node] = graph.node_copy(node, lambda n: env[n])
    by_name = {n.name: n for n in graph.nodes}
    extras = []
    for spike, step in spikes:
        node = by_name.get(spike)
        if node is None:  # the spike was unused, so dead code removal dropped it
            node = graph.create_node("call_function", operator.getitem, (by_name[step], 1), {})
        extras.append(node)
    extras += [by_name[m] for m in membranes]
    outputs = tuple(fx.node.map_arg(out_value, lambda n: env[n]))
    graph.output((*outputs, *extras))
    holder = nn.Module()
    holder.model = model
    bound = fx.GraphModule(holder, graph, name)
    bound.model = model  # the model itself, as the network's own graphs hold it
    return bound


def recording_graphs(
    ode: fx.GraphModule,
    state: fx.GraphModule | None,
    model: nn.Module,
    node_names: list[str],
    calls: tuple[int, ...],
) -> RecordGraphs:
    """Build the :class:`RecordGraphs` of neuron calls ``calls``.

    Args:
        ode: The network's (bound) ODE graph module.
        state: Its (bound) hoisted state graph module, or ``None``.
        model: The user's model the graphs look their layers up in.
        node_names: The traced node name of each neuron call, in execution order.
        calls: The recorded calls, as indices into ``node_names``.

    Returns:
        The variants, whose outputs end with the calls' spikes then their membranes.
    """
    spikes = [(node_names[i], f"{node_names[i]}_step") for i in calls]
    membranes = [f"v_{node_names[i]}" for i in calls]
    name = type(ode).__name__
    rec_ode = _with_extras(ode, model, spikes, membranes, f"{name}Record")
    rec_state = None
    if state is not None:
        rec_state = _with_extras(state, model, spikes, membranes, f"{type(state).__name__}Record")
    return RecordGraphs(tuple(calls), rec_ode, rec_state)
