"""``ODEFuncFromFX.precompute`` (spikede-fx) under the solvers and the wrapper: the
input-driven part computed for a whole grid at once.

Oracle: the same field evaluated without precompute (interpolation and every layer at each
evaluation); values and gradients must agree, on and off the grid, across blocks.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from spikede_fx import BaseNeuron, ODEFuncFromFX, SNNLeafTracer
from spikede_fx._hoist import split_input_part
from spikede_solvers import snn_solve

DT = torch.float64


class Lif(BaseNeuron):
    """Smooth spikes, so that every layer gets a gradient."""

    def step(self, v, current, dt):
        spike = torch.sigmoid(8.0 * (v + dt * (current - v) / 2.0 - 0.5))
        return (current - v) / 2.0 - 0.5 * spike / dt, spike


class Mixed(nn.Module):
    """Input-only layers, shape arithmetic on x, a skip of x across a neuron, a mask."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.skip = nn.Linear(3, 6), nn.Linear(6, 6), nn.Linear(3, 6)
        self.lif1, self.lif2 = Lif(), Lif()
        self.head = nn.Linear(6, 2)

    def forward(self, x, mask):
        h = torch.tanh(self.fc1(x * mask))  # input-driven (hoisted)
        s = self.lif1(h)
        s = self.fc2(s).view(x.size(0), -1) + self.skip(x)  # x.size(0): recomputed per step
        return self.head(self.lif2(s) + x.sum(-1, keepdim=True))  # x is a boundary too


def _solve(func: ODEFuncFromFX, x, x_time, grid, mask, precompute: bool, method: str):
    func.set_inputs(x, x_time, mask)
    func.set_step_size(float(grid[1] - grid[0]))
    if precompute:
        assert func.precompute(grid) is True
    v0 = [torch.zeros(x.shape[1], *s[1:], dtype=DT) for s in func.infer_state_shapes(x[0], mask)]
    sol = snn_solve(func, v0, grid, alpha=0.7, method=method)
    out = func.post(sol.boundaries)
    func.clear_inputs()
    return out, sol.states


@pytest.mark.parametrize("method", ["gl", "trap", "pred"])
@pytest.mark.parametrize("substeps", [1, 2], ids=["grid=x_time", "grid=2x"])
def test_precomputed_solve_equals_per_evaluation_solve(method: str, substeps: int) -> None:
    torch.manual_seed(0)
    model = Mixed().double()
    func = ODEFuncFromFX(model)
    part = split_input_part(func.ode_gm, func.neuron_count)
    assert part is not None and len(part.frontier_names) == 2  # tanh(fc1(.)), skip(x)
    x = 2.0 * torch.rand(300 // substeps, 4, 3, dtype=DT)
    x_time = torch.linspace(0.0, 2.0, 300 // substeps, dtype=DT)
    grid = torch.linspace(0.0, 2.0, 300, dtype=DT)  # 300 > two blocks of 128
    mask = torch.tensor([1.0, 0.0, 1.0], dtype=DT)
    results = []
    for pre in (False, True):
        model.zero_grad()
        out, states = _solve(func, x, x_time, grid, mask, pre, method)
        (out.pow(2).sum() + sum(s.sum() for s in states)).backward()
        results.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    (a, ga), (b, gb) = results
    assert a.abs().sum() > 0
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    for p, q in zip(ga, gb):
        assert p.abs().sum() > 0
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12)


def test_off_grid_times_use_the_per_evaluation_path() -> None:
    torch.manual_seed(1)
    func = ODEFuncFromFX(Mixed().double())
    x, grid = torch.rand(6, 2, 3, dtype=DT), torch.arange(6.0, dtype=DT)
    mask = torch.ones(3, dtype=DT)
    func.set_inputs(x, grid, mask)
    v = [torch.rand(2, 6, dtype=DT), torch.rand(2, 6, dtype=DT)]
    before = [func(t, v) for t in (torch.tensor(2.0, dtype=DT), 2.5, torch.full((2,), 3.0, dtype=DT))]
    func.precompute(grid)
    after = [func(t, v) for t in (torch.tensor(2.0, dtype=DT), 2.5, torch.full((2,), 3.0, dtype=DT))]
    for u, w in zip(before, after):
        for p, q in zip(u, w):
            torch.testing.assert_close(p, q, rtol=0, atol=1e-15)


def test_training_batchnorm_in_the_input_part_is_not_hoisted() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), Lif()).double()
    func = ODEFuncFromFX(model)
    x, grid = torch.rand(5, 8, 3, dtype=DT), torch.arange(5.0, dtype=DT)
    func.set_inputs(x, grid)
    assert func.precompute(grid) is False  # running statistics: per evaluation
    batches = model[1].num_batches_tracked.item()
    func(grid[1], [torch.zeros(8, 4, dtype=DT)])
    assert model[1].num_batches_tracked.item() == batches + 1
    model.eval()
    assert func.precompute(grid) is True


