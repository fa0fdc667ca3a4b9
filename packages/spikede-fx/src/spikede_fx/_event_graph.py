"""The event graph: the ODE graph with each neuron's spike given instead of computed.

Adaptive methods (``SNNWrapper(integrator="odeint", method="dopri5")``) integrate the
neurons' sub-threshold dynamics and place spikes at located threshold crossings. The
field they need is the ODE graph in which every neuron call ``neuron(v, current, dt)``
becomes ``(neuron.subthreshold(v, current), spike_k)``: the derivative without a reset
impulse, and a spike tensor that the caller passes in (zeros between events; the spikes
emitted at an event to measure the downstream response; the spikes counted over an
output interval to compute the head's inputs). Its signature is
``event(*v, *spikes, x, *extras) -> (dv..., boundaries...)``: there is no step size.
"""

from __future__ import annotations

import torch
from torch import fx, nn

from spikede_fx._surgery import DT_NAME

__all__ = ["event_graph", "event_neuron_call"]


def event_neuron_call(
    neuron: nn.Module, v: torch.Tensor, current: torch.Tensor, spike: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(neuron.subthreshold(v, current), spike)``: one neuron call of the event graph."""
    return neuron.subthreshold(v, current), spike


def event_graph(ode: fx.GraphModule, model: nn.Module, node_names: list[str], name: str) -> fx.GraphModule:
    """Build the event graph of a (bound) ODE graph module.

    Args:
        ode: The network's ODE graph module (targets prefixed with ``model.``).
        model: The user's model, which the new graph looks its layers up in.
        node_names: The traced node name of each neuron call, in execution order.
        name: The class name of the new graph module.

    Returns:
        ``event(*v, *spikes, x, *extras) -> (dv..., boundaries...)``.
    """
    calls = {f"{n}_step": i for i, n in enumerate(node_names)}
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    placeholders = [n for n in ode.graph.nodes if n.op == "placeholder"]
    k = len(node_names)
    for node in placeholders[:k]:  # the membranes
        env[node] = graph.node_copy(node, lambda n: env[n])
    spikes = [graph.placeholder(f"spike_{n}") for n in node_names]
    for node in placeholders[k:]:
        if node.name != DT_NAME:
            env[node] = graph.node_copy(node, lambda n: env[n])
    for node in ode.graph.nodes:
        if node.op == "placeholder":
            continue
        if node.op == "call_module" and node.name in calls:
            v, current, _dt = node.args
            module = graph.get_attr(str(node.target))
            env[node] = graph.create_node(
                "call_function",
                event_neuron_call,
                (module, env[v], env[current] if isinstance(current, fx.Node) else current, spikes[calls[node.name]]),
                {},
                name=node.name,
            )
            continue
        if any(a.name == DT_NAME for a in node.all_input_nodes):
            raise ValueError(
                f"the step size {DT_NAME!r} is used by {node.format_node()}, not only by the "
                "neurons; the event graph has no step size"
            )
        env[node] = graph.node_copy(node, lambda n: env[n])
    holder = nn.Module()
    holder.model = model
    gm = fx.GraphModule(holder, graph, name)
    gm.model = model
    return gm
