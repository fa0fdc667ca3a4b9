"""NIR graph -> spikeDE model (see :func:`spikede.nir.from_nir`)."""

from __future__ import annotations

import keyword
import operator
import re
from dataclasses import dataclass, field
from typing import Any

import nir
import numpy as np
import torch
from torch import fx, nn

from spikede._checks import check_positive
from spikede._hard_if import HardResetIFNeuron
from spikede._li import LINeuron
from spikede._neurons import HardResetLIFNeuron
from spikede._nir._common import as_array, uniform

# nir 1.0 defines Identity in nir.ir.graph without exporting it at the top level
_PASS_THROUGH = tuple(
    t for t in (nir.Input, nir.Output, getattr(nir.ir.graph, "Identity", None)) if t is not None
)
_TWO_STATE = (nir.CubaLIF, nir.CubaLI)


@dataclass
class _Affine:
    """A Linear/Affine/Conv2d node as float64 arrays, so a neuron's gain can be folded in."""

    weight: np.ndarray
    bias: np.ndarray | None
    conv: dict[str, Any] | None = None  # Conv2d arguments; None for a Linear
    folded: bool = False

    def module(self, dtype: torch.dtype) -> nn.Module:
        weight = torch.as_tensor(self.weight, dtype=dtype)
        bias = None if self.bias is None else torch.as_tensor(self.bias, dtype=dtype)
        if self.conv is None:
            layer: nn.Module = nn.Linear(
                weight.shape[1], weight.shape[0], bias=bias is not None, dtype=dtype
            )
        else:
            groups = self.conv["groups"]
            layer = nn.Conv2d(
                weight.shape[1] * groups,
                weight.shape[0],
                kernel_size=tuple(weight.shape[2:]),
                bias=bias is not None,
                dtype=dtype,
                **self.conv,
            )
        with torch.no_grad():
            layer.weight.copy_(weight)
            if bias is not None:
                layer.bias.copy_(bias)
        return layer


@dataclass
class _Neuron:
    """A neuron module and the input gain and offset to fold into the layers feeding it."""

    module: nn.Module
    gain: np.ndarray
    offset: np.ndarray
    needs_fold: bool = field(init=False)

    def __post_init__(self) -> None:
        self.needs_fold = bool(np.any(self.gain != 1.0) or np.any(self.offset != 0.0))


def _neuron(key: str, make: type[nn.Module], **kwargs: float) -> nn.Module:
    try:
        return make(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"NIR node {key!r}: no spikeDE {make.__name__} has these parameters: {exc}"
        ) from exc


