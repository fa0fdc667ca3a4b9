"""What tracing rejects: neurons of other libraries, and forwards that write module state."""

from __future__ import annotations

import builtins
import operator
import os
import re

import torch
from torch import fx, nn

from spikede_fx._neuron import BaseNeuron
from spikede_fx._snapshot import ModelSnapshot, describe_module

__all__ = [
    "NEURON_GUIDE",
    "foreign_library",
    "graph_state_writes",
    "reject_foreign_neurons",
    "state_write_message",
]

NEURON_GUIDE = (
    "'Writing your own neuron' in the neuron guide (docs/tutorials/neurons.md, "
    "https://spikede.github.io/spikeDE/tutorials/neurons/#writing-your-own-neuron)"
)

_SNN_LIBRARIES = ("snntorch", "spikingjelly", "norse", "sinabs")
# Modules that define the stateful neurons of those libraries (and their base classes).
_NEURON_MODULES = re.compile(
    r"snntorch\._neurons(\.|$)"
    r"|spikingjelly(\.[A-Za-z_]+)*\.neuron(\.|$)"
    r"|norse\.torch\.module\.snn(\.|$)"
    r"|sinabs\.layers\.stateful_layer(\.|$)"
)


def foreign_library(cls: type) -> str | None:
    """The known SNN library that ``cls`` (or one of its bases) comes from, if any."""
    for base in cls.__mro__:
        top = base.__module__.split(".")[0]
        if top in _SNN_LIBRARIES:
            return top
    return None


def _is_foreign_neuron(cls: type) -> bool:
    return any(_NEURON_MODULES.match(base.__module__) for base in cls.__mro__)


def reject_foreign_neurons(root: nn.Module) -> None:
    """Raise ``TypeError`` for the first neuron of another SNN library found in ``root``.

    Modules inside a :class:`BaseNeuron` are not looked at (the neuron is a leaf).
    """
    inside_neuron: list[str] = []
    for path, module in root.named_modules():
        if any(path.startswith(p + ".") for p in inside_neuron):
            continue
        if isinstance(module, BaseNeuron):
            inside_neuron.append(path)
            continue
        if _is_foreign_neuron(type(module)):
            library = foreign_library(type(module))
            raise TypeError(
                f"{describe_module(path, module)} is a spiking neuron from {library}, not a "
                "spikeDE neuron (spikede_fx.BaseNeuron). spikeDE integrates the membrane of "
                "BaseNeuron layers; a neuron of another library keeps its membrane on itself "
                "from call to call, which neither tracing nor SNNLeafTracer.register_leaf can "
                "turn into an integrated state. Port it: subclass spikede_fx.BaseNeuron and "
                "implement step(v, current) -> (dv_dt, spike) with the same dynamics (or use "
                f"spikede.LIFNeuron / spikede.IFNeuron); see {NEURON_GUIDE}."
            )


def state_write_message(root: nn.Module, writes: list[str], restored: bool = True) -> str:
    """The message of the ``ValueError`` raised when tracing finds writes of model state."""
    listed = "\n".join(f"  - {w}" for w in writes)
    restored_text = (
        "restored exactly as it was before tracing"
        if restored
        else "restored as far as possible (see above)"
    )
    return (
        f"the forward of {type(root).__name__} writes state on the model, which a traced "
        f"graph cannot reproduce:\n{listed}\nThe model has been {restored_text}. spikeDE "
        "evaluates the traced forward as a vector field, many times per time step, so a "
        "value stored on a module in one call and read back in a later one (spikes kept in "
        "self.prev for the next step, a counter, a record of past outputs) cannot be "
        "represented: the result would differ from running the model step by step. "
        "Feedback over time must go through a neuron's state, the membrane of a "
        "spikede_fx.BaseNeuron, which is what spikeDE integrates: move the stored quantity "
        "into a neuron (subclass BaseNeuron and implement step(v, current)), or compute it "
        f"from the inputs of forward; see {NEURON_GUIDE}."
    )


# ---------------------------------------------------------------- in-place writes in the graph

_DUNDER_IN_PLACE = {
    "__setitem__", "__delitem__", "__iadd__", "__isub__", "__imul__", "__imatmul__",
    "__itruediv__", "__ifloordiv__", "__imod__", "__ipow__", "__iand__", "__ior__",
    "__ixor__", "__ilshift__", "__irshift__",
}
_IN_PLACE_OPERATORS = {
    operator.setitem, operator.delitem, operator.iadd, operator.isub, operator.imul,
    operator.imatmul, operator.itruediv, operator.ifloordiv, operator.imod, operator.ipow,
    operator.iand, operator.ior, operator.ixor, operator.ilshift, operator.irshift,
}
# Operations whose result shares memory with their first argument.
_VIEWS = {
    "view", "view_as", "reshape", "reshape_as", "flatten", "unflatten", "squeeze",
    "unsqueeze", "transpose", "swapaxes", "swapdims", "t", "permute", "movedim", "moveaxis",
    "expand", "expand_as", "narrow", "select", "as_strided", "unfold", "diagonal", "detach",
    "split", "chunk", "unbind", "tensor_split", "view_as_real", "view_as_complex",
    "__getitem__", "getitem", "real", "imag",
}
_VIEW_ATTRIBUTES = {"data", "T", "mT", "H", "mH", "real", "imag"}


