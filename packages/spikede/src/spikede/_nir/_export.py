"""spikeDE model -> NIR graph (see :func:`spikede.nir.to_nir`)."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import nir
import numpy as np
import torch
from torch import fx, nn

from spikede._checks import check_positive
from spikede._hard_if import HardResetIFNeuron
from spikede._li import LINeuron
from spikede._neurons import HardResetLIFNeuron, IFNeuron, LIFNeuron, NoisyLIFNeuron
from spikede._wrapper import SNNWrapper
from spikede_fx import BaseNeuron, symbolic_trace_leaf_neurons

_PASS_THROUGH = (nn.Identity, nn.Dropout)
_ADDS = (operator.add, torch.add)
_FLATTENS = (torch.flatten,)
#: What an operation handler of :class:`_Exporter` returns: its value and its NIR sources.
_Handled = tuple[torch.Tensor, list[str]]

_SOFT_RESET = {
    LIFNeuron: "HardResetLIFNeuron",
    IFNeuron: "HardResetIFNeuron",
}


def check_input_shape(input_shape: object) -> tuple[int, ...]:
    """``input_shape`` as a tuple of positive ints (one sample, no batch dimension)."""
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise TypeError(
            "input_shape must be a sequence of positive ints (one sample's shape without the "
            f"batch dimension); got {input_shape!r}"
        )
    shape = tuple(input_shape)
    if not shape or not all(
        isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape
    ):
        raise ValueError(
            "input_shape must be a non-empty sequence of positive ints (one sample's shape "
            f"without the batch dimension); got {input_shape!r}"
        )
    return shape


def _base_model(model: object) -> nn.Module:
    """The plain model to export: ``model`` itself, or an ``SNNWrapper``'s base at order 1."""
    if isinstance(model, SNNWrapper):
        for index, (order, coeff) in enumerate(
            zip(model.get_per_layer_alpha(), model.get_per_layer_coefficient())
        ):
            if order.numel() != 1 or coeff.numel() != 1 or float(order) != 1.0:
                raise ValueError(
                    f"model is an SNNWrapper whose neuron layer {index} has order "
                    f"{order.tolist()} (coefficients {coeff.tolist()}); NIR describes integer-order "
                    "(alpha = 1) dynamics only and has no fractional node: export a wrapper with "
                    "integrator='odeint', or fdeint with every order 1, or export the plain model"
                )
        return model.model
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module or an SNNWrapper; got {type(model).__name__}")
    return model


def _model_dtype(model: nn.Module) -> torch.dtype:
    for tensor in [*model.parameters(), *model.buffers()]:
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.get_default_dtype()


def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()


def _full(shape: tuple[int, ...], value: float) -> np.ndarray:
    value = value.detach() if isinstance(value, torch.Tensor) else value  # a learnable threshold
    return np.full(shape, float(value), dtype=np.float64)


def _neuron_node(name: str, neuron: BaseNeuron, shape: tuple[int, ...], dt: float) -> nir.NIRNode:
    """The NIR node of one neuron layer of shape ``shape`` (time in units of ``dt``)."""
    kind = type(neuron)
    if kind is HardResetLIFNeuron:
        tau = float(neuron.tau)
        return nir.LIF(
            tau=_full(shape, tau * dt),
            r=_full(shape, 1.0),
            v_leak=_full(shape, 0.0),
            v_threshold=_full(shape, neuron.threshold),
            v_reset=_full(shape, neuron.v_reset),
        )
    if kind is HardResetIFNeuron:
        return nir.IF(
            r=_full(shape, 1.0 / dt),
            v_threshold=_full(shape, neuron.threshold),
            v_reset=_full(shape, neuron.v_reset),
        )
    if kind is LINeuron:
        return nir.LI(
            tau=_full(shape, float(neuron.tau) * dt), r=_full(shape, 1.0), v_leak=_full(shape, 0.0)
        )
    if kind in _SOFT_RESET:
        raise ValueError(
            f"module {name!r} is a {kind.__name__}, which resets by subtracting the threshold; "
            f"NIR's {kind.__name__[:-6]} node resets to v_reset (the charge above the threshold "
            f"is lost), so the two fire differently: use spikede.{_SOFT_RESET[kind]} for a "
            "model meant for NIR"
        )
    if kind is NoisyLIFNeuron:
        raise ValueError(
            f"module {name!r} is a NoisyLIFNeuron (soft reset, input noise in training); NIR has "
            "no such node: use spikede.HardResetLIFNeuron for a model meant for NIR"
        )
    raise ValueError(
        f"module {name!r} is a {kind.__name__}, a neuron NIR export does not know; supported "
        "neurons: HardResetLIFNeuron (NIR LIF), HardResetIFNeuron (NIR IF), LINeuron (NIR LI)"
    )


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _pool_node(name: str, pool: nn.AvgPool2d) -> nir.NIRNode:
    kernel = _pair(pool.kernel_size)
    stride = kernel if pool.stride is None else _pair(pool.stride)
    padding = _pair(pool.padding)
    if pool.ceil_mode:
        raise ValueError(f"module {name!r}: AvgPool2d with ceil_mode=True has no NIR node")
    arrays = dict(kernel_size=np.array(kernel), stride=np.array(stride), padding=np.array(padding))
    if pool.divisor_override == 1:
        return nir.SumPool2d(**arrays)
    if pool.divisor_override is not None:
        raise ValueError(
            f"module {name!r}: AvgPool2d with divisor_override={pool.divisor_override} has no NIR "
            "node (divisor_override=1 is NIR's SumPool2d, None its AvgPool2d)"
        )
    if any(padding):
        raise ValueError(
            f"module {name!r}: AvgPool2d with padding={padding}: NIR's AvgPool2d does not say "
            "whether padded zeros count in the average; use padding 0"
        )
    return nir.AvgPool2d(**arrays)