class ItemScale(nn.Module):
    """vmap cannot run ``.item()``."""

    def forward(self, x):
        return x / (1.0 + x.abs().max().item())


def test_vmap_failure_warns_once_and_falls_back() -> None:
    SNNLeafTracer.register_leaf(ItemScale)
    try:
        func = ODEFuncFromFX(nn.Sequential(ItemScale(), nn.Linear(3, 4), Lif()).double())
    finally:
        SNNLeafTracer.leaf_types.remove(ItemScale)
    x, grid = torch.rand(5, 2, 3, dtype=DT), torch.arange(5.0, dtype=DT)
    func.set_inputs(x, grid)
    v = [torch.rand(2, 4, dtype=DT)]
    expected = func(grid[3], v)
    with pytest.warns(RuntimeWarning, match="run at every evaluation"):
        assert func.precompute(grid) is False
    torch.testing.assert_close(func(grid[3], v), expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert func.precompute(grid) is False


def test_nothing_to_hoist_still_precomputes_the_input() -> None:
    func = ODEFuncFromFX(nn.Sequential(Lif(), nn.Linear(3, 2)).double())
    assert split_input_part(func.ode_gm, 1) is None
    x, grid = torch.rand(4, 2, 3, dtype=DT), torch.arange(4.0, dtype=DT)
    func.set_inputs(x, grid)
    v = [torch.rand(2, 3, dtype=DT)]
    expected = func(grid[2], v)
    assert func.precompute(grid) is False
    torch.testing.assert_close(func(grid[2], v), expected, rtol=0, atol=0)


def test_precompute_errors() -> None:
    func = ODEFuncFromFX(nn.Sequential(nn.Linear(3, 4), Lif()))
    with pytest.raises(RuntimeError, match="call set_inputs"):
        func.precompute(torch.arange(3.0))
    func.set_inputs(torch.rand(3, 2, 3), torch.arange(3.0))
    with pytest.raises(TypeError, match="times must be a real floating-point tensor"):
        func.precompute(torch.arange(3))
    with pytest.raises(ValueError, match="times must be a 1-d tensor"):
        func.precompute(torch.zeros(3, 1))
    func.clear_inputs()
    assert func.x is None


def test_direct_calls_find_grid_times_by_value() -> None:
    """Solvers pass the grid index; a direct call is looked up by its time's value."""
    func = ODEFuncFromFX(nn.Sequential(nn.Linear(3, 4), Lif()).double())
    x, grid = torch.rand(6, 2, 3, dtype=DT), torch.arange(6.0, dtype=DT)
    table = func.field_args(x, grid, grid=grid).table
    assert [table.index_of(float(v)) for v in grid] == list(range(6))
    assert table.index_of(2.5) is None


def test_wrapper_solves_use_the_precomputed_part_at_every_step() -> None:
    """No evaluation of a wrapper solve falls back to the per-evaluation graph."""
    from spikede import LIFNeuron, SNNWrapper

    net = SNNWrapper(nn.Sequential(nn.Linear(3, 4), LIFNeuron(), nn.Linear(4, 2), LIFNeuron()))
    per_evaluation = []
    net.odefunc.ode_gm.register_forward_hook(lambda *args: per_evaluation.append(1))
    for method in ("gl", "trap", "pred"):
        out = net(torch.rand(300, 2, 3), method=method)
        assert out.shape == (300, 2, 2)
    assert per_evaluation == []
    net(torch.rand(30, 2, 3), options={"checkpoint": True})  # checkpointing does not precompute
    assert per_evaluation
