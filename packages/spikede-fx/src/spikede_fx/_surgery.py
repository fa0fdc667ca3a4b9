"""Graph surgery: split a traced SNN into the ODE vector field and the post-neuron part.

The traced graph is cut after its last neuron call (in execution order).

* The ODE graph holds every node up to the last neuron. Its placeholders are the membrane
  states ``v_<neuron>`` (one per neuron call), then the model's own inputs (the first is
  the time-varying input, evaluated at the solver's time; the others are passed
  unchanged), then the step size ``spikede_dt``. Each neuron call ``neuron(current)``
  becomes ``neuron(v, current, spikede_dt)``, which returns ``(dv_dt, spike)``; the spike
  replaces the old call's value. It returns
  ``(dv_1, ..., dv_N, boundary_1, ..., boundary_K)``.
* The boundaries are the tensors defined in the ODE part that the post part reads. The
  post graph takes them (stacked over time by the caller) followed by the model's extra
  inputs, and computes the model's output. Values the post part needs that do not vary in
  time are not boundaries: parameters and buffers (``get_attr``) are read again, and
  shape arithmetic (``x.shape``, ``x.size(0)``, integer arithmetic on them) is recomputed
  from its tensor roots, which become boundaries instead.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import os

import torch
from torch import fx, nn

from spikede_fx._tracer import is_neuron_node

__all__ = ["DT_NAME", "GraphSplit", "split_graph"]

_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))
_THIS_DIR = os.path.dirname(os.path.abspath(__file__))

_META_ATTRS = frozenset({"shape", "ndim", "dtype", "device", "is_cuda", "layout"})
_META_METHODS = frozenset(
    {"size", "dim", "ndimension", "numel", "nelement", "get_device"}
)
_SCALAR_FUNCTIONS = frozenset(
    {
        len,
        int,
        float,
        abs,
        min,
        max,
        operator.getitem,
        operator.add,
        operator.sub,
        operator.mul,
        operator.truediv,
        operator.floordiv,
        operator.mod,
        operator.pow,
        operator.neg,
        math.sqrt,
        math.prod,
        math.floor,
        math.ceil,
    }
)


@dataclasses.dataclass
class GraphSplit:
    """Result of :func:`split_graph`.

    Attributes:
        ode_graph: The vector-field graph.
        post_graph: The post-neuron graph.
        neuron_nodes: The neuron call nodes of the traced graph, in execution order.
        boundary_names: Names (in the traced graph) of the boundary values, in order.
        input_names: Names of the traced model's inputs; the first is the time-varying one.
    """

    ode_graph: fx.Graph
    post_graph: fx.Graph
    neuron_nodes: list[fx.Node]
    boundary_names: list[str]
    input_names: list[str]


#: Name of the ODE graph's step-size input (last, default 1.0).
DT_NAME = "spikede_dt"


def _describe(node: fx.Node) -> str:
    """Where in the user's code ``node`` was recorded (needs recorded stack traces)."""
    trace = node.meta.get("stack_trace")
    if not trace:
        return ""
    lines = str(trace).strip().splitlines()
    frames = [
        (lines[i].strip(), lines[i + 1].strip() if i + 1 < len(lines) else "")
        for i in range(len(lines))
        if lines[i].strip().startswith('File "')
    ]
    user = [f for f in frames if _TORCH_DIR not in f[0] and _THIS_DIR not in f[0]]
    if not user:
        return ""
    where, code = user[-1]
    return f" (recorded at {where}: {code})"


def check_neuron_calls(neurons: list[fx.Node]) -> None:
    """Raise ``TypeError`` for a neuron not called as ``neuron(current)``."""
    for node in neurons:
        if len(node.args) != 1 or node.kwargs:
            given = ", ".join(
                [str(a) for a in node.args]
                + [f"{k}={v}" for k, v in node.kwargs.items()]
            )
            raise TypeError(
                f"neuron '{node.target}' is called as {node.target}({given}); inside the "
                f"model a neuron must be called with exactly one positional argument, the "
                f"input current: neuron(current). Its membrane state is supplied by the "
                f"ODE rewrite.{_describe(node)}"
            )


def _is_meta(node: fx.Node, memo: dict[fx.Node, bool]) -> bool:
    """Whether ``node`` computes shape metadata (ints, sizes) rather than tensor data."""
    if node in memo:
        return memo[node]
    result = False
    if node.op == "call_function" and node.target is getattr:
        result = len(node.args) >= 2 and node.args[1] in _META_ATTRS
    elif node.op == "call_method" and node.target in _META_METHODS:
        result = True
    elif node.op == "call_function" and node.target in _SCALAR_FUNCTIONS:
        inputs = node.all_input_nodes
        result = bool(inputs) and all(_is_meta(n, memo) for n in inputs)
    memo[node] = result
    return result