def _flatten_node(name: str, start: int, end: int, in_shape: tuple[int, ...]) -> nir.NIRNode:
    """NIR ``Flatten`` over one sample's dims, from torch's batched ``start``/``end``."""
    ndim = len(in_shape) + 1
    start, end = start % ndim, end % ndim
    if start == 0:
        raise ValueError(f"{name!r} flattens the batch dimension; NIR graphs act on one sample")
    return nir.Flatten(
        input_type={"input": np.array(in_shape)}, start_dim=start - 1, end_dim=end - 1
    )


def _module_node(name: str, module: nn.Module, in_shape: tuple[int, ...], dt: float) -> nir.NIRNode:
    kind = type(module)
    if isinstance(module, BaseNeuron):
        return _neuron_node(name, module, in_shape, dt)
    if kind is nn.Linear:
        if len(in_shape) != 1:
            raise ValueError(
                f"module {name!r}: Linear on samples of shape {in_shape}; NIR's Affine/Linear act "
                "on vectors (flatten first)"
            )
        weight = _array(module.weight)
        if module.bias is None:
            return nir.Linear(weight=weight)
        return nir.Affine(weight=weight, bias=_array(module.bias))
    if kind is nn.Conv2d:
        if module.padding_mode != "zeros":
            raise ValueError(
                f"module {name!r}: Conv2d with padding_mode={module.padding_mode!r}; NIR pads with zeros"
            )
        bias = (
            _array(module.bias)
            if module.bias is not None
            else np.zeros(module.out_channels, dtype=np.float32)
        )
        padding = module.padding if isinstance(module.padding, str) else _pair(module.padding)
        return nir.Conv2d(
            input_shape=tuple(in_shape[1:]),
            weight=_array(module.weight),
            stride=_pair(module.stride),
            padding=padding,
            dilation=_pair(module.dilation),
            groups=module.groups,
            bias=bias,
        )
    if kind is nn.Flatten:
        return _flatten_node(f"module {name}", module.start_dim, module.end_dim, in_shape)
    if kind is nn.AvgPool2d:
        return _pool_node(name, module)
    raise ValueError(
        f"module {name!r} ({kind.__name__}) has no NIR export; supported: Linear, Conv2d, Flatten, "
        "AvgPool2d (NIR AvgPool2d, or SumPool2d with divisor_override=1), Identity, Dropout, "
        "HardResetLIFNeuron, HardResetIFNeuron, LINeuron and residual additions"
    )


