"""Tracing a spiking network with torch.fx while keeping neurons (and registered layers) whole."""

from __future__ import annotations

import linecache
import os
import traceback
from typing import Any, ClassVar

import torch
from torch import fx, nn
from torch.fx.proxy import TraceError

from spikede_fx._neuron import BaseNeuron
from spikede_fx._snapshot import ModelSnapshot, describe_module
from spikede_fx._trace_checks import (
    NEURON_GUIDE,
    foreign_library,
    graph_state_writes,
    reject_foreign_neurons,
    state_write_message,
)

__all__ = ["SNNLeafTracer", "remove_dead_code", "symbolic_trace_leaf_neurons"]

_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))
_THIS_DIR = os.path.dirname(os.path.abspath(__file__))


class SNNLeafTracer(fx.Tracer):
    """A :class:`torch.fx.Tracer` that records spiking neurons as single calls.

    Every :class:`~spikede_fx.BaseNeuron` subclass is a leaf: the traced graph holds one
    ``call_module`` node per neuron call instead of the neuron's internals, which is what
    the ODE rewrite (:class:`~spikede_fx.ODEFuncFromFX`) replaces. Further module types
    can be kept whole by registering them with :meth:`register_leaf` (spikeDE registers
    its voting and classification heads this way), or by listing them in the
    :attr:`leaf_types` class attribute of a subclass. The standard ``torch.nn`` layers are
    leaves as with the default tracer.

    Tracing never changes the traced model. The model is checked and put back exactly as
    it was (attributes, buffers, containers, tensor values), also when tracing fails:

    - a neuron of another SNN library (snnTorch, SpikingJelly, Norse, sinabs) raises
      ``TypeError`` before tracing starts: it is not a :class:`~spikede_fx.BaseNeuron`;
    - a forward that writes state on a module (assigns an attribute or a buffer, appends
      to a list attribute, or writes a stored tensor in place, e.g. ``self.buf.copy_(x)``)
      raises ``ValueError`` naming each module and attribute: feedback over time must go
      through a neuron's membrane;
    - a construct torch.fx cannot trace raises :class:`torch.fx.proxy.TraceError` (a
      ``ValueError``) naming the file and line, and the submodule it happened in.

    Attributes:
        leaf_types: Module types (besides ``BaseNeuron``) that are kept whole. Shared by
            every instance of the class on which :meth:`register_leaf` is called.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from spikede_fx import BaseNeuron, SNNLeafTracer
        >>> class Leaky(BaseNeuron):
        ...     def step(self, v, current, dt):
        ...         return current - v, (v >= 1.0).to(current.dtype)
        >>> model = nn.Sequential(nn.Linear(3, 4), Leaky())
        >>> graph = SNNLeafTracer().trace(model)
        >>> [n.target for n in graph.nodes if n.op == "call_module"]
        ['0', '1']
    """

    leaf_types: ClassVar[list[type[nn.Module]]] = []

    @classmethod
    def register_leaf(cls, module_type: type[nn.Module]) -> type[nn.Module]:
        """Keep every instance of ``module_type`` whole when tracing with this class.

        Can be used as a class decorator. Registering a type twice has no further effect.

        Args:
            module_type: A subclass of :class:`torch.nn.Module`.

        Returns:
            ``module_type`` itself, so that the method works as a decorator.

        Raises:
            TypeError: If ``module_type`` is not a subclass of ``torch.nn.Module``.

        Example:
            >>> from torch import nn
            >>> from spikede_fx import SNNLeafTracer
            >>> @SNNLeafTracer.register_leaf
            ... class Vote(nn.Module):
            ...     def forward(self, x):
            ...         return x.view(x.shape[0], 2, -1).mean(-1)
            >>> Vote in SNNLeafTracer.leaf_types
            True
        """
        if not (isinstance(module_type, type) and issubclass(module_type, nn.Module)):
            raise TypeError(
                f"module_type must be a subclass of torch.nn.Module; got {module_type!r}"
            )
        if "leaf_types" not in cls.__dict__:
            # A subclass gets its own list instead of adding to its parent's.
            cls.leaf_types = list(cls.leaf_types)
        if module_type not in cls.leaf_types:
            cls.leaf_types.append(module_type)
        return module_type

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        """Tell the tracer whether ``m`` is recorded as one call.

        Args:
            m: The module being called.
            module_qualified_name: Its path in the traced root module.

        Returns:
            ``True`` for neurons, registered leaf types and the default torch.fx leaves.
        """
        if isinstance(m, BaseNeuron):
            return True
        if self.leaf_types and isinstance(m, tuple(self.leaf_types)):
            return True
        return super().is_leaf_module(m, module_qualified_name)

    def call_module(
        self, m: nn.Module, forward: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Record a leaf call, or trace inside ``m``; remember ``m`` if tracing fails there.

        Args:
            m: The module called.
            forward: Its forward method.
            args: Positional arguments of the call.
            kwargs: Keyword arguments of the call.

        Returns:
            The proxy of the call's result.
        """
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception as exc:
            self._note_failure(exc, m)
            raise

    def _note_failure(self, exc: Exception, module: nn.Module) -> None:
        failure = getattr(self, "_failure", None)
        if failure is None or failure[0] is not exc:
            failure = (exc, [])
            self._failure = failure
        if type(module).__module__.split(".")[0] == "torch":
            return  # containers such as nn.Sequential: report the user's module around them
        try:
            path = self.path_of_module(module)
        except NameError:
            path = "?"
        failure[1].append((path, module))

    def trace(
        self, root: nn.Module | Any, concrete_args: dict[str, Any] | None = None
    ) -> fx.Graph:
        """Trace ``root`` into a graph, checking it and leaving it unchanged.

        Args:
            root: The module (or function) to trace.
            concrete_args: Inputs that are not symbolic, as for :meth:`torch.fx.Tracer.trace`.

        Returns:
            The traced graph. Build the module with ``fx.GraphModule(tracer.root, graph)``:
            :attr:`root` then holds the constants torch.fx recorded, the traced model
            does not.

        Raises:
            TypeError: If ``root`` holds a neuron of another SNN library.
            ValueError: If the forward of ``root`` writes state on one of its modules.
            torch.fx.proxy.TraceError: (a ``ValueError``) if torch.fx cannot trace it.
        """
        if not isinstance(root, nn.Module):
            return super().trace(root, concrete_args)
        reject_foreign_neurons(root)
        snapshot = ModelSnapshot(root, _harmless)
        self._failure = None
        constants: dict[str, Any] = {}
        try:
            try:
                graph = super().trace(root, concrete_args)
            except Exception as exc:  # re-raised with the location of the construct
                writes = snapshot.changes(ignore_root=frozenset(self._constants(snapshot)))
                message = _untraceable_message(
                    root, exc, self._failed_in(exc), [str(w) for w in writes]
                )
                raise TraceError(message) from exc
            constants = self._constants(snapshot)
            writes = snapshot.changes(ignore_root=frozenset(constants))
            lines = [str(w) for w in writes] + graph_state_writes(graph, root, snapshot)
            if lines:
                restored = all(w.restored for w in writes)
                raise ValueError(state_write_message(root, lines, restored))
        finally:
            snapshot.restore()
        if constants:
            # torch.fx stored tensor constants on the root: keep them on a shallow copy.
            holder = object.__new__(type(root))
            vars(holder).update(vars(root))
            vars(holder).update(constants)
            self.root = holder
        return graph

    def _constants(self, snapshot: ModelSnapshot) -> dict[str, Any]:
        """The tensor constants that torch.fx added to the traced root, by name."""
        attrs = getattr(self, "tensor_attrs", {})
        return {
            name: value
            for name, value in snapshot.added_root_attributes().items()
            if isinstance(value, (torch.Tensor, torch.ScriptObject)) and attrs.get(value) == name
        }

    def _failed_in(self, exc: BaseException) -> list[tuple[str, nn.Module]]:
        """The user modules being traced when ``exc`` was raised, innermost first."""
        failure = self._failure
        seen: BaseException | None = exc
        visited: set[int] = set()
        while failure is not None and seen is not None and id(seen) not in visited:
            if seen is failure[0]:
                return failure[1]
            visited.add(id(seen))
            seen = seen.__cause__ or seen.__context__
        return []


def _harmless(module: nn.Module, name: str) -> bool:
    # A neuron's discrete-time state (e.g. reset_state() in forward) never enters the graph.
    return isinstance(module, BaseNeuron) and name == "_discrete_state"


def _user_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """Innermost traceback frame of ``exc`` that lies in user code (not torch, not us)."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        path = os.path.abspath(frame.filename)
        if path.startswith((_TORCH_DIR, _THIS_DIR)):
            continue
        if frame.filename.startswith("<eval_with_key"):
            continue
        found = frame
    return found


def _submodule_note(failed_in: list[tuple[str, nn.Module]]) -> str:
    if not failed_in:
        return ""
    foreign = [(p, m) for p, m in failed_in if foreign_library(type(m))]
    path, module = foreign[-1] if foreign else failed_in[0]
    library = foreign_library(type(module))
    origin = f" from {library}" if library else ""
    return (
        f"It happened while tracing {describe_module(path, module)}{origin}, which is "
        "traced inside because it is not a spikeDE neuron (spikede_fx.BaseNeuron) nor a "
        "registered leaf. If it is a spiking neuron (it keeps a membrane or other state "
        "from call to call), port it: subclass spikede_fx.BaseNeuron and implement "
        f"step(v, current) -> (dv_dt, spike); see {NEURON_GUIDE}. Registering such a neuron "
        "as a leaf would not do: its state would not be integrated.\n"
    )


def _untraceable_message(
    module: nn.Module,
    exc: BaseException,
    failed_in: list[tuple[str, nn.Module]],
    writes: list[str],
) -> str:
    frame = _user_frame(exc)
    if frame is not None:
        line = (
            frame.line or linecache.getline(frame.filename, frame.lineno or 0).strip()
        )
        where = f'File "{frame.filename}", line {frame.lineno}, in {frame.name}:\n    {line}'
    else:
        where = "(no line of user code found in the traceback)"
    reason = f"{type(exc).__name__}: {exc}"
    wrote = ""
    if writes:
        listed = "".join(f"\n  - {w}" for w in writes)
        wrote = (
            f"Before failing, forward wrote state on the model (now restored):{listed}\n"
            "Feedback over time must go through a neuron's state (a BaseNeuron's membrane).\n"
        )
    return (
        f"torch.fx cannot trace {type(module).__name__}.forward: {reason}\n"
        f"The failing construct is at\n  {where}\n"
        "Tracing runs forward once on symbolic values, so Python control flow that depends "
        "on tensor values (if/while on a tensor, bool(), int(), .item(), len() of a tensor, "
        "iteration over a tensor) cannot be recorded. To fix it, either\n"
        "  - rewrite it without data-dependent Python control flow (e.g. torch.where),\n"
        "  - move it into a submodule and keep that submodule whole with "
        "SNNLeafTracer.register_leaf(ThatModule),\n"
        "  - or move it into a free function decorated at module level with torch.fx.wrap.\n"
        f"{_submodule_note(failed_in)}{wrote}"
    ).rstrip("\n")


def symbolic_trace_leaf_neurons(module: nn.Module) -> fx.GraphModule:
    """Trace ``module`` with :class:`SNNLeafTracer` into a :class:`torch.fx.GraphModule`.

    Neurons and registered leaf types appear as single ``call_module`` nodes. The
    returned module shares parameters and submodules with ``module``, and ``module`` is
    left exactly as it was (see :class:`SNNLeafTracer` for the checks made).

    Args:
        module: The spiking network to trace.

    Returns:
        The traced graph module; its ``code`` attribute shows the recorded forward.

    Raises:
        TypeError: If ``module`` is not a ``torch.nn.Module``, or holds a neuron of another
            SNN library (not a :class:`~spikede_fx.BaseNeuron`).
        ValueError: If its forward writes state on one of its modules (an attribute, a
            buffer, or a stored tensor in place); the message names each one.
        torch.fx.proxy.TraceError: (a ``ValueError``) if torch.fx cannot trace the
            forward; the message names the file, line and source of the failing construct,
            the submodule it is in, and the ways to fix it.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from spikede_fx import BaseNeuron, symbolic_trace_leaf_neurons
        >>> class Leaky(BaseNeuron):
        ...     def step(self, v, current, dt):
        ...         return current - v, (v >= 1.0).to(current.dtype)
        >>> gm = symbolic_trace_leaf_neurons(nn.Sequential(nn.Linear(3, 4), Leaky()))
        >>> print(gm.code.strip())
        def forward(self, input):
            input_1 = input
            _0 = getattr(self, "0")(input_1);  input_1 = None
            _1 = getattr(self, "1")(_0);  _0 = None
            return _1
    """
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"module must be a torch.nn.Module; got {type(module).__name__}"
        )
    tracer = SNNLeafTracer()
    tracer.record_stack_traces = True  # lets later errors name the user's line
    graph = tracer.trace(module)
    name = type(module).__name__
    return fx.GraphModule(tracer.root, graph, name)