def _is_in_place_name(name: str) -> bool:
    return name in _DUNDER_IN_PLACE or (name.endswith("_") and not name.startswith("_"))


def _written_args(node: fx.Node, root: nn.Module) -> list[object]:
    written: list[object] = []
    if node.op == "call_method" and _is_in_place_name(str(node.target)):
        written.append(node.args[0])
    elif node.op == "call_function" and node.args:
        target = node.target
        name = getattr(target, "__name__", "")
        # operator.and_, or_, not_ ... are not in-place: only the listed operators are.
        from_operator = getattr(target, "__module__", "") in ("operator", "_operator")
        if target in _IN_PLACE_OPERATORS or (_is_in_place_name(name) and not from_operator):
            written.append(node.args[0])
    elif node.op == "call_module" and node.args:
        try:
            module = root.get_submodule(str(node.target))
        except AttributeError:
            module = None
        if getattr(module, "inplace", False) is True:
            written.append(node.args[0])
    if node.op != "call_module" and node.kwargs.get("inplace") is True and node.args:
        written.append(node.args[0])
    out = node.kwargs.get("out")
    written += list(out) if isinstance(out, (tuple, list)) else [out]
    return written


def _stored_node(value: object) -> fx.Node | None:
    """The ``get_attr`` node that ``value`` is (a view of), if any."""
    while isinstance(value, fx.Node):
        if value.op == "get_attr":
            return value
        if value.op not in ("call_method", "call_function") or not value.args:
            return None
        target = value.target
        name = target if isinstance(target, str) else getattr(target, "__name__", "")
        is_view = name in _VIEWS or target is operator.getitem
        if target is builtins.getattr and len(value.args) == 2:
            is_view = value.args[1] in _VIEW_ATTRIBUTES
        if not is_view:
            return None
        value = value.args[0]
    return None


def _storage(tensor: torch.Tensor) -> int:
    try:
        return tensor.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return 0


def _name_target(target: str, root: nn.Module, snapshot: ModelSnapshot) -> str:
    """Say which module state a ``get_attr`` target is (or is a view of)."""
    path, _, name = target.rpartition(".")
    for t_path, store, t_name, _ in snapshot.tensors():
        if (t_path, t_name) == (path, name):
            return f"{store} '{name}' of {describe_module(path, root.get_submodule(path))}"
    value = getattr(root, target, None)  # a constant that torch.fx stored on the root
    if isinstance(value, torch.Tensor) and _storage(value):
        for t_path, store, t_name, tensor in snapshot.tensors():
            if _storage(tensor) == _storage(value):
                where = describe_module(t_path, root.get_submodule(t_path))
                return f"a view of {store} '{t_name}' of {where}"
    return (
        "a tensor created in forward without depending on its inputs (the traced graph "
        "keeps it as a constant shared by every call; create it from an input instead, "
        "e.g. torch.zeros_like(x))"
    )


def _line(node: fx.Node) -> str:
    """``File "...", line N`` and the source of the innermost user frame of ``node``."""
    frames = re.findall(r'File "([^"]+)", line (\d+), in \S+\n\s*(.*)', node.stack_trace or "")
    torch_dir = os.path.dirname(os.path.abspath(torch.__file__))
    this_dir = os.path.dirname(os.path.abspath(__file__))
    for filename, lineno, source in reversed(frames):
        if not os.path.abspath(filename).startswith((torch_dir, this_dir)):
            return f' at File "{filename}", line {lineno}: {source.strip()}'
    return ""


def graph_state_writes(graph: fx.Graph, root: nn.Module, snapshot: ModelSnapshot) -> list[str]:
    """Describe the operations of ``graph`` that write a stored tensor in place.

    Such an operation (``self.buf.copy_(x)``, ``self.buf[0] = x``, ``out=self.buf``...)
    does not change the model while tracing but would change it at every call of the
    traced graph.
    """
    writes = []
    for node in graph.nodes:
        if node.op not in ("call_method", "call_function", "call_module"):
            continue
        for arg in _written_args(node, root):
            stored = _stored_node(arg)
            if stored is None:
                continue
            what = _name_target(str(stored.target), root, snapshot)
            op = getattr(node.target, "__name__", str(node.target))
            op += "(out=...)" if arg is node.kwargs.get("out") else ""
            writes.append(f"{what} would be written in place by {op}{_line(node)}")
    return writes
