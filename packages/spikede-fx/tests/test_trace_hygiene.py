"""Tracing never changes the user's model, rejects state written in forward and foreign neurons."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from torch import fx, nn
from torch.fx.proxy import TraceError

from spikede_fx import BaseNeuron, ODEFuncFromFX, SNNLeafTracer, symbolic_trace_leaf_neurons

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "tutorials" / "neurons.md"


class Lif(BaseNeuron):
    def step(self, v, current):
        spike = (v >= 0.5).to(current.dtype)
        return current - v - spike, spike


def state_of(model: nn.Module):
    """Everything tracing could change: attributes (by identity), tensor values, flags."""
    attributes = {name: dict(vars(m)) for name, m in model.named_modules()}
    contents = {
        (name, key): list(value.items()) if isinstance(value, dict) else list(value)
        for name, m in model.named_modules()
        for key, value in vars(m).items()
        if isinstance(value, (dict, list, set))
    }
    tensors = {k: (v.dtype, v.clone()) for k, v in model.state_dict(keep_vars=True).items()}
    flags = {name: m.training for name, m in model.named_modules()}
    return attributes, contents, tensors, flags


def assert_unchanged(model: nn.Module, before) -> None:
    attributes, contents, tensors, flags = state_of(model)
    old_attributes, old_contents, old_tensors, old_flags = before
    assert attributes.keys() == old_attributes.keys()
    for name, old in old_attributes.items():
        assert attributes[name].keys() == old.keys(), name
        for key, value in old.items():
            assert attributes[name][key] is value, (name, key)
    assert contents.keys() == old_contents.keys()
    for key, old in old_contents.items():
        assert len(contents[key]) == len(old) and all(
            a is b or a == b for a, b in zip(contents[key], old)
        ), key
    assert tensors.keys() == old_tensors.keys()
    for key, (dtype, value) in old_tensors.items():
        assert tensors[key][0] == dtype and torch.equal(tensors[key][1], value), key
    assert flags == old_flags


def refused_trace(model: nn.Module, error: type[Exception], match: str | None = None):
    """Trace ``model``: it must raise ``error`` (matching ``match``) and leave ``model`` as it was.

    Returns the exception raised.
    """
    before = state_of(model)
    with pytest.raises(error, match=match) as info:
        symbolic_trace_leaf_neurons(model)
    assert_unchanged(model, before)
    return info.value


# ---------------------------------------------------------------- feedback stored on a module


class Recurrent(nn.Module):
    """Feeds its spikes back at the next call through ``self.prev``."""

    def __init__(self, as_buffer: bool) -> None:
        super().__init__()
        self.fc, self.lif = nn.Linear(3, 4), Lif()
        if as_buffer:
            self.register_buffer("prev", torch.zeros(2, 4))
        else:
            self.prev = torch.zeros(2, 4)

    def forward(self, x):
        spikes = self.lif(self.fc(x) + self.prev)
        self.prev = spikes
        return spikes


class Outer(nn.Module):
    """The recurrent block sits two levels down: the message must give its path."""

    def __init__(self, as_buffer: bool) -> None:
        super().__init__()
        self.stage = nn.Sequential(nn.Identity(), nn.ModuleDict({"rec": Recurrent(as_buffer)}))

    def forward(self, x):
        return self.stage[1]["rec"](self.stage[0](x))


@pytest.mark.parametrize("as_buffer", [False, True], ids=["attribute", "buffer"])
def test_feedback_through_an_attribute_is_rejected_and_the_model_restored(as_buffer):
    torch.manual_seed(0)
    model = Outer(as_buffer)
    reference = copy.deepcopy(model)
    error = refused_trace(model, ValueError, match="writes state on the model")
    message = str(error)
    store = "buffer" if as_buffer else "attribute"
    assert f"{store} 'prev' of submodule 'stage.1.rec' ({__name__}.Recurrent)" in message
    assert "neuron's state" in message and "BaseNeuron" in message
    assert "docs/tutorials/neurons.md" in message and "Writing your own neuron" in message
    assert not isinstance(error, TraceError)
    assert isinstance(model.stage[1]["rec"].prev, torch.Tensor)
    # The model still runs on its own, exactly like an untouched copy (fires on some steps).
    x = torch.rand(6, 2, 3) * 2.0
    outs = [model(x[t]) for t in range(6)]
    refs = [reference(x[t]) for t in range(6)]
    for out, ref in zip(outs, refs):
        torch.testing.assert_close(out, ref, rtol=0, atol=0)
    rate = torch.stack(outs).mean().item()
    assert 0.05 < rate < 0.95
    if as_buffer:
        assert set(model.state_dict()) == set(reference.state_dict())


def test_everything_built_on_the_tracer_rejects_feedback():
    model = Recurrent(as_buffer=True)
    before = state_of(model)
    with pytest.raises(ValueError, match="buffer 'prev' of the model itself"):
        ODEFuncFromFX(model)
    assert_unchanged(model, before)
    with pytest.raises(ValueError, match="buffer 'prev' of the model itself"):
        SNNLeafTracer().trace(model)
    assert_unchanged(model, before)


class Writer(nn.Module):
    """One way of writing module state per ``mode``."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.fc, self.lif = nn.Linear(3, 3), Lif()
        self.register_buffer("buf", torch.zeros(2, 3))
        self.plain = torch.ones(3)
        self.history: list[torch.Tensor] = []
        self.calls = 0
        self.inner = nn.Module()
        self.inner.note = "ready"

    def forward(self, x):
        s = self.lif(self.fc(x))
        mode = self.mode
        if mode == "copy_":
            self.buf.copy_(s)
        elif mode == "setitem":
            self.buf[0] = s[0]
        elif mode == "view in place":
            self.buf[1].mul_(s[1])
        elif mode == "out=":
            torch.add(s, 1.0, out=self.buf)
        elif mode == "+=":
            self.buf += s
        elif mode == "real in place":
            self.plain.add_(1.0)  # no symbolic value involved: really runs while tracing
        elif mode == "parameter in place":
            self.fc.weight.data.mul_(0.5)
        elif mode == "append":
            self.history.append(s)
        elif mode == "counter":
            self.calls += 1
        elif mode == "new buffer":
            self.register_buffer("extra", torch.zeros(1))
        elif mode == "delete":
            del self.plain
        elif mode == "nested":
            self.inner.note = "seen"
        elif mode == "fresh constant":
            torch.zeros(3).add_(s[0])
        return s


