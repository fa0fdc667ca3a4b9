"""Split the vector field into its input-driven part and its state-driven part.

In the ODE graph (placeholders ``v_1 .. v_N``, the input ``x``, the extra inputs) many
nodes depend on the input but on no membrane state: in ``Linear -> LIF -> Linear -> LIF``
the first ``Linear`` sees only ``x(t)``. On a fixed time grid those nodes can be
computed for every grid time in one vectorised call before the solve, instead of once per
evaluation; each evaluation then runs only the state-driven rest.

* The **input graph** takes ``(x, *extras)`` and returns the *frontier*: the input-driven
  tensors the rest reads.
* The **state graph** takes ``(*v, x, *frontier, *extras, dt)`` and returns what the ODE
  graph returns. It recomputes shape arithmetic on ``x`` itself (``x.size(0)``), which is why
  ``x`` stays one of its inputs.
"""

from __future__ import annotations

import dataclasses

from torch import fx

from spikede_fx._surgery import _is_meta
from spikede_fx._tracer import remove_dead_code

__all__ = ["InputPart", "split_input_part"]

_COMPUTE = frozenset({"call_module", "call_function", "call_method"})


@dataclasses.dataclass
class InputPart:
    """Result of :func:`split_input_part`.

    Attributes:
        input_gm: ``input_gm(x, *extras) -> tuple(frontier)`` on one time step.
        state_gm: ``state_gm(*v, x, *frontier, *extras, dt) -> (dv..., boundaries...)``.
        frontier_names: Names of the frontier nodes in the ODE graph.
    """

    input_gm: fx.GraphModule
    state_gm: fx.GraphModule
    frontier_names: list[str]


def split_input_part(ode_gm: fx.GraphModule, n_states: int) -> InputPart | None:
    """Split ``ode_gm`` (see the module docstring); ``None`` if no node can be hoisted.

    Args:
        ode_gm: The ODE graph module of :class:`~spikede_fx.ODEFuncFromFX`.
        n_states: Number of membrane placeholders (they come first).

    Returns:
        The two graph modules, or ``None`` when no computation depends on the input alone.
    """
    nodes = list(ode_gm.graph.nodes)
    placeholders = [n for n in nodes if n.op == "placeholder"]
    states, x_node, extras, dt = (
        placeholders[:n_states],
        placeholders[n_states],
        placeholders[n_states + 1 : -1],
        placeholders[-1],
    )
    state_dep: set[fx.Node] = {*states, dt}
    input_dep: set[fx.Node] = {x_node}
    for node in nodes:
        inputs = node.all_input_nodes
        if any(p in state_dep for p in inputs):
            state_dep.add(node)
        elif any(p in input_dep for p in inputs):
            input_dep.add(node)
    meta_memo: dict[fx.Node, bool] = {}
    # input_dep holds no state-dependent node (the loop above tests state_dep first).
    hoisted = {n for n in input_dep if n.op in _COMPUTE and not _is_meta(n, meta_memo)}
    if not hoisted:
        return None
    frontier = [
        n for n in nodes if n in hoisted and any(u not in hoisted for u in n.users)
    ]

    # ---- input graph: x, extras -> frontier (only what the frontier needs) -----------
    needed: set[fx.Node] = set()
    stack = list(frontier)
    while stack:
        node = stack.pop()
        if node not in needed:
            needed.add(node)
            stack.extend(node.all_input_nodes)
    graph_in = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for ph in (x_node, *extras):
        env[ph] = graph_in.node_copy(ph, lambda n: env[n])
    for node in nodes:
        if node.op != "placeholder" and node in needed:
            env[node] = graph_in.node_copy(node, lambda n: env[n])
    graph_in.output(tuple(env[n] for n in frontier))
    name = type(ode_gm).__name__
    input_gm = remove_dead_code(fx.GraphModule(ode_gm, graph_in, f"{name}Input"))

    # ---- state graph: v, x, frontier, extras -> outputs --------------------------------
    graph_st = fx.Graph()
    senv: dict[fx.Node, fx.Node] = {}
    for ph in (*states, x_node):
        senv[ph] = graph_st.node_copy(ph, lambda n: senv[n])
    for node in frontier:
        senv[node] = graph_st.placeholder(f"{node.name}_in")
    for ph in (*extras, dt):
        senv[ph] = graph_st.node_copy(ph, lambda n: senv[n])
    for node in nodes:
        if node.op == "placeholder" or node in hoisted:
            continue
        senv[node] = graph_st.node_copy(node, lambda n: senv[n])
    state_gm = remove_dead_code(fx.GraphModule(ode_gm, graph_st, f"{name}State"))
    return InputPart(input_gm, state_gm, [n.name for n in frontier])
