"""ODEFuncFromFX bookkeeping: nfe, step size, state, parameters, devices, gradients."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

from spikede_fx import BaseNeuron, ODEFuncFromFX, SNNLeafTracer

DT = torch.float64


class Lif(BaseNeuron):
    def __init__(self, tau: float = 2.0) -> None:
        super().__init__()
        self.tau = tau

    def step(self, v, current, dt):
        spike = (v + dt * (current - v) / self.tau >= 0.5).to(current.dtype)
        return (current - v) / self.tau - 0.5 * spike / dt, spike


class Scaled(nn.Module):
    """Uses a buffer of the root module in both parts (get_attr nodes)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.tensor([1.0, 2.0, 3.0]))
        self.fc, self.bn, self.lif = nn.Linear(3, 3), nn.BatchNorm1d(3), Lif()

    def forward(self, x):
        return self.lif(self.bn(self.fc(x * self.scale))) * self.scale


def test_nfe_counts_evaluations_cumulatively_until_reset():
    func = ODEFuncFromFX(Scaled())
    func.set_inputs(torch.randn(3, 2, 3), torch.arange(3.0))
    for i in range(5):
        func(float(i) / 2, [torch.zeros(2, 3)])
    assert func.nfe == 5
    func.set_inputs(torch.randn(3, 2, 3), torch.arange(3.0))
    assert func.nfe == 5
    func.reset_nfe()
    assert func.nfe == 0


def test_set_step_size_changes_the_field_but_not_the_neurons():
    model = nn.Sequential(nn.Linear(2, 2), Lif(), nn.Sequential(nn.Linear(2, 2), Lif()))
    func = ODEFuncFromFX(model)
    func.set_step_size(0.25)
    func.set_step_size(torch.tensor(0.5))
    assert model[1].dt == 1.0 and model[2][1].dt == 1.0  # the model is never written
    func.set_inputs(torch.ones(2, 1, 2), torch.arange(2.0))
    vs = [torch.full((1, 2), 0.45), torch.full((1, 2), 0.45)]
    dv_half = func(0.0, vs)[0]
    func.set_step_size(1.0)
    dv_one = func(0.0, vs)[0]
    cur = model[0](torch.ones(1, 2))
    expected = [
        (cur - vs[0]) / 2.0
        - 0.5 * ((vs[0] + h * (cur - vs[0]) / 2.0) >= 0.5).float() / h
        for h in (0.5, 1.0)
    ]
    torch.testing.assert_close(dv_half, expected[0])
    torch.testing.assert_close(dv_one, expected[1])


def test_state_dict_has_one_path_per_parameter_and_loads_into_fresh_instance():
    torch.manual_seed(0)
    func = ODEFuncFromFX(Scaled())
    keys = list(func.state_dict())
    assert keys == ["backbone." + k for k in func.backbone.state_dict()]
    other = ODEFuncFromFX(Scaled())
    other.load_state_dict(func.state_dict())
    for a, b in zip(func.parameters(), other.parameters(), strict=True):
        assert torch.equal(a, b)
    # The graph modules share the backbone's parameters, also in a deep copy.
    assert other.ode_gm.model.fc.weight is other.backbone.fc.weight
    twin = copy.deepcopy(other)
    assert twin.ode_gm.model.fc.weight is twin.backbone.fc.weight
    assert twin.backbone.fc.weight is not other.backbone.fc.weight
    assert twin.neurons[0] is twin.backbone.lif


def test_dtype_conversion_keeps_graph_modules_in_sync():
    func = ODEFuncFromFX(Scaled()).double()
    assert func.backbone.scale.dtype == DT
    assert func.ode_gm.model.scale is func.backbone.scale
    assert func.post_neuron_module.model.scale is func.backbone.scale
    func.eval()
    x = torch.randn(3, 4, 3, dtype=DT)
    func.set_inputs(x, torch.arange(3, dtype=DT))
    out = func(1.0, [torch.zeros(4, 3, dtype=DT)])
    assert all(o.dtype == DT for o in out)
    assert func.post([torch.stack([out[1]] * 3)]).dtype == DT


def test_infer_state_shapes_has_no_side_effects():
    torch.manual_seed(0)
    model = Scaled()
    model.train()
    func = ODEFuncFromFX(model)
    before = copy.deepcopy(model.bn.state_dict())
    shapes = func.infer_state_shapes(torch.randn(7, 3))
    assert shapes == [torch.Size([7, 3])]
    for key, value in model.bn.state_dict().items():
        assert torch.equal(value, before[key])
    assert model.training and model.bn.training
    assert model.lif._discrete_state is None