def split_graph(gm: fx.GraphModule) -> GraphSplit:
    """Split a traced spiking network (see the module docstring).

    Args:
        gm: Traced model (from :func:`symbolic_trace_leaf_neurons`).

    Returns:
        The two graphs and the bookkeeping of the split.

    Raises:
        ValueError: If the model calls no neuron.
        TypeError: If a neuron is called with other than one positional argument.
    """
    root: nn.Module = gm
    nodes = list(gm.graph.nodes)
    neurons = [n for n in nodes if is_neuron_node(n, root)]
    if not neurons:
        raise ValueError(
            f"the model {gm.__class__.__name__} calls no neuron: ODEFuncFromFX needs at "
            f"least one spikede_fx.BaseNeuron submodule called in forward (found modules: "
            f"{sorted({str(n.target) for n in nodes if n.op == 'call_module'})})"
        )
    check_neuron_calls(neurons)
    position = {n: i for i, n in enumerate(nodes)}
    last = position[neurons[-1]]
    placeholders = [n for n in nodes if n.op == "placeholder"]
    if not placeholders:
        raise ValueError(
            "the model's forward takes no input; it needs at least the input x"
        )
    input_node = placeholders[0]
    in_ode = {n for n in nodes if position[n] <= last and n.op != "output"}
    post_nodes = [n for n in nodes if position[n] > last and n.op != "output"]
    output_node = next(n for n in nodes if n.op == "output")

    # Which ODE-part values the post part reads, and how it gets each of them.
    meta_memo: dict[fx.Node, bool] = {}
    boundaries: set[fx.Node] = set()
    recomputed: set[fx.Node] = set()

    def need(node: fx.Node) -> None:
        if node not in in_ode or node in boundaries or node in recomputed:
            return
        if node.op == "get_attr" or (
            node.op == "placeholder" and node is not input_node
        ):
            recomputed.add(node)
        elif _is_meta(node, meta_memo):
            recomputed.add(node)
            for parent in node.all_input_nodes:
                need(parent)
        else:
            boundaries.add(node)

    for node in [*post_nodes, output_node]:
        for parent in node.all_input_nodes:
            need(parent)
    boundary_list = sorted(boundaries, key=position.__getitem__)

    # ---- ODE graph ------------------------------------------------------------------
    ode = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    v_nodes = [ode.placeholder(f"v_{n.name}") for n in neurons]
    derivatives: list[fx.Node] = []
    neuron_index = {n: i for i, n in enumerate(neurons)}
    dt_node: fx.Node | None = None
    for node in nodes[: last + 1]:
        if dt_node is None and node.op != "placeholder":
            # The step size comes after the model's own inputs, with a default, so that
            # ``ode_gm(*v, x, *extras)`` still runs (at dt = 1).
            dt_node = ode.placeholder(DT_NAME, default_value=1.0)
        if node in neuron_index:
            i = neuron_index[node]
            current = (
                env[node.args[0]] if isinstance(node.args[0], fx.Node) else node.args[0]
            )
            call = ode.create_node(
                "call_module",
                node.target,
                (v_nodes[i], current, dt_node),
                {},
                name=f"{node.name}_step",
            )
            dv = ode.create_node(
                "call_function", operator.getitem, (call, 0), {}, name=f"dv_{node.name}"
            )
            spike = ode.create_node(
                "call_function", operator.getitem, (call, 1), {}, name=node.name
            )
            spike.meta = dict(node.meta)
            env[node] = spike
            derivatives.append(dv)
        else:
            env[node] = ode.node_copy(node, lambda n: env[n])
    ode.output(tuple(derivatives) + tuple(env[b] for b in boundary_list))

    # ---- post graph -----------------------------------------------------------------
    post = fx.Graph()
    penv: dict[fx.Node, fx.Node] = {}
    for b in boundary_list:
        penv[b] = post.placeholder(b.name)
    for ph in placeholders[1:]:
        penv[ph] = post.node_copy(ph, lambda n: penv[n])
    for node in nodes[: last + 1]:
        if node in recomputed and node.op != "placeholder":
            penv[node] = post.node_copy(node, lambda n: penv[n])
    for node in post_nodes:
        penv[node] = post.node_copy(node, lambda n: penv[n])
    post.node_copy(output_node, lambda n: penv[n])

    return GraphSplit(
        ode_graph=ode,
        post_graph=post,
        neuron_nodes=neurons,
        boundary_names=[b.name for b in boundary_list],
        input_names=[p.name for p in placeholders],
    )
