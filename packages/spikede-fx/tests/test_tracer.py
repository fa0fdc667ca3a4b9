"""SNNLeafTracer, symbolic_trace_leaf_neurons and remove_dead_code."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch
from torch import nn

from spikede_fx import (
    BaseNeuron,
    SNNLeafTracer,
    remove_dead_code,
    symbolic_trace_leaf_neurons,
)


class GatedNeuron(BaseNeuron):
    """A neuron with a submodule inside: the tracer must not inline it."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.gate = nn.Linear(width, width)

    def step(self, v, current, dt):
        spike = (v >= 0.5).to(current.dtype)
        return torch.sigmoid(self.gate(current)) - v, spike


def call_module_targets(gm):
    return [str(n.target) for n in gm.graph.nodes if n.op == "call_module"]


def test_neurons_are_leaves_and_trace_reproduces_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), GatedNeuron(4), nn.Linear(4, 2))
    gm = symbolic_trace_leaf_neurons(model)
    assert call_module_targets(gm) == ["0", "1", "2"]  # "1.gate" not inlined
    x = torch.randn(5, 3)
    ref = model(x)
    model[1].reset_state()
    torch.testing.assert_close(gm(x), ref)


class Pairwise(nn.Module):
    """Data-dependent Python control flow: untraceable unless kept whole."""

    def forward(self, x):
        return x * 2 if x.sum() > 0 else x


class WithPairwise(nn.Module):
    def __init__(self):
        super().__init__()
        self.pair = Pairwise()
        self.lif = GatedNeuron(3)

    def forward(self, x):
        return self.lif(self.pair(x))


def test_register_leaf_makes_untraceable_submodule_traceable():
    class LocalTracer(SNNLeafTracer):
        pass

    LocalTracer.register_leaf(Pairwise)
    assert Pairwise in LocalTracer.leaf_types
    assert Pairwise not in SNNLeafTracer.leaf_types  # the subclass has its own list
    graph = LocalTracer().trace(WithPairwise())
    assert [n.target for n in graph.nodes if n.op == "call_module"] == ["pair", "lif"]
    with pytest.raises(ValueError, match="control flow"):
        SNNLeafTracer().trace(WithPairwise())


def test_register_leaf_rejects_non_module_types():
    with pytest.raises(TypeError, match="module_type"):
        SNNLeafTracer.register_leaf(int)


def test_leaf_types_class_attribute_in_subclass():
    class ListedTracer(SNNLeafTracer):
        leaf_types: ClassVar[list[type[nn.Module]]] = [Pairwise]

    graph = ListedTracer().trace(WithPairwise())
    assert [n.target for n in graph.nodes if n.op == "call_module"] == ["pair", "lif"]


class DeadCode(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.lif = GatedNeuron(3)
        self.spare = GatedNeuron(3)

    def forward(self, x):
        unused = self.fc(x) * 3.0  # noqa: F841
        self.spare(x)
        y = x.clone()
        y.add_(1.0)
        return self.lif(y)


def test_remove_dead_code_keeps_neurons_and_in_place_ops():
    gm = remove_dead_code(symbolic_trace_leaf_neurons(DeadCode()))
    names = [n.name for n in gm.graph.nodes]
    assert "fc" not in names and "mul" not in names
    assert "spare" in names and "lif" in names and "add_" in names
    assert call_module_targets(gm) == ["spare", "lif"]


def test_remove_dead_code_rejects_plain_module():
    with pytest.raises(TypeError, match="gm must be a torch.fx.GraphModule"):
        remove_dead_code(nn.Linear(2, 2))


def test_symbolic_trace_rejects_non_module():
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        symbolic_trace_leaf_neurons(lambda x: x)