def _convert(key: str, node: nir.NIRNode, dt: float) -> _Affine | _Neuron | nn.Module | None:
    """The spikeDE counterpart of one NIR node (``None``: passes its summed input on)."""
    if isinstance(node, _PASS_THROUGH):
        return None
    if isinstance(node, (nir.Affine, nir.Linear)):
        weight = as_array(node.weight)
        if weight.ndim != 2:
            raise ValueError(
                f"NIR node {key!r}: {type(node).__name__} weight of shape {weight.shape}; only 2-d weights are supported"
            )
        bias = as_array(node.bias).copy() if isinstance(node, nir.Affine) else None
        return _Affine(weight.copy(), bias)
    if isinstance(node, nir.Conv2d):
        padding = (
            node.padding
            if isinstance(node.padding, str)
            else tuple(int(p) for p in np.atleast_1d(node.padding))
        )
        conv = dict(
            stride=tuple(int(s) for s in np.atleast_1d(node.stride)),
            padding=padding,
            dilation=tuple(int(d) for d in np.atleast_1d(node.dilation)),
            groups=int(node.groups),
        )
        bias = None if node.bias is None else as_array(node.bias).copy()
        return _Affine(as_array(node.weight).copy(), bias, conv)
    if isinstance(node, nir.Flatten):
        start, end = int(node.start_dim), int(node.end_dim)
        return nn.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end)
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        kernel, stride, padding = (
            tuple(int(v) for v in np.broadcast_to(np.atleast_1d(a), (2,)))
            for a in (node.kernel_size, node.stride, node.padding)
        )
        if isinstance(node, nir.SumPool2d):  # a sum is an average with divisor 1, exactly
            return nn.AvgPool2d(kernel, stride, padding, divisor_override=1)
        if any(padding):
            raise ValueError(
                f"NIR node {key!r}: AvgPool2d with padding {padding} is ambiguous (do padded zeros count?); only padding 0 is supported"
            )
        return nn.AvgPool2d(kernel, stride)
    if isinstance(node, nir.LIF):
        module = _neuron(
            key,
            HardResetLIFNeuron,
            tau=uniform(key, "tau", node.tau, "tau") / dt,
            threshold=uniform(key, "v_threshold", node.v_threshold, "threshold"),
            v_reset=uniform(key, "v_reset", node.v_reset, "v_reset"),
        )
        return _Neuron(module, as_array(node.r), as_array(node.v_leak))
    if isinstance(node, nir.IF):
        module = _neuron(
            key,
            HardResetIFNeuron,
            threshold=uniform(key, "v_threshold", node.v_threshold, "threshold"),
            v_reset=uniform(key, "v_reset", node.v_reset, "v_reset"),
        )
        return _Neuron(module, as_array(node.r) * dt, np.zeros(()))
    if isinstance(node, nir.LI):
        module = _neuron(key, LINeuron, tau=uniform(key, "tau", node.tau, "tau") / dt)
        return _Neuron(module, as_array(node.r), as_array(node.v_leak))
    if isinstance(node, _TWO_STATE):
        raise ValueError(
            f"NIR node {key!r} is a {type(node).__name__}, a neuron with a synaptic current as a second "
            "state; spikeDE neurons integrate one state (the membrane), so it is not supported"
        )
    if isinstance(node, nir.NIRGraph):
        raise ValueError(
            f"NIR node {key!r} is a nested graph (e.g. a recurrent layer); from_nir supports flat "
            "feed-forward graphs only"
        )
    raise ValueError(
        f"NIR node {key!r} is a {type(node).__name__}, which from_nir does not support; supported: "
        "Input, Output, Affine, Linear, Conv2d, Flatten, SumPool2d, AvgPool2d, LIF, IF, LI"
    )


def _fold(
    key: str, neuron: _Neuron, preds: list[str], specs: dict[str, Any], succs: dict[str, list[str]]
) -> None:
    """Fold ``I -> gain I + offset`` into the Linear/Conv2d layers that feed neuron ``key``."""
    for index, pred in enumerate(preds):
        spec = specs[pred]
        if not isinstance(spec, _Affine) or succs[pred] != [key] or spec.folded:
            raise ValueError(
                f"NIR node {key!r} has r != 1 or v_leak != 0, which spikeDE's neurons do not hold; "
                "they are folded exactly into the weights and bias of the Affine/Linear/Conv2d "
                f"layers feeding the node, but its input {pred!r} ({type(spec).__name__}) is not "
                "such a layer feeding this node alone"
            )
        gain = _per_output(key, "r (times dt for IF)", neuron.gain, spec)
        spec.weight = spec.weight * gain.reshape((-1,) + (1,) * (spec.weight.ndim - 1))
        if spec.bias is not None:
            spec.bias = spec.bias * gain
        if index == 0 and np.any(neuron.offset != 0.0):
            offset = _per_output(key, "v_leak", neuron.offset, spec)
            spec.bias = (
                np.zeros(spec.weight.shape[0]) if spec.bias is None else spec.bias
            ) + offset
        spec.folded = True


def _per_output(key: str, param: str, value: np.ndarray, spec: _Affine) -> np.ndarray:
    """``value`` as one number per output row (Linear) or output channel (Conv2d)."""
    n_out = spec.weight.shape[0]
    if value.size == 1:
        return np.full(n_out, float(value.flat[0]))
    if spec.conv is None and value.shape == (n_out,):
        return value
    if spec.conv is not None and value.ndim == 3 and value.shape[0] == n_out:
        flat = value.reshape(n_out, -1)
        if np.all(flat == flat[:, :1]):
            return flat[:, 0].copy()
    raise ValueError(
        f"NIR node {key!r}: {param} of shape {value.shape} cannot be folded into the layer feeding "
        f"it ({n_out} outputs{'; a Conv2d takes one value per channel' if spec.conv else ''})"
    )