def test_per_sample_times_and_query():
    model = nn.Sequential(nn.Linear(2, 3), Lif())
    func = ODEFuncFromFX(model)
    x = torch.randn(3, 2, 2, dtype=DT)
    x_time = torch.tensor([[0.0, 1.0, 2.0], [0.0, 2.0, 4.0]], dtype=DT)  # [B, T]
    model.double()
    func.set_inputs(x, x_time)
    v = torch.zeros(2, 3, dtype=DT)
    dv = func(torch.tensor([1.0, 1.0], dtype=DT), [v])[0]
    x_t = torch.stack([x[1, 0], 0.5 * (x[0, 1] + x[1, 1])])
    torch.testing.assert_close(dv, model[1](v, model[0](x_t))[0])


def test_gradients_flow_through_field_and_post():
    torch.manual_seed(0)

    class Smooth(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.lif, self.head = nn.Linear(3, 4), Lif(), nn.Linear(4, 2)

        def forward(self, x):
            return self.head(torch.tanh(self.lif(self.fc(x)) + self.fc(x))).mean(1)

    model = Smooth().double()
    func = ODEFuncFromFX(model)
    x = torch.randn(3, 2, 3, dtype=DT)
    func.set_inputs(x, torch.arange(3, dtype=DT))
    v = torch.randn(2, 4, dtype=DT, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: func(0.5, [v])[0], (v,))
    # The second self.fc(x) runs after the last neuron: recomputed from the raw input.
    assert func.boundary_names == ["x", "lif"]
    stacked = [
        torch.randn(3, 2, 3, dtype=DT, requires_grad=True),
        torch.randn(3, 2, 4, dtype=DT, requires_grad=True),
    ]
    assert torch.autograd.gradcheck(lambda *b: func.post(list(b)), tuple(stacked))
    func.post(stacked).sum().backward()
    assert model.head.weight.grad is not None and model.head.weight.grad.abs().sum() > 0


class PerStepMax(nn.Module):
    """Normalises by a Python float: vmap cannot run ``.item()``."""

    def forward(self, x):
        return x / (1.0 + x.abs().max().item())


def test_post_falls_back_to_a_loop_with_a_warning_when_vmap_fails():
    SNNLeafTracer.register_leaf(PerStepMax)
    try:
        model = nn.Sequential(
            nn.Linear(3, 4), Lif(), nn.Linear(4, 4), PerStepMax()
        ).double()
        func = ODEFuncFromFX(model)
    finally:
        SNNLeafTracer.leaf_types.remove(PerStepMax)
    spikes = (torch.rand(5, 2, 4, dtype=DT) > 0.5).to(DT)
    with pytest.warns(RuntimeWarning, match="loop over time steps"):
        got = func.post([spikes])
    expected = torch.stack([model[3](model[2](s)) for s in spikes])
    torch.testing.assert_close(got, expected)
    # A per-step max differs from the max over all steps in at least one step.
    whole = model[3](model[2](spikes))
    assert not torch.allclose(got, whole)
    # The decision is remembered: no second warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        func.post([spikes])


@pytest.mark.parametrize("hoist", [True, False])
def test_recording_graphs_return_spikes_and_membranes_after_the_boundaries(hoist):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), Lif(), nn.Linear(4, 2), Lif()).to(DT)
    func = ODEFuncFromFX(model)
    x, grid = torch.randn(5, 2, 3, dtype=DT), torch.arange(5, dtype=DT)
    plain = func.field_args(x, grid, grid=grid, hoist=hoist)
    rec = func.field_args(x, grid, grid=grid, hoist=hoist, record=[1])
    assert plain.record is None and rec.record is not None and rec.table.split == hoist
    v = (torch.rand(2, 4, dtype=DT), torch.rand(2, 2, dtype=DT))
    step = type("Step", (), {"h": 1.0, "index": 2})()
    dv, aux = ODEFuncFromFX.solver_field(grid[2], v, plain, step)
    dv_r, aux_r = ODEFuncFromFX.solver_field(grid[2], v, rec, step)
    assert all(torch.equal(a, b) for a, b in zip(dv, dv_r))
    assert len(aux_r) == len(aux) + 2 and all(torch.equal(a, b) for a, b in zip(aux, aux_r))
    # the last neuron's spikes are the boundary the head reads; its membrane is v[1]
    assert torch.equal(aux_r[-2], aux[0]) and aux_r[-1] is v[1]
    assert func.network.recording((1,)) is rec.record  # built once per set of calls
    with pytest.raises(ValueError, match=r"record must hold indices of neuron calls in \[0, 2\)"):
        func.field_args(x, grid, record=[2])
