"""forward(record=...): spikes against a hand-written loop, membranes against return_states."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from spikede import LIFNeuron, Recording, SNNWrapper


def mlp(seed: int = 0, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(6, 10), LIFNeuron(tau=2.0), nn.Linear(10, 5), LIFNeuron(tau=2.0), nn.Linear(5, 3)
    )
    with torch.no_grad():  # both layers fire on a good part of the steps, not on all
        model[0].weight.uniform_(-0.4, 0.8)
        model[0].bias.uniform_(-0.1, 0.3)
        model[2].weight.uniform_(-0.2, 1.0)
        model[2].bias.uniform_(-0.1, 0.3)
    return model.to(dtype)


def drive(T: int = 30, B: int = 3, dtype: torch.dtype = torch.float64, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 2.0 * torch.rand(T, B, 6, generator=g).to(dtype)


def lif_loop(model: nn.Sequential, x: torch.Tensor, tau: float = 2.0, theta: float = 1.0):
    """Discrete-time LIF (input with decay, soft reset), written out by hand."""
    v1 = x.new_zeros(x.shape[1], 10)
    v2 = x.new_zeros(x.shape[1], 5)
    s1s, s2s, v1s, v2s = [], [], [], []
    for t in range(x.shape[0]):
        v1s.append(v1)
        v2s.append(v2)
        u1 = v1 + (model[0](x[t]) - v1) / tau
        s1 = (u1 >= theta).to(x.dtype)
        v1 = u1 - theta * s1
        u2 = v2 + (model[2](s1) - v2) / tau
        s2 = (u2 >= theta).to(x.dtype)
        v2 = u2 - theta * s2
        s1s.append(s1)
        s2s.append(s2)
    return torch.stack(s1s), torch.stack(s2s), torch.stack(v1s), torch.stack(v2s)


def assert_fires_sometimes(rec: Recording) -> None:
    """Every layer fires on 5-95% of its neuron-steps (equality tests that can fail)."""
    for name, rate in rec.firing_rates().items():
        assert 0.05 <= rate <= 0.95, (name, rate)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    "integrator,method", [("odeint", "euler"), ("fdeint", "gl"), ("fdeint", "pred"), ("fdeint", "glmulti")]
)
def test_spikes_equal_a_hand_written_loop_at_alpha_one(integrator, method, dtype):
    model = mlp(dtype=dtype)
    x = drive(dtype=dtype)
    s1, s2, v1, v2 = lif_loop(model, x)
    kw = {} if integrator == "odeint" else {"alpha": 1.0}
    snn = SNNWrapper(copy.deepcopy(model), integrator=integrator, method=method, **kw)
    out, rec = snn(x, record=True)
    assert rec.names == ["1", "3"]
    assert_fires_sometimes(rec)
    assert torch.equal(rec.spikes["1"], s1)
    assert torch.equal(rec.spikes["3"], s2)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(rec.membrane["1"], v1, rtol=0, atol=tol)
    torch.testing.assert_close(rec.membrane["3"], v2, rtol=0, atol=tol)
    torch.testing.assert_close(out, model[4](s2), rtol=0, atol=tol)
    assert torch.equal(rec.time, torch.arange(30, dtype=dtype))


CASES = [
    ("odeint", "euler", None),
    ("odeint", "midpoint", None),
    ("odeint", "rk4", {"step_size": 0.5}),
    ("fdeint", "gl", None),
    ("fdeint", "gl", {"memory": 5}),
    ("fdeint", "gl", {"history": "soe"}),
    ("fdeint", "l1", None),
    ("fdeint", "l1", {"history": "soe", "checkpoint": True}),
    ("fdeint", "trap", {"memory": 4}),
    ("fdeint", "pred", {"step_size": 0.5}),
    ("fdeint", "pred", {"history": "soe"}),
    ("fdeint", "glmulti", {"checkpoint": True}),
]


@pytest.mark.parametrize("integrator,method,options", CASES)
@pytest.mark.parametrize("grad", [False, True])
def test_recorded_membranes_equal_return_states(integrator, method, options, grad):
    model = mlp()
    kw = {"alpha": [0.6, 0.9], "alpha_mode": "multiterm"} if method == "glmulti" else {"alpha": 0.7}
    if integrator == "odeint":
        kw = {}
    snn = SNNWrapper(model, integrator=integrator, method=method, options=options, **kw)
    # sub-stepping spreads the same charge over more steps: a stronger drive fires as often
    x = drive(T=40) * (2.0 if "step_size" in (options or {}) else 1.0)
    with torch.set_grad_enabled(grad):
        plain, states = snn(x, return_states=True)
        out, states2, rec = snn(x, return_states=True, record=True)
    assert_fires_sometimes(rec)
    assert torch.equal(out, plain)
    for i, name in enumerate(["1", "3"]):
        assert torch.equal(rec.membrane[name], states[i])
        assert torch.equal(states2[i], states[i])
    assert rec.time.shape[0] == out.shape[0] == states[0].shape[0]
    # the head reads the last layer's spikes: recorded spikes are the ones it saw
    torch.testing.assert_close(out, model[4](rec.spikes["3"]), rtol=0, atol=1e-12)


def test_only_the_asked_layers_are_kept():
    snn = SNNWrapper(mlp(), alpha=0.8)
    x = drive()
    _, states = snn(x, return_states=True)
    _, rec = snn(x, record=["3"])
    assert rec.names == ["3"] and list(rec.membrane) == ["3"]
    assert torch.equal(rec.membrane["3"], states[1])
    # the recording graph returns one spike and one membrane tensor beyond the boundaries
    graphs = snn.odefunc.network.recording((1,))
    n_out = len(next(n for n in graphs.ode.graph.nodes if n.op == "output").args[0])
    assert n_out == 2 + len(snn.odefunc.boundary_names) + 2


def test_no_recording_graph_is_built_without_record():
    # eval mode: the first training call looks for silent layers through a recording
    snn = SNNWrapper(mlp(), alpha=0.8).eval()
    snn(drive())
    assert snn.odefunc.network._recording == {}
    snn(drive(), record=True)
    assert list(snn.odefunc.network._recording) == [(0, 1)]
    snn(drive(), record=True)  # built once per set of layers
    assert len(snn.odefunc.network._recording) == 1


class Twice(nn.Module):
    """One neuron module called twice: two states."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 6)
        self.fc2 = nn.Linear(6, 6)
        self.lif = LIFNeuron(tau=2.0, threshold=0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif(self.fc2(self.lif(self.fc1(x))))


def test_a_module_called_twice_is_two_named_layers():
    torch.manual_seed(3)
    snn = SNNWrapper(Twice().double(), integrator="odeint")
    x = 2.0 * torch.rand(20, 2, 4, dtype=torch.float64)
    _, states, rec = snn(x, return_states=True, record=True)
    assert rec.names == ["lif@0", "lif@1"]
    assert torch.equal(rec.membrane["lif@1"], states[1])
    _, rec_all = snn(x, record=["lif"])
    assert rec_all.names == ["lif@0", "lif@1"]
    _, rec_one = snn(x, record=["lif@1"])
    assert rec_one.names == ["lif@1"]
    assert torch.equal(rec_one.spikes["lif@1"], rec.spikes["lif@1"])


def test_bad_record_is_refused_before_any_work():
    snn = SNNWrapper(mlp(), alpha=0.8)
    x = drive()
    before = snn.odefunc.nfe
    with pytest.raises(ValueError, match=r"'0' is not a neuron layer.*accepted: \['1', '3'\]"):
        snn(x, record=["0"])
    with pytest.raises(ValueError, match=r"'lif' is not a neuron layer"):
        snn(x, record=["1", "lif"])
    with pytest.raises(TypeError, match=r"a list: record=\['1'\]"):
        snn(x, record="1")
    with pytest.raises(TypeError, match="record must be None, True or a sequence"):
        snn(x, record=3)
    with pytest.raises(ValueError, match="at least one neuron layer"):
        snn(x, record=[])
    assert snn.odefunc.nfe == before
    assert snn(x, record=False).shape == (30, 3, 3)


def test_a_firing_rate_regulariser_trains():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(6, 12), LIFNeuron(tau=2.0, surrogate="sigmoid"), nn.Linear(12, 3), LIFNeuron(tau=2.0, surrogate="sigmoid")
    )
    with torch.no_grad():
        model[0].weight.uniform_(0.0, 0.8)
        model[0].bias.fill_(0.2)
    snn = SNNWrapper(model, alpha=0.7)
    x = drive(T=20, dtype=torch.float32)
    opt = torch.optim.SGD(snn.parameters(), lr=0.5)
    rates = []
    for _ in range(15):
        _, rec = snn(x, record=["1"])
        loss = rec.spikes["1"].mean()
        rates.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        assert model[0].weight.grad is not None and model[0].weight.grad.abs().sum() > 0
        opt.step()
    assert 0.05 < rates[0] < 0.95
    assert rates[-1] < 0.5 * rates[0], rates