class _Exporter:
    """Walk a traced model once: propagate shapes (neurons pass zeros) and build NIR nodes."""

    def __init__(self, gm: fx.GraphModule, input_shape: tuple[int, ...], dt: float) -> None:
        self.gm, self.dt = gm, dt
        self.modules = dict(gm.named_modules())
        self.nodes: dict[str, nir.NIRNode] = {}
        self.edges: list[tuple[str, str]] = []
        self.example = torch.zeros((1, *input_shape), dtype=_model_dtype(gm))
        self.used_modules: set[str] = set()

    def _key(self, preferred: str) -> str:
        """``preferred``, or with a numeric suffix if taken (``input``/``output`` are reserved)."""
        key, n = preferred, 1
        while key in self.nodes or key in ("input", "output"):
            key, n = f"{preferred}_{n}", n + 1
        return key

    def _add(self, key: str, node: nir.NIRNode, sources: list[str]) -> list[str]:
        self.nodes[key] = node
        self.edges.extend((src, key) for src in sources)
        return [key]

    def run(self) -> nir.NIRGraph:
        values: dict[fx.Node, torch.Tensor] = {}
        sources: dict[fx.Node, list[str]] = {}
        placeholders = [n for n in self.gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise ValueError(
                f"model takes {len(placeholders)} inputs ({[n.name for n in placeholders]}); a NIR "
                "graph exported here has one Input node, so the model must take one tensor"
            )
        with torch.no_grad():
            for node in self.gm.graph.nodes:
                if node.op == "placeholder":
                    values[node] = self.example
                    self.nodes["input"] = nir.Input(input_type=np.array(self.example.shape[1:]))
                    sources[node] = ["input"]
                elif node.op == "call_module":
                    values[node], sources[node] = self._call_module(node, values, sources)
                elif node.op == "call_function" and node.target in _ADDS:
                    values[node], sources[node] = self._add_node(node, values, sources)
                elif self._is_flatten(node):
                    values[node], sources[node] = self._flatten_call(node, values, sources)
                elif node.op == "output":
                    self._output(node, values, sources)
                else:
                    raise ValueError(
                        f"model operation {node.name!r} ({node.op} {getattr(node.target, '__name__', node.target)}) "
                        "has no NIR export; supported: modules listed in spikede.nir.to_nir, "
                        "additions of two tensors (residual connections) and flatten"
                    )
        return nir.NIRGraph(nodes=self.nodes, edges=self.edges)

    def _tensor_arg(self, node: fx.Node, arg: object, values: dict) -> fx.Node:
        if not isinstance(arg, fx.Node) or arg not in values:
            raise ValueError(
                f"model operation {node.name!r} takes {arg!r}, not a tensor of the graph"
            )
        return arg

    def _tensor_args(self, node: fx.Node, values: dict, count: int, refusal: str) -> list[fx.Node]:
        """The ``count`` positional tensor arguments of ``node``; ``refusal`` if it has others."""
        if len(node.args) != count or node.kwargs:
            raise ValueError(refusal)
        return [self._tensor_arg(node, arg, values) for arg in node.args]

    def _call_module(self, node: fx.Node, values: dict, sources: dict) -> _Handled:
        refusal = (
            f"module {node.target!r} is called with {len(node.args)} arguments; NIR nodes take "
            "one input"
        )
        (arg,) = self._tensor_args(node, values, 1, refusal)
        module = self.modules[node.target]
        if isinstance(module, _PASS_THROUGH):  # inference graph: Dropout is the identity
            return values[arg], sources[arg]
        in_shape = tuple(values[arg].shape[1:])
        nir_node = _module_node(node.target, module, in_shape, self.dt)
        preferred = node.target if node.target not in self.used_modules else node.name
        self.used_modules.add(node.target)
        out = (
            torch.zeros_like(values[arg]) if isinstance(module, BaseNeuron) else module(values[arg])
        )
        return out, self._add(self._key(preferred), nir_node, sources[arg])

    def _add_node(self, node: fx.Node, values: dict, sources: dict) -> _Handled:
        refusal = f"model operation {node.name!r}: only the sum of two tensors is exported"
        a, b = self._tensor_args(node, values, 2, refusal)
        if set(sources[a]) & set(sources[b]):
            raise ValueError(
                f"model operation {node.name!r} adds values that share a term ({sources[a]} and "
                f"{sources[b]}); NIR sums edges and cannot hold the same edge twice"
            )
        return values[a] + values[b], sources[a] + sources[b]

    @staticmethod
    def _is_flatten(node: fx.Node) -> bool:
        return (node.op == "call_function" and node.target in _FLATTENS) or (
            node.op == "call_method" and node.target == "flatten"
        )

    def _flatten_call(self, node: fx.Node, values: dict, sources: dict) -> _Handled:
        arg = self._tensor_arg(node, node.args[0], values)
        extra = list(node.args[1:])
        start = node.kwargs.get("start_dim", extra[0] if extra else 0)
        end = node.kwargs.get("end_dim", extra[1] if len(extra) > 1 else -1)
        in_shape = tuple(values[arg].shape[1:])
        nir_node = _flatten_node(f"model operation {node.name}", start, end, in_shape)
        key = self._key(node.name)
        return torch.flatten(values[arg], start, end), self._add(key, nir_node, sources[arg])

    def _output(self, node: fx.Node, values: dict, sources: dict) -> None:
        result = node.args[0]
        if not isinstance(result, fx.Node):
            raise ValueError(
                f"model returns {type(result).__name__}; a NIR graph exported here has one Output, "
                "so the model must return one tensor"
            )
        value = values[self._tensor_arg(node, result, values)]
        self._add("output", nir.Output(output_type=np.array(value.shape[1:])), sources[result])


def export(model: object, input_shape: object, dt: object) -> nir.NIRGraph:
    """Implementation of :func:`spikede.nir.to_nir` (arguments checked here first)."""
    shape = check_input_shape(input_shape)
    step = check_positive("dt", dt)
    base = _base_model(model)
    gm = symbolic_trace_leaf_neurons(base)
    return _Exporter(gm, shape, step).run()
