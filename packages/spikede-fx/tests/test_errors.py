"""Clear errors at construction and on bad arguments."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.fx.proxy import TraceError

from spikede_fx import BaseNeuron, ODEFuncFromFX


class Lif(BaseNeuron):
    def step(self, v, current, dt):
        spike = (v >= 0.5).to(current.dtype)
        return current - v - spike, spike


class NoNeuron(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return torch.relu(self.fc(x))


def test_model_without_neuron():
    with pytest.raises(ValueError, match="calls no neuron") as info:
        ODEFuncFromFX(NoNeuron())
    assert "BaseNeuron" in str(info.value) and "'fc'" in str(info.value)


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.lif = nn.Linear(3, 3), Lif()

    def forward(self, x):
        h = self.fc(x)
        if h.sum() > 0:  # data-dependent branch
            h = -h
        return self.lif(h)


def test_untraceable_model_names_the_line_and_the_fixes():
    with pytest.raises(TraceError) as info:
        ODEFuncFromFX(DataDependent())
    message = str(info.value)
    assert __file__ in message
    assert "if h.sum() > 0:" in message
    assert "in forward" in message
    assert "register_leaf" in message and "torch.fx.wrap" in message
    assert isinstance(info.value, ValueError)


class KeywordCall(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.lif = nn.Linear(3, 3), Lif()

    def forward(self, x):
        return self.lif(current=self.fc(x))


class TwoArgCall(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.lif = nn.Linear(3, 3), Lif()

    def forward(self, x):
        return self.lif(torch.zeros_like(x), self.fc(x))[1]


@pytest.mark.parametrize("model_cls", [KeywordCall, TwoArgCall])
def test_neuron_with_unsupported_signature(model_cls):
    with pytest.raises(TypeError, match="exactly one positional argument") as info:
        ODEFuncFromFX(model_cls())
    assert "'lif'" in str(info.value)
    assert f'File "{__file__}"' in str(info.value) and "self.lif(" in str(info.value)


def test_constructor_arguments():
    with pytest.raises(TypeError, match="backbone must be a torch.nn.Module"):
        ODEFuncFromFX("not a model")
    with pytest.raises(ValueError, match="interpolation_method must be one of") as info:
        ODEFuncFromFX(
            nn.Sequential(nn.Linear(2, 2), Lif()), interpolation_method="spline"
        )
    assert "'spline'" in str(info.value)


class Masked(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.lif = nn.Linear(3, 3), Lif()

    def forward(self, x, mask, scale=None):
        return self.lif(self.fc(x) * mask)


def test_call_errors():
    func = ODEFuncFromFX(Masked())
    x = torch.randn(4, 2, 3)
    with pytest.raises(RuntimeError, match="set_inputs"):
        func(0.0, [torch.zeros(2, 3)])
    with pytest.raises(TypeError, match=r"missing extra input\(s\) \['mask'\]"):
        func.set_inputs(x, torch.arange(4.0))
    with pytest.raises(TypeError, match=r"unknown extra input\(s\) \['adj'\]"):
        func.set_inputs(x, torch.arange(4.0), torch.ones(2, 3), adj=1)
    with pytest.raises(TypeError, match="3 extra positional"):
        func.set_inputs(x, torch.arange(4.0), 1, 2, 3)
    func.set_inputs(x, torch.arange(4.0), torch.ones(2, 3))
    with pytest.raises(ValueError, match="v_mems must hold 1 membrane"):
        func(0.0, [])
    with pytest.raises(ValueError, match="boundaries must hold 1"):
        func.post([torch.zeros(4, 2, 3), torch.zeros(4, 2, 3)])
    func_two = ODEFuncFromFX(TwoBoundaries())
    assert func_two.boundary_names == ["x", "lif"]
    with pytest.raises(ValueError, match="share their time length"):
        func_two.post([torch.zeros(4, 2, 3), torch.zeros(5, 2, 3)])
    with pytest.raises(TypeError, match="x_example must be a tensor"):
        func.infer_state_shapes([1.0, 2.0])
    with pytest.raises(ValueError, match="h must be positive"):
        func.set_step_size(0.0)
    with pytest.raises(TypeError, match="h must be a positive real number"):
        func.set_step_size("0.1")


class TwoBoundaries(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.lif = nn.Linear(3, 3), Lif()

    def forward(self, x):
        return self.lif(self.fc(x)) + x


def test_bad_inputs_are_reported_by_the_interpolator():
    func = ODEFuncFromFX(nn.Sequential(nn.Linear(3, 3), Lif()))
    with pytest.raises(ValueError, match="x_time"):
        func.set_inputs(torch.randn(4, 2, 3), torch.tensor([0.0, 2.0, 1.0, 3.0]))


class TupleBoundary(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.lif, self.head = nn.Linear(3, 4), Lif(), nn.Linear(4, 2)

    def forward(self, x):
        parts = self.fc(x).chunk(2, -1)
        s = self.lif(parts[0])
        return self.head(torch.cat(parts, -1)) + s.sum(-1, keepdim=True)


def test_non_tensor_boundary_is_reported_by_infer_state_shapes():
    func = ODEFuncFromFX(TupleBoundary())
    assert func.boundary_names == ["chunk", "lif"]
    with pytest.raises(TypeError, match="'chunk'.*is a tuple, not a tensor"):
        func.infer_state_shapes(torch.randn(2, 3))


class ConvThenLinear(nn.Module):
    def __init__(self, in_features: int = 16):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
        self.lif = Lif()
        self.fc = nn.Linear(in_features, 2)

    def forward(self, x):
        return self.fc(self.lif(self.block(x)))


def test_shape_error_names_the_layer_the_shapes_and_the_flatten():
    func = ODEFuncFromFX(ConvThenLinear())
    with pytest.raises(ValueError) as info:
        func.infer_state_shapes(torch.randn(2, 1, 6, 6))
    text = str(info.value)
    assert "layer 'fc' (Linear(in_features=16, out_features=2, bias=True))" in text
    assert "received an input of shape (2, 4, 4, 4) (batch first)" in text
    assert "expects [..., 16] (last dimension in_features=16)" in text
    assert "add nn.Flatten()" in text and "one sample has 64 features, so set in_features=64" in text
    assert isinstance(info.value.__cause__, RuntimeError)  # PyTorch's error, chained


@pytest.mark.parametrize(
    ("x", "fragment"),
    [
        (torch.randn(2, 3, 6, 6), "layer 'block.0' (Conv2d(1, 4"),  # 3 channels for in_channels 1
        (torch.randn(2, 1, 1, 6, 6), "expects [B, C, H, W] with C = in_channels = 1"),  # 5-d
    ],
)
def test_shape_error_of_a_nested_convolution(x, fragment):
    with pytest.raises(ValueError) as info:
        ODEFuncFromFX(ConvThenLinear()).infer_state_shapes(x)
    assert fragment in str(info.value)


def test_shape_error_of_a_batch_norm():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(5), Lif())
    with pytest.raises(ValueError, match=r"layer '1' \(BatchNorm1d\(5.*dimension 1 = num_features = 5"):
        ODEFuncFromFX(model).infer_state_shapes(torch.randn(2, 3))