WRITES = {
    "copy_": "buffer 'buf' of the model itself",
    "setitem": "buffer 'buf' of the model itself",
    "view in place": "a view of buffer 'buf'",
    "out=": "buffer 'buf' of the model itself",
    "+=": "buffer 'buf' of the model itself",
    "real in place": "attribute 'plain' of the model itself",
    "parameter in place": "parameter 'weight' of submodule 'fc'",
    "append": "attribute 'history' of the model itself",
    "counter": "attribute 'calls' of the model itself",
    "new buffer": "buffer 'extra' of the model itself",
    "delete": "attribute 'plain' of the model itself",
    "nested": "attribute 'note' of submodule 'inner'",
    "fresh constant": "a tensor created in forward without depending on its inputs",
}


@pytest.mark.parametrize("mode", list(WRITES))
def test_every_kind_of_state_write_is_named_and_undone(mode):
    error = refused_trace(Writer(mode), ValueError, match="writes state on the model")
    assert WRITES[mode] in str(error)


@pytest.mark.parametrize("mode", ["copy_", "setitem", "out="])
def test_in_place_writes_name_the_line(mode):
    with pytest.raises(ValueError) as info:
        symbolic_trace_leaf_neurons(Writer(mode))
    assert f'File "{__file__}"' in str(info.value)