def test_records_with_extra_inputs_and_a_deep_copy():
    class Masked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(6, 5)
            self.lif = LIFNeuron(tau=2.0, threshold=0.3)

        def forward(self, x, mask):
            return self.lif(self.fc(x) * mask)

    torch.manual_seed(0)
    snn = SNNWrapper(Masked().double(), alpha=0.6)
    mask = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    _, rec = snn(drive(), model_args=(mask,), record=True)
    assert torch.equal(rec.spikes["lif"][..., 1], torch.zeros(30, 3, dtype=torch.float64))
    twin = copy.deepcopy(snn)
    _, rec2 = twin(drive(), model_args=(mask,), record=True)
    assert torch.equal(rec2.spikes["lif"], rec.spikes["lif"])
    with torch.no_grad():
        twin.model.fc.weight.zero_()
    _, rec3 = snn(drive(), model_args=(mask,), record=True)  # the original is untouched
    assert torch.equal(rec3.spikes["lif"], rec.spikes["lif"])


@pytest.mark.slow
def test_compiled_field_records_the_same():
    model = mlp(dtype=torch.float32)
    x = drive(dtype=torch.float32)
    eager_out, eager = SNNWrapper(copy.deepcopy(model), alpha=0.6)(x, record=True)
    out, rec = SNNWrapper(copy.deepcopy(model), alpha=0.6, compile=True)(x, record=True)
    assert_fires_sometimes(rec)
    torch.testing.assert_close(out, eager_out)
    for name in rec.names:
        torch.testing.assert_close(rec.spikes[name], eager.spikes[name])
        torch.testing.assert_close(rec.membrane[name], eager.membrane[name])
