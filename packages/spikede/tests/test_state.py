"""State and time: initial_state, return_state (chunked == one run), output_time."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from spikede import LIFNeuron, SNNWrapper, State

F64 = torch.float64
METHODS = [("fdeint", m) for m in ("gl", "l1", "trap", "pred", "glmulti")] + [
    ("odeint", m) for m in ("euler", "midpoint", "rk4")
]


def net(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 8), LIFNeuron(tau=2.0, threshold=0.5),
                          nn.Linear(8, 5), LIFNeuron(tau=2.0, threshold=0.3))
    with torch.no_grad():
        model[2].weight.mul_(2.0)
        model[2].bias.fill_(0.1)
    return model.to(F64)


def wrap(integrator, method, **kw):
    alpha = kw.pop("alpha", [[0.6, 0.9], [0.8, 1.0]] if method == "glmulti" else 0.7)
    if integrator == "odeint":
        return SNNWrapper(net(), integrator="odeint", method=method, **kw)
    extra = {"multi_coefficient": [[1.0, 0.5], [1.0, 0.3]]} if method == "glmulti" else {}
    return SNNWrapper(net(), alpha=alpha, method=method, **kw, **extra)


def data(T=60, seed=1):
    g = torch.Generator().manual_seed(seed)
    return 1.5 * torch.rand(T, 4, 3, generator=g, dtype=F64)


def run_chunks(snn, x, cuts, x_time=None, **kw):
    bounds = [0, *cuts, x.shape[0]]
    outs, states, state = [], [], None
    for lo, hi in itertools.pairwise(bounds):
        xt = None if x_time is None else x_time[lo:hi]
        out, ys, state = snn(x[lo:hi], xt, return_states=True, return_state=True,
                             initial_state=state, **kw)
        outs.append(out)
        states.append(ys)
    return torch.cat(outs), tuple(torch.cat(s) for s in zip(*states)), state


@pytest.mark.parametrize(("integrator", "method"), METHODS)
@pytest.mark.parametrize("options", [None, {"memory": 5}, {"step_size": 0.5}])
def test_chunked_equals_one_run(integrator, method, options):
    if options and "memory" in options and integrator == "odeint":
        pytest.skip("memory is fractional only")
    snn = wrap(integrator, method, options=options)
    x = data() * (3.0 if options and "step_size" in options else 1.0)
    with torch.no_grad():
        ref, ref_states = snn(x, return_states=True)
        got, got_states, state = run_chunks(snn, x, [2, 17, 18, 40])
    rate = float(ref.mean())
    assert 0.05 < rate < 0.95, rate  # the output layer fires on 5-95% of steps
    assert torch.equal(got, ref)  # spikes equal
    for g, r in zip(got_states, ref_states):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-10)
    assert isinstance(state, State) and [tuple(v.shape) for v in state.membranes] == [(4, 8), (4, 5)]
    torch.testing.assert_close(state.membranes[0], ref_states[0][-1])


@pytest.mark.parametrize("method", ["gl", "pred", "l1"])
def test_chunked_soe_close_to_one_run(method):
    snn = wrap("fdeint", method, options={"history": "soe"})
    x = data(T=200)
    with torch.no_grad():
        _, ref_states = snn(x, return_states=True)
        _, got_states, state = run_chunks(snn, x, [120, 150, 170])
    for g, r in zip(got_states, ref_states):
        torch.testing.assert_close(g, r, rtol=0, atol=1e-4)
    assert state.history.times.shape[0] <= 18


def test_non_uniform_times_and_default_times():
    snn = wrap("odeint", "euler")
    x = data(T=20)
    x_time = torch.cumsum(0.5 + torch.rand(20, dtype=F64), 0)
    with torch.no_grad():
        ref, ref_states = snn(x, x_time, return_states=True)
        got, got_states, _ = run_chunks(snn, x, [7], x_time=x_time)
        assert all(torch.equal(g, r) for g, r in zip(got_states, ref_states))
        # On a non-uniform grid the last row of a chunk is evaluated with the chunk's
        # last step (the next one is not known yet): every other row is equal.
        keep = [i for i in range(20) if i != 6]
        assert torch.equal(got[keep], ref[keep])
        # Default x_time of a continued chunk: one unit after the last sample.
        ref = snn(x)
        got, _, state = run_chunks(snn, x, [5, 12])
    assert torch.equal(got, ref) and float(state.time) == 19.0


def hand_lif(x, model, v1, v2, tau=2.0):
    out = []
    for t in range(x.shape[0]):
        u1 = v1 + (model[0](x[t]) - v1) / tau
        s1 = (u1 >= 0.5).to(x.dtype)
        v1 = u1 - 0.5 * s1
        u2 = v2 + (model[2](s1) - v2) / tau
        s2 = (u2 >= 0.3).to(x.dtype)
        v2 = u2 - 0.3 * s2
        out.append(s2)
    return torch.stack(out)


@pytest.mark.parametrize(("integrator", "alpha"), [("odeint", None), ("fdeint", 1.0)])
def test_custom_initial_membranes_match_hand_loop(integrator, alpha):
    model = net()
    kw = {"integrator": "odeint"} if integrator == "odeint" else {"alpha": alpha}
    snn = SNNWrapper(model, **kw)
    x = data(T=30)
    g = torch.Generator().manual_seed(3)
    v1 = torch.rand(4, 8, generator=g, dtype=F64) * 0.6
    v2 = torch.rand(4, 5, generator=g, dtype=F64) * 0.4
    with torch.no_grad():
        out = snn(x, initial_state=(v1, v2))
        # The solver evaluates at t_n and steps to t_{n+1}: row n holds the spikes of the
        # update from v_n; the hand loop's row n is the update into v_{n+1}.
        ref = hand_lif(x, model, v1, v2)
        zero = snn(x)
    assert 0.05 < float(ref.mean()) < 0.95
    assert torch.equal(out, ref)
    assert not torch.equal(out, zero)


def test_output_time_rows():
    snn = wrap("odeint", "euler")
    x = data(T=12)
    with torch.no_grad():
        full, full_states = snn(x, return_states=True)
        t_out = torch.tensor([0.0, 3.0, 4.0, 11.0], dtype=F64)
        out, states = snn(x, output_time=t_out, return_states=True)
        assert torch.equal(out, full[[0, 3, 4, 11]])
        assert torch.equal(states[1], full_states[1][[0, 3, 4, 11]])
        # Between samples: the grid includes the time; the same as giving the
        # linearly interpolated sample there.
        t_mid = torch.tensor([4.5, 7.0], dtype=F64)
        out = snn(x, output_time=t_mid)
        xt = torch.cat([torch.arange(5.0, dtype=F64), torch.tensor([4.5]), torch.arange(5.0, 12.0)])
        xt = xt.to(F64)
        xi = torch.cat([x[:5], (0.5 * (x[4] + x[5]))[None], x[5:]])
        ref = snn(xi, xt.sort().values)
        assert torch.equal(out, ref[[5, 8]])
        # Beyond the last sample: the input is held at its last value.
        out = snn(x, output_time=torch.tensor([13.0], dtype=F64))
        held = snn(torch.cat([x, x[-1:].expand(2, -1, -1)]))
        assert torch.equal(out, held[[13]])


def test_output_time_off_grid_refused_for_uniform_methods():
    snn = wrap("fdeint", "gl")
    with pytest.raises(ValueError, match=r"output_time\[0\]=2.5 is not a point of the solver grid.*step_size"):
        snn(data(T=6), output_time=torch.tensor([2.5], dtype=F64))
    with torch.no_grad():  # on the grid of step_size 0.5: accepted
        out = snn(data(T=6), options={"step_size": 0.5}, output_time=torch.tensor([2.5], dtype=F64))
    assert out.shape == (1, 4, 5)
    with pytest.raises(ValueError, match="strictly increasing"):
        snn(data(T=6), output_time=torch.tensor([2.0, 1.0], dtype=F64))
    with pytest.raises(ValueError, match="before the start"):
        snn(data(T=6), output_time=torch.tensor([-1.0], dtype=F64))


def test_state_refusals_and_helpers():
    snn = wrap("fdeint", "gl")
    x = data(T=10)
    with torch.no_grad():
        _, state = snn(x, return_state=True)
    with pytest.raises(ValueError, match="made by method 'gl'"):
        snn(x, method="pred", initial_state=state)
    with pytest.raises(ValueError, match=r"initial_state\[0\] has shape \(4, 8\); expected \(2, 8\)"):
        snn(x[:, :2], initial_state=state)
    with pytest.raises(ValueError, match="must come after"):
        snn(x, torch.arange(10, dtype=F64), initial_state=state)
    with pytest.raises(ValueError, match="differ from initial_history's"):
        SNNWrapper(net(), alpha=0.5)(x, initial_state=state)
    with pytest.raises(ValueError, match="memory=3 does not match"):
        snn(x, options={"memory": 3}, initial_state=state)
    with pytest.raises(TypeError, match="initial_state must be a spikede.State"):
        snn(x, initial_state=torch.zeros(4, 8))
    with pytest.raises(ValueError, match="holds 1 membrane"):
        snn(x, initial_state=(torch.zeros(4, 8, dtype=F64),))
    _, attached = snn(x, return_state=True)
    with pytest.raises(ValueError, match=r"state.detach\(\)"):
        snn(x, initial_state=attached)
    snn(x, initial_state=attached.detach())
    assert state.to(torch.float32).membranes[0].dtype == torch.float32


def test_truncated_bptt_trains_and_odeint_gradient_flows():
    snn = wrap("fdeint", "gl", options={"memory": 8})
    x = data(T=40)
    opt = torch.optim.Adam(snn.parameters(), lr=0.05)
    losses = []
    for _ in range(8):
        state, total = None, 0.0
        for k in range(0, 40, 10):
            out, state = snn(x[k : k + 10], initial_state=state, return_state=True)
            loss = ((out.mean(0) - 0.2) ** 2).mean()  # a firing-rate target
            opt.zero_grad()
            loss.backward()
            opt.step()
            state = state.detach()
            total += float(loss.detach())
        losses.append(total)
    assert losses[-1] < losses[0]
    # odeint: the gradient of the second chunk reaches the first chunk's input.
    snn = wrap("odeint", "euler")
    x = data(T=10).requires_grad_()
    out1, state = snn(x[:5], return_state=True)
    out2 = snn(x[5:], initial_state=state)
    (g,) = torch.autograd.grad(out2.sum() + state.membranes[0].sum(), x)
    assert float(g[:5].abs().sum()) > 0 and out1.shape[0] == 5