def is_neuron_node(node: fx.Node, root: nn.Module) -> bool:
    """Whether ``node`` calls a :class:`~spikede_fx.BaseNeuron` submodule of ``root``."""
    if node.op != "call_module":
        return False
    return isinstance(root.get_submodule(str(node.target)), BaseNeuron)


def _is_impure(node: fx.Node) -> bool:
    if node.op == "call_method":
        name = str(node.target)
        # In-place tensor methods (add_, copy_, ...) mutate their input.
        if name.endswith("_") and not name.endswith("__"):
            return True
    return node.is_impure()


def remove_dead_code(gm: fx.GraphModule) -> fx.GraphModule:
    """Remove the nodes of ``gm`` whose values are never used, in place.

    Neuron calls are never removed, even when their spikes are unused: each neuron call
    is an integrated state, and removing one would shift the layer numbering that
    per-layer settings (orders, coefficients) refer to. Placeholders, the output,
    in-place methods and calls torch.fx considers impure (random ops, modules marked
    ``_is_impure``) are kept too. Neurons remain leaves (single calls).

    Args:
        gm: A graph module, e.g. from :func:`symbolic_trace_leaf_neurons`.

    Returns:
        ``gm`` itself, with its graph linted and its code regenerated.

    Raises:
        TypeError: If ``gm`` is not a ``torch.fx.GraphModule``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from spikede_fx import BaseNeuron, remove_dead_code, symbolic_trace_leaf_neurons
        >>> class Leaky(BaseNeuron):
        ...     def step(self, v, current, dt):
        ...         return current - v, (v >= 1.0).to(current.dtype)
        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc, self.lif, self.unused = nn.Linear(3, 3), Leaky(), Leaky()
        ...     def forward(self, x):
        ...         _ = x * 2.0
        ...         self.unused(x)
        ...         return self.lif(self.fc(x))
        >>> gm = remove_dead_code(symbolic_trace_leaf_neurons(Net()))
        >>> [n.name for n in gm.graph.nodes]
        ['x', 'unused', 'fc', 'lif', 'output']
    """
    if not isinstance(gm, fx.GraphModule):
        raise TypeError(f"gm must be a torch.fx.GraphModule; got {type(gm).__name__}")
    graph = gm.graph
    changed = True
    while changed:
        changed = False
        for node in reversed(list(graph.nodes)):
            if node.users or _is_impure(node) or is_neuron_node(node, gm):
                continue
            graph.erase_node(node)
            changed = True
    graph.lint()
    gm.recompile()
    return gm
