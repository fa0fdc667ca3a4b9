"""The per-layer operation count of one grid step of a traced network (see :mod:`spikede._profile`).

The traced model (one time step) is re-run by an :class:`torch.fx.Interpreter` at each grid
point with every neuron call replaced by the spikes recorded there, so every layer sees
exactly the values it saw in the solve's evaluation at that point. Each value is marked
*spiking* when it is a neuron's output, or is made from spiking values only by
operations that move, select or sum events without weighting them (reshapes, indexing,
concatenation, max pooling, dropout at inference, residual sums of spikes).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from spikede._fanout import adaptive_counts, outer, window_counts

__all__ = ["StepCounter", "uncounted"]

_STRUCTURAL_MODULES: tuple[type[nn.Module], ...] = (
    nn.Flatten,
    nn.Unflatten,
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
    nn.ZeroPad1d,
    nn.ZeroPad2d,
    nn.ZeroPad3d,
)
_STRUCTURAL_METHODS = frozenset(
    {
        "view", "reshape", "flatten", "unflatten", "permute", "transpose", "t", "unsqueeze",
        "squeeze", "contiguous", "clone", "detach", "float", "double", "half", "to", "type",
        "type_as", "expand", "expand_as", "repeat", "chunk", "split", "unbind", "narrow",
        "select", "movedim", "view_as", "reshape_as", "__getitem__",
    }
)
_STRUCTURAL_FUNCTIONS = frozenset(
    {
        torch.flatten, torch.reshape, torch.permute, torch.transpose, torch.t, torch.squeeze,
        torch.unsqueeze, torch.cat, torch.concat, torch.stack, torch.chunk, torch.split,
        torch.unbind, torch.narrow, torch.select, torch.movedim, torch.clone, torch.detach,
        operator.getitem, F.max_pool1d, F.max_pool2d, F.max_pool3d, F.adaptive_max_pool1d,
        F.adaptive_max_pool2d, F.adaptive_max_pool3d, F.dropout,
    }
)
_ADD_FUNCTIONS = frozenset({operator.add, operator.iadd, torch.add})
_ADD_METHODS = frozenset({"add", "__add__"})
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_AVG = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
_ADAPTIVE_AVG = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)
COUNTED = (nn.Linear, *_CONV, *_AVG, *_ADAPTIVE_AVG)
#: Layers whose work is not synaptic and is deliberately left out (normalisation folds
#: into the weights of the layer before it at inference).
_NOT_SYNAPTIC = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm,
    nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.LocalResponseNorm,
)
_WEIGHTED_FUNCTIONS = frozenset(
    {
        F.linear, F.bilinear, F.conv1d, F.conv2d, F.conv3d, F.conv_transpose1d,
        F.conv_transpose2d, F.conv_transpose3d, torch.matmul, operator.matmul, torch.mm,
        torch.bmm, torch.einsum, torch.addmm, torch.tensordot,
    }
)


def _tuple(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value)
    return (int(value),) * n


def uncounted(gm: fx.GraphModule, neuron_nodes: set[str]) -> list[str]:
    """Layers with weights, or weighted functional calls, that the count does not cover."""
    missing = []
    for node in gm.graph.nodes:
        if node.op == "call_module" and node.name not in neuron_nodes:
            module = gm.get_submodule(str(node.target))
            if isinstance(module, COUNTED) or isinstance(module, _NOT_SYNAPTIC):
                continue
            if any(True for _ in module.parameters(recurse=False)):
                missing.append(f"{str(node.target).removeprefix('model.')} ({type(module).__name__})")
        elif node.op == "call_function" and node.target in _WEIGHTED_FUNCTIONS:
            missing.append(f"{node.name} ({getattr(node.target, '__name__', node.target)})")
        elif node.op == "call_method" and node.target in ("matmul", "mm", "bmm", "__matmul__"):
            missing.append(f"{node.name} (.{node.target})")
    return missing


class StepCounter(fx.Interpreter):
    """Runs one grid step of ``gm`` with recorded spikes and counts each layer's work.

    Args:
        gm: The traced model (one time step), bound to the user's model.
        neuron_nodes: Traced node name of each neuron call, in execution order.
        rows: Row name of every counted node (by node name).
        input_spikes: Whether the model's input counts as spikes.

    Attributes:
        synops: Per row, the synaptic operations counted so far (all samples).
        macs: Per row, the multiply-accumulates counted so far (all samples).
    """

    def __init__(
        self, gm: fx.GraphModule, neuron_nodes: Sequence[str], rows: dict[str, str], input_spikes: bool = False
    ) -> None:
        super().__init__(gm)
        first = next(n for n in gm.graph.nodes if n.op == "placeholder")
        self.input_name = first.name if input_spikes else None
        self.neuron_index = {name: i for i, name in enumerate(neuron_nodes)}
        self.rows = rows
        self.synops = dict.fromkeys(rows.values(), 0.0)
        self.macs = dict.fromkeys(rows.values(), 0.0)
        self.spiking: dict[str, bool] = {}
        self.spikes: Sequence[torch.Tensor] = ()
        self.fanouts: dict[str, torch.Tensor] = {}
        self.adds_with_events: set[str] = set()

    def step(self, x: torch.Tensor, extras: Sequence[Any], spikes: Sequence[torch.Tensor]) -> None:
        """Count one grid step: input ``x`` ``[B, ...]``, the neurons' ``spikes``."""
        self.spikes = spikes
        self.spiking = {}
        self.run(x, *extras)

    def run_node(self, n: fx.Node) -> Any:
        if n.name in self.neuron_index:
            self.spiking[n.name] = True
            return self.spikes[self.neuron_index[n.name]]
        result = super().run_node(n)
        tensors = [a for a in n.all_input_nodes if isinstance(self.env.get(a), torch.Tensor)]
        events = [a for a in tensors if self.spiking.get(a.name, False)]
        if n.name in self.rows:
            self._count(n, result)
        spiking = n.name == self.input_name
        if tensors and len(events) == len(tensors):
            if n.op == "call_module":
                spiking = isinstance(self.module.get_submodule(str(n.target)), _STRUCTURAL_MODULES)
            elif n.op == "call_method":
                spiking = n.target in _STRUCTURAL_METHODS or n.target in _ADD_METHODS
            elif n.op == "call_function":
                spiking = n.target in _STRUCTURAL_FUNCTIONS or n.target in _ADD_FUNCTIONS
        self.spiking[n.name] = spiking
        return result

    def _count(self, n: fx.Node, result: Any) -> None:
        row = self.rows[n.name]
        if n.op != "call_module":  # a sum: one accumulate per event of each spiking operand
            for a in n.all_input_nodes:
                if self.spiking.get(a.name, False) and isinstance(self.env.get(a), torch.Tensor):
                    self.synops[row] += float(torch.count_nonzero(self.env[a]))
                    self.adds_with_events.add(row)
            return
        module = self.module.get_submodule(str(n.target))
        arg = n.args[0]
        x = self.env[arg] if isinstance(arg, fx.Node) else arg
        events = isinstance(arg, fx.Node) and self.spiking.get(arg.name, False)
        if isinstance(module, nn.Linear):
            if events:
                self.synops[row] += float(torch.count_nonzero(x)) * module.out_features
            else:
                self.macs[row] += float(x.numel()) * module.out_features
            return
        if isinstance(module, _CONV):
            if events:
                x_in = x
                if module.padding_mode != "zeros":  # padded copies are read as events too
                    x_in = F.pad(x, module._reversed_padding_repeated_twice, mode=module.padding_mode)
                fan = self._fanout(n.name, module, x_in, result)
                per_position = (x_in != 0).sum(dim=(0, 1), dtype=torch.float64)
                self.synops[row] += float((per_position * fan).sum()) * (module.out_channels // module.groups)
            else:
                taps = (module.in_channels // module.groups) * math.prod(module.kernel_size)
                self.macs[row] += float(result.numel()) * taps
            return
        fan = self._fanout(n.name, module, x, result)  # average pooling
        if events:
            per_position = (x != 0).sum(dim=tuple(range(x.dim() - fan.dim())), dtype=torch.float64)
            self.synops[row] += float((per_position * fan).sum())
        else:
            self.macs[row] += float(fan.sum()) * (x.numel() / fan.numel())

    def _fanout(self, key: str, module: nn.Module, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        fan = self.fanouts.get(key)
        if fan is not None:
            return fan
        if isinstance(module, _CONV):
            d = len(module.kernel_size)
            zeros = module.padding_mode == "zeros"
            pads = module._reversed_padding_repeated_twice
            per_dim = [
                window_counts(
                    x.shape[2 + i],
                    out.shape[2 + i],
                    module.kernel_size[i],
                    module.stride[i],
                    pads[2 * (d - 1 - i)] if zeros else 0,
                    module.dilation[i],
                )
                for i in range(d)
            ]
        elif isinstance(module, _AVG):
            d = int(type(module).__name__[-2])
            stride = module.stride if module.stride is not None else module.kernel_size
            k, s, p = _tuple(module.kernel_size, d), _tuple(stride, d), _tuple(module.padding, d)
            per_dim = [
                window_counts(x.shape[x.dim() - d + i], out.shape[out.dim() - d + i], k[i], s[i], p[i])
                for i in range(d)
            ]
        else:
            d = int(type(module).__name__[-2])
            per_dim = [
                adaptive_counts(x.shape[x.dim() - d + i], out.shape[out.dim() - d + i]) for i in range(d)
            ]
        fan = outer(per_dim, x)
        self.fanouts[key] = fan
        return fan