class WritesThenFails(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.lif = nn.Linear(3, 3), Lif()
        self.register_buffer("prev", torch.zeros(3))

    def forward(self, x):
        h = self.fc(x)
        self.prev = h
        if h.sum() > 0:  # data-dependent: tracing fails here, after the write
            h = -h
        return self.lif(h)


def test_model_is_restored_when_the_trace_fails_midway():
    model = WritesThenFails()
    message = str(refused_trace(model, TraceError))
    assert "if h.sum() > 0:" in message
    assert "buffer 'prev' of the model itself" in message
    model(torch.rand(2, 3))  # still runs


# ---------------------------------------------------------------- ordinary models are untouched


class Cnn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.lif, self.fc = Lif(), nn.Linear(4 * 4 * 4, 2)
        self.register_buffer("offset", torch.full((1, 4, 1, 1), 0.1))
        self.scale = torch.tensor(2.0)  # plain tensor attribute

    def forward(self, x):
        h = self.bn(self.conv(x)) * self.scale + self.offset
        h = h + torch.arange(4.0).view(1, 4, 1, 1)  # a constant torch.fx stores
        return self.fc(torch.flatten(self.lif(h), 1))


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(4, 4), Lif()
        self.fc2, self.lif2 = nn.Linear(4, 4), Lif()

    def forward(self, x):
        h = self.lif1(self.fc1(x))
        return self.lif2(self.fc2(h) + x)


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 8), Lif(), nn.Dropout(0.1), nn.Linear(8, 2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(
    "build, shape", [(mlp, (2, 3)), (Cnn, (2, 1, 4, 4)), (Residual, (2, 4))],
    ids=["mlp", "cnn-batchnorm", "residual"],
)
def test_successful_trace_leaves_the_model_bit_identical(build, shape, train, dtype):
    torch.manual_seed(0)
    model = build().to(dtype).train(train)
    model(torch.rand(shape, dtype=dtype))  # neurons hold a discrete state, BN has statistics
    before = state_of(model)
    gm = symbolic_trace_leaf_neurons(model)
    assert_unchanged(model, before)
    assert not [k for k in vars(model) if k.startswith("_tensor_constant")]
    # The traced module still works, with its constants.
    model.eval()
    gm.eval()
    for m in model.modules():
        if isinstance(m, BaseNeuron):
            m.reset_state()
    x = torch.rand(shape, dtype=dtype)
    ref = model(x)
    for m in model.modules():
        if isinstance(m, BaseNeuron):
            m.reset_state()
    torch.testing.assert_close(gm(x), ref)


def test_tracer_root_holds_the_constants_the_model_does_not():
    model = Cnn()
    tracer = SNNLeafTracer()
    graph = tracer.trace(model)
    assert not [k for k in vars(model) if k.startswith("_tensor_constant")]
    assert tracer.root is not model and tracer.root.conv is model.conv
    gm = fx.GraphModule(tracer.root, graph)
    assert gm.conv is model.conv and gm.bn is model.bn
    model.eval()
    gm.eval()
    x = torch.rand(2, 1, 4, 4)
    out = gm(x)
    model.lif.reset_state()  # the neuron is shared: start the model from the same state
    torch.testing.assert_close(out, model(x))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.lif = nn.Linear(3, 3), Lif()

    def forward(self, x):
        return self.lif(self.fc(x))


class Resetting(Net):
    def forward(self, x):
        self.lif.reset_state()  # discrete-time bookkeeping: not part of the traced graph
        return self.lif(self.fc(x))


@pytest.mark.parametrize("model_class", [Net, Resetting], ids=["plain", "resetting_in_forward"])
def test_neuron_discrete_state_is_not_traced_inside_and_left_as_it_was(model_class):
    model = model_class()
    model(torch.rand(2, 3))
    held = model.lif._discrete_state
    assert isinstance(held, torch.Tensor)
    before = state_of(model)
    gm = symbolic_trace_leaf_neurons(model)
    assert model.lif._discrete_state is held
    assert_unchanged(model, before)
    assert [n.target for n in gm.graph.nodes if n.op == "call_module"] == ["fc", "lif"]


class Counting(nn.Module):
    """Writes state and branches on data: fine only because it is kept whole."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x if x.sum() > 0 else -x


class WithCounting(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.count, self.lif = Counting(), Lif()

    def forward(self, x):
        return self.lif(self.count(x))


def test_registered_leaves_are_not_traced_inside():
    class LocalTracer(SNNLeafTracer):
        leaf_types: ClassVar[list[type[nn.Module]]] = [Counting]

    model = WithCounting()
    before = state_of(model)
    graph = LocalTracer().trace(model)
    assert [n.target for n in graph.nodes if n.op == "call_module"] == ["count", "lif"]
    assert model.count.calls == 0
    assert_unchanged(model, before)
    with pytest.raises(TraceError, match="submodule 'count'"):
        SNNLeafTracer().trace(model)
    assert_unchanged(model, before)


# ---------------------------------------------------------------- neurons of other libraries


class _Membrane(nn.Module):
    """Mimics a neuron of another library: membrane on the module, data-dependent branch."""

    def __init__(self) -> None:
        super().__init__()
        self.mem = None

    def forward(self, x):
        if self.mem is None or self.mem.shape != x.shape:
            self.mem = torch.zeros_like(x)
        self.mem = 0.9 * self.mem + x
        spike = (self.mem > 1.0).to(x.dtype)
        if spike.any():
            self.mem = self.mem - spike
        return spike


class _PassThrough(nn.Module):
    def forward(self, x):
        return x


def _library_class(module: str, name: str, base: type[nn.Module]) -> type[nn.Module]:
    """A subclass of ``base`` named ``name`` that claims to be defined in ``module``."""
    return type(name, (base,), {"__module__": module, "__qualname__": name})


Leaky = _library_class("snntorch._neurons.leaky", "Leaky", _Membrane)
LIFNode = _library_class("spikingjelly.activation_based.neuron", "LIFNode", _Membrane)
# Norse and sinabs: the class's own module is not one of the neuron modules, its base's is.
SNNCell = _library_class("norse.torch.module.snn", "SNNCell", _PassThrough)
LIFCell = _library_class("norse.torch.module.lif", "LIFCell", SNNCell)
StatefulLayer = _library_class("sinabs.layers.stateful_layer", "StatefulLayer", _PassThrough)
IAF = _library_class("sinabs.layers.iaf", "IAF", StatefulLayer)


class Host(nn.Module):
    def __init__(self, neuron: nn.Module) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.blocks = nn.Sequential(nn.Identity(), neuron)
        self.lif = Lif()

    def forward(self, x):
        return self.lif(self.blocks(self.fc(x)))


@pytest.mark.parametrize(
    "neuron, library",
    [(Leaky, "snntorch"), (LIFNode, "spikingjelly"), (LIFCell, "norse"), (IAF, "sinabs")],
)
def test_neurons_of_other_libraries_are_named_before_tracing(neuron, library):
    message = str(refused_trace(Host(neuron()), TypeError))
    origin = f"{neuron.__module__}.{neuron.__qualname__}"
    assert f"submodule 'blocks.1' ({origin}) is a spiking neuron from {library}" in message
    assert "not a spikeDE neuron (spikede_fx.BaseNeuron)" in message
    assert "docs/tutorials/neurons.md" in message and "step(v, current)" in message


def test_foreign_neuron_registered_as_leaf_is_still_rejected():
    class LocalTracer(SNNLeafTracer):
        leaf_types: ClassVar[list[type[nn.Module]]] = [Leaky]

    with pytest.raises(TypeError, match="not a spikeDE neuron"):
        LocalTracer().trace(Host(Leaky()))


def test_neuron_guide_exists_where_the_messages_point():
    text = GUIDE.read_text(encoding="utf-8")
    assert "## Writing your own neuron" in text and "BaseNeuron" in text


def test_unknown_stateful_module_failure_names_the_innermost_user_module():
    class Wrapper(nn.Module):  # a user module around the stateful one
        def __init__(self) -> None:
            super().__init__()
            self.cell = _Membrane()

        def forward(self, x):
            return self.cell(x)

    message = str(refused_trace(Host(Wrapper()), TraceError))
    assert f"while tracing submodule 'blocks.1.cell' ({__name__}._Membrane)" in message
    assert "not a spikeDE neuron (spikede_fx.BaseNeuron)" in message
    assert "docs/tutorials/neurons.md" in message
    assert "if spike.any():" in message
    assert "attribute 'mem' of submodule 'blocks.1.cell'" in message


def test_failure_inside_another_library_names_its_module():
    class Helper(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    class Container(nn.Module):  # a non-neuron class of that library, holding the helper
        __module__ = "snntorch.utils"

        def __init__(self) -> None:
            super().__init__()
            self.helper = Helper()

        def forward(self, x):
            return self.helper(x)

    with pytest.raises(TraceError) as info:
        symbolic_trace_leaf_neurons(Host(Container()))
    assert "submodule 'blocks.1' (snntorch.utils." in str(info.value)
    assert "from snntorch" in str(info.value)


def test_traceable_module_of_another_library_is_accepted():
    class Scale(nn.Module):
        __module__ = "spikingjelly.activation_based.layer"

        def forward(self, x):
            return 2.0 * x

    gm = symbolic_trace_leaf_neurons(Host(Scale()))
    assert "mul" in gm.code


def test_real_snntorch_leaky_is_rejected():
    snn = pytest.importorskip("snntorch")
    message = str(refused_trace(Host(snn.Leaky(beta=0.9)), TypeError))
    assert "submodule 'blocks.1' (snntorch._neurons.leaky.Leaky)" in message
    assert "not a spikeDE neuron" in message
