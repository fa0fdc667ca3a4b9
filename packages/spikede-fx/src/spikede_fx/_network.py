"""The traced network, split into its parts and bound to the user's model."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import fx, nn

from spikede_fx._event_graph import event_graph
from spikede_fx._hoist import InputPart, split_input_part
from spikede_fx._record import RecordGraphs, recording_graphs
from spikede_fx._shape_errors import layer_shape_error
from spikede_fx._surgery import split_graph
from spikede_fx._tracer import remove_dead_code, symbolic_trace_leaf_neurons

__all__ = ["Network"]

_log = logging.getLogger(__name__)


def _bind(graph: fx.Graph, model: nn.Module, name: str) -> fx.GraphModule:
    """A graph module whose layers and tensors are looked up in ``model`` at call time.

    Every ``call_module``/``get_attr`` target is prefixed with ``model.``: a layer the
    user replaces after tracing (``SyncBatchNorm`` conversion, pruning), or a tensor that
    ``.to()`` replaces, is the one the graph uses, with nothing to keep in sync.
    """
    bound = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for node in graph.nodes:
        new = bound.node_copy(node, lambda n: env[n])
        if new.op in ("call_module", "get_attr"):
            new.target = f"model.{new.target}"
        env[node] = new
    holder = nn.Module()
    holder.model = model
    gm = fx.GraphModule(holder, bound, name)
    gm.model = model  # the constructor copied a skeleton of the path; use the model itself
    return gm


class _ShapeRecorder(fx.Interpreter):
    """Runs the traced model on one time step, recording each neuron's input shape.

    Also checks that every boundary value is a tensor (the solver stacks them over time).
    """

    def __init__(self, gm: fx.GraphModule, neuron_nodes: set[str], boundaries: set[str]) -> None:
        super().__init__(gm)
        self.neuron_nodes = neuron_nodes
        self.boundaries = boundaries
        self.shapes: list[torch.Size] = []

    def run_node(self, n: fx.Node) -> Any:
        if n.name in self.neuron_nodes:
            args, _ = self.fetch_args_kwargs_from_env(n)
            current = args[0]
            if not isinstance(current, torch.Tensor):
                raise TypeError(
                    f"neuron '{n.target}' received a {type(current).__name__}, not a tensor"
                )
            self.shapes.append(current.shape)
            result = self.fetch_attr(str(n.target))(torch.zeros_like(current), current, 1.0)[1]
        elif n.op == "call_module":
            args, kwargs = self.fetch_args_kwargs_from_env(n)
            module = self.fetch_attr(str(n.target))
            try:
                result = module(*args, **kwargs)
            except (RuntimeError, ValueError) as exc:
                # The layer's name in the user's model: graph targets are bound as "model.<name>".
                name = str(n.target).removeprefix("model.")
                better = layer_shape_error(name, module, args, exc)
                if better is None:
                    raise
                raise better from exc
        else:
            result = super().run_node(n)
        if n.name in self.boundaries and not isinstance(result, torch.Tensor):
            raise TypeError(
                f"the value '{n.name}' ({n.format_node()}) is computed before the last "
                f"neuron and used after it, so it must be recorded at every solver step, "
                f"but it is a {type(result).__name__}, not a tensor. Index or combine it "
                f"into a tensor before the last neuron, or compute it after."
            )
        return result


class Network:
    """A spiking model traced once and cut into the parts a solve needs.

    Not an ``nn.Module``: it owns no parameter. Its graph modules look every layer up in
    ``model`` when they run (see :func:`_bind`), so the model stays the one owner of its
    weights and modules.

    Attributes:
        model: The user's model.
        traced: The whole traced model (one time step).
        ode: ``ode(*v, x, *extras, spikede_dt) -> (dv..., boundaries...)``.
        post: ``post(*boundaries, *extras) -> output`` on one time step.
        input_part: The input-driven part split off ``ode`` (``None`` when nothing is
            input-driven), see :mod:`spikede_fx._hoist`.
        neuron_names: Module name of each neuron call, in execution order.
        neuron_node_order: Traced node name of each neuron call, in execution order.
        boundary_names: Names of the values the post part reads.
        input_names: The model's inputs; the first is the time-varying one.
        extra_names: The model's further inputs.
        extra_defaults: Their default values, where they have one.
    """

    def __init__(self, model: nn.Module) -> None:
        traced = remove_dead_code(symbolic_trace_leaf_neurons(model))
        split = split_graph(traced)
        if not split.boundary_names:
            raise ValueError(
                f"the output of {type(model).__name__} does not depend on any value "
                "computed up to its last neuron; there is nothing to integrate"
            )
        name = type(model).__name__
        ode = remove_dead_code(fx.GraphModule(traced, split.ode_graph, f"{name}ODE"))
        post = remove_dead_code(fx.GraphModule(traced, split.post_graph, f"{name}Post"))
        part = split_input_part(ode, len(split.neuron_nodes))
        self.model = model
        self.traced = _bind(traced.graph, model, name)
        self.ode = _bind(ode.graph, model, f"{name}ODE")
        self.post = _bind(post.graph, model, f"{name}Post")
        self.input_part = (
            None
            if part is None
            else InputPart(
                _bind(part.input_gm.graph, model, f"{name}Input"),
                _bind(part.state_gm.graph, model, f"{name}State"),
                part.frontier_names,
            )
        )
        self.input_vmap_failed = False  # set once vmap failed on the input part
        self.neuron_names = [str(n.target) for n in split.neuron_nodes]
        self.neuron_node_order = [n.name for n in split.neuron_nodes]
        self.neuron_node_names = set(self.neuron_node_order)
        self._recording: dict[tuple[int, ...], RecordGraphs] = {}
        self._event: fx.GraphModule | None = None
        self.boundary_names = list(split.boundary_names)
        self.input_names = list(split.input_names)
        extras = [n for n in traced.graph.nodes if n.op == "placeholder"][1:]
        self.extra_names = [str(n.target) for n in extras]
        self.required_extras = [str(n.target) for n in extras if not n.args]
        self.extra_defaults = {str(n.target): n.args[0] for n in extras if n.args}
        if len(set(self.neuron_names)) < len(self.neuron_names):
            _log.info("%s calls a neuron module more than once; each call is a state", name)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A copy (deepcopy, pickle) rebuilds each graph module around a skeleton of the
        # model: point it at the copied model again.
        self.__dict__.update(state)
        for gm in self.graph_modules():
            gm.model = self.model
        self._recording = {}  # rebuilt on demand around the copied model
        self._event = None

    def graph_modules(self) -> list[fx.GraphModule]:
        """Every graph module of the network."""
        gms = [self.traced, self.ode, self.post]
        if self.input_part is not None:
            gms += [self.input_part.input_gm, self.input_part.state_gm]
        return gms

    def recording(self, calls: tuple[int, ...]) -> RecordGraphs:
        """The graphs that also return the spikes and membranes of neuron calls ``calls``
        (indices in execution order; see :mod:`spikede_fx._record`), built once per set."""
        graphs = self._recording.get(calls)
        if graphs is None:
            state = None if self.input_part is None else self.input_part.state_gm
            graphs = recording_graphs(self.ode, state, self.model, self.neuron_node_order, calls)
            self._recording[calls] = graphs
        return graphs

    def event(self) -> fx.GraphModule:
        """The event graph ``event(*v, *spikes, x, *extras) -> (dv..., boundaries...)``
        (see :mod:`spikede_fx._event_graph`), built on first use."""
        if self._event is None:
            self._event = event_graph(self.ode, self.model, self.neuron_node_order, f"{type(self.model).__name__}Event")
        return self._event

    def modules_of(self, gm: fx.GraphModule) -> list[nn.Module]:
        """The layers that ``gm`` calls, as they are in the model now."""
        return [
            gm.get_submodule(str(n.target)) for n in gm.graph.nodes if n.op == "call_module"
        ]

    def neurons(self) -> list[nn.Module]:
        """The neuron module of each neuron call."""
        return [self.model.get_submodule(t) for t in self.neuron_names]

    def check_extras(self, where: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Raise ``TypeError`` when the extra inputs do not match the model's forward."""
        names = self.extra_names
        if len(args) > len(names):
            raise TypeError(
                f"{where}: the backbone takes {len(names)} extra input(s) {names} after x; "
                f"got {len(args)} extra positional arguments"
            )
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise TypeError(f"{where}: unknown extra input(s) {unknown}; accepted: {names}")
        twice = sorted(set(names[: len(args)]) & set(kwargs))
        if twice:
            raise TypeError(f"{where}: extra input(s) {twice} given both by position and name")
        given = set(names[: len(args)]) | set(kwargs)
        missing = [n for n in self.required_extras if n not in given]
        if missing:
            raise TypeError(f"{where}: missing extra input(s) {missing} of the backbone")

    def positional(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """All extra inputs by position, defaults filled in."""
        values = list(args)
        for name in self.extra_names[len(args) :]:
            values.append(kwargs[name] if name in kwargs else self.extra_defaults[name])
        return tuple(values)

    def state_shapes(self, x_example: torch.Tensor, extras: tuple[Any, ...]) -> list[torch.Size]:
        """Membrane shape of each neuron call (batch included) for one step ``x_example``.

        Runs the traced model once without gradients, every module temporarily in eval
        mode (no running statistic changes), each neuron at a zero membrane.
        """
        modes = {m: m.training for m in self.model.modules()}
        recorder = _ShapeRecorder(self.traced, self.neuron_node_names, set(self.boundary_names))
        try:
            self.model.eval()
            with torch.no_grad():
                recorder.run(x_example, *extras)
        finally:
            for module, mode in modes.items():
                module.training = mode
        return recorder.shapes