def _order(
    nodes: dict[str, nir.NIRNode], preds: dict[str, list[str]], succs: dict[str, list[str]]
) -> list[str]:
    """Topological order of the nodes (Kahn), or an error naming a cycle's nodes."""
    missing = {key: len(preds[key]) for key in nodes}
    ready = [key for key in nodes if missing[key] == 0]
    order = []
    while ready:
        key = ready.pop(0)
        order.append(key)
        for succ in succs[key]:
            missing[succ] -= 1
            if missing[succ] == 0:
                ready.append(succ)
    if len(order) != len(nodes):
        raise ValueError(
            f"the NIR graph has a cycle through {sorted(set(nodes) - set(order))} (a recurrent "
            "connection); from_nir supports feed-forward graphs only"
        )
    return order


def _module_names(keys: list[str]) -> dict[str, str]:
    """A valid, unique submodule name for each NIR node key."""
    names: dict[str, str] = {}
    taken = set(dir(fx.GraphModule))
    for key in keys:
        base = re.sub(r"\W", "_", key) or "node"
        name, n = base, 1
        while name in taken or keyword.iskeyword(name):
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        names[key] = name
    return names


def _structure(graph: nir.NIRGraph) -> tuple[str, str, dict[str, list[str]], dict[str, list[str]]]:
    nodes = graph.nodes
    preds: dict[str, list[str]] = {key: [] for key in nodes}
    succs: dict[str, list[str]] = {key: [] for key in nodes}
    for edge in graph.edges:
        src, dst = edge
        for end in (src, dst):
            if end not in nodes:
                raise ValueError(
                    f"NIR edge {tuple(edge)} names {end!r}, which is not a node of the graph"
                )
        preds[dst].append(src)
        succs[src].append(dst)
    inputs = [key for key, node in nodes.items() if isinstance(node, nir.Input)]
    outputs = [key for key, node in nodes.items() if isinstance(node, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            f"the NIR graph has inputs {inputs} and outputs {outputs}; from_nir builds a model of "
            "one input tensor and one output, so it needs exactly one Input and one Output node"
        )
    for key in nodes:
        if key != inputs[0] and not preds[key]:
            raise ValueError(f"NIR node {key!r} has no incoming edge and is not the Input node")
    return inputs[0], outputs[0], preds, succs


def build(graph: object, dt: object, dtype: object = None) -> fx.GraphModule:
    """Implementation of :func:`spikede.nir.from_nir` (arguments checked here first)."""
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be a nir.NIRGraph; got {type(graph).__name__}")
    step = check_positive("dt", dt)
    if dtype is None:
        dtype = torch.get_default_dtype()
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype or None; got {dtype!r}")
    source, sink, preds, succs = _structure(graph)
    order = _order(graph.nodes, preds, succs)
    specs = {key: _convert(key, graph.nodes[key], step) for key in order}
    for key in order:
        if isinstance(specs[key], _Neuron) and specs[key].needs_fold:
            _fold(key, specs[key], preds[key], specs, succs)

    names = _module_names([key for key in order if specs[key] is not None])
    root = nn.Module()
    fx_graph = fx.Graph()
    values = {source: fx_graph.placeholder("x")}
    for key in order:
        if key == source:
            continue
        total = values[preds[key][0]]
        for pred in preds[key][1:]:  # NIR sums the edges into a node
            total = fx_graph.call_function(operator.add, (total, values[pred]))
        spec = specs[key]
        if spec is None:
            values[key] = total
            continue
        module = (
            spec.module(dtype)
            if isinstance(spec, _Affine)
            else spec.module
            if isinstance(spec, _Neuron)
            else spec
        )
        root.add_module(names[key], module.to(dtype))
        values[key] = fx_graph.call_module(names[key], (total,))
    fx_graph.output(values[sink])
    return fx.GraphModule(root, fx_graph, class_name="NIRNetwork")
