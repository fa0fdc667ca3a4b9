"""Direct layer calls of the field (spikede_fx._fast): same values, hooks honoured."""

from __future__ import annotations

import torch
from torch import nn

from spikede_fx import BaseNeuron, ODEFuncFromFX
from spikede_fx._fast import direct


class Leaky(BaseNeuron):
    def step(self, v, current, dt):
        u = v + dt * (current - v)
        s = (u >= 0.5).to(u.dtype)
        return (current - v) - s / dt, s


def _func(dtype: torch.dtype) -> tuple[ODEFuncFromFX, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), Leaky(), nn.Linear(5, 2), Leaky()).to(dtype)
    with torch.no_grad():  # gains so that both neuron layers fire on some steps
        model[0].weight.mul_(3.0)
        model[2].weight.mul_(6.0)
        model[2].bias.add_(0.3)
    x = 2 * torch.rand(6, 4, 3, dtype=dtype)
    return ODEFuncFromFX(model), x, torch.arange(6, dtype=dtype)


def _evaluate(func: ODEFuncFromFX, x: torch.Tensor, grid: torch.Tensor) -> list[torch.Tensor]:
    args = func.field_args(x, grid, grid=grid)
    v = (torch.full((4, 5), 0.2, dtype=x.dtype), torch.full((4, 2), 0.1, dtype=x.dtype))
    out = []
    for k in range(grid.shape[0]):
        dv, aux = ODEFuncFromFX.solver_field(grid[k], v, args, _Step(k))
        out.extend([*dv, *aux])
    return out


class _Step:
    def __init__(self, k: int) -> None:
        self.h, self.index = 1.0, k


def test_direct_equals_graph_module_bitwise() -> None:
    for dtype in (torch.float32, torch.float64):
        func, x, grid = _func(dtype)
        net = func.network
        for gm in (net.ode, net.input_part.state_gm):
            assert direct(gm) is not gm  # no hooks: the direct copy
        fast = _evaluate(func, x, grid)
        spikes = torch.stack(fast[2::3])
        assert 0.05 < float(spikes.mean()) < 0.95, float(spikes.mean())  # fires sometimes
        # The plain graph modules (a global hook forces them) give the same bits.
        handle = nn.modules.module.register_module_forward_hook(lambda m, i, o: None)
        try:
            assert direct(net.ode) is net.ode
            plain = _evaluate(func, x, grid)
        finally:
            handle.remove()
        for a, b in zip(fast, plain):
            assert torch.equal(a, b)


def test_layer_hook_and_replacement_are_seen() -> None:
    func, x, grid = _func(torch.float64)
    net = func.network
    calls = []
    handle = net.model[1].register_forward_hook(lambda m, i, o: calls.append(1))
    try:
        assert direct(net.input_part.state_gm) is net.input_part.state_gm
        _evaluate(func, x, grid)
        assert calls  # the hook ran
    finally:
        handle.remove()
    first = direct(net.input_part.state_gm)
    assert direct(net.input_part.state_gm) == first  # cached
    net.model[2] = nn.Linear(5, 2).to(torch.float64)  # a layer replaced after tracing
    second = direct(net.input_part.state_gm)
    assert second != first
    with torch.no_grad():
        net.model[2].weight.zero_()
        net.model[2].bias.fill_(3.0)
    out = _evaluate(func, x, grid)
    assert torch.equal(out[2], torch.ones(4, 2, dtype=torch.float64))  # the new layer's output fires
