"""SNNWrapper with an adaptive method: spikes located as events, against exact oracles."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from spikede import (
    HardResetIFNeuron,
    HardResetLIFNeuron,
    IFNeuron,
    LIFNeuron,
    LINeuron,
    NoisyLIFNeuron,
    SNNWrapper,
)

F64, F32 = torch.float64, torch.float32
TIGHT = {"rtol": 1e-9, "atol": 1e-11}
TOLERANCES = {F64: TIGHT, F32: {"rtol": 1e-6, "atol": 1e-8}}


def single(neuron: nn.Module, dtype=F64) -> nn.Module:
    return nn.Sequential(nn.Identity(), neuron).to(dtype)


def run(model, I, T=21, method="dopri5", dtype=F64, options=None, **kw):  # noqa: E741
    options = TOLERANCES[dtype] if options is None else options
    snn = SNNWrapper(model, integrator="odeint", method=method, options=options)
    x = torch.as_tensor(I, dtype=dtype).reshape(1, -1, 1).expand(T, -1, 1).contiguous()
    return snn(x, record=True, **kw)


def times_of(rec, name="1", sample=0):
    st = rec.spike_times[name].detach()
    return st[st[:, 0] == sample, -1].to(F64)


@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
@pytest.mark.parametrize("dtype,tol", [(F64, 1e-9), (F32, 1e-5)])
def test_if_neuron_fires_at_k_theta_over_I(method, dtype, tol):
    I, theta = torch.tensor([0.37, 0.61]), 1.3  # noqa: E741 - no spike on an output time
    out, rec = run(single(IFNeuron(threshold=theta), dtype), I, method=method, dtype=dtype)
    assert rec.spike_times["1"].dtype == dtype and rec.spike_times["1"].shape[1] == 3
    for b in range(2):
        got = times_of(rec, sample=b)
        want = theta * torch.arange(1, len(got) + 1, dtype=F64) / float(I[b])
        assert len(got) == int(20 * float(I[b]) / theta)
        assert float(((got - want) / want).abs().max()) < tol
        # row n counts the spikes in (n-1, n]
        counts = torch.floor(torch.arange(21, dtype=F64) * float(I[b]) / theta)
        assert torch.equal(out[:, b, 0].to(F64), torch.diff(counts, prepend=counts[:1]))
    assert bool((rec.spike_times["1"][1:, -1] >= rec.spike_times["1"][:-1, -1]).all())


@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
@pytest.mark.parametrize("dtype,tol", [(F64, 1e-7), (F32, 1e-4)])
def test_lif_first_spike_and_period(method, dtype, tol):
    tau, theta, I = 2.0, 1.0, 1.5  # noqa: E741
    _, rec = run(single(LIFNeuron(tau=tau, threshold=theta), dtype), [I], method=method, dtype=dtype)
    t1 = tau * math.log(I / (I - theta))
    # after a soft reset at v = theta the membrane is 0 again: period t1
    got = times_of(rec)
    want = t1 * torch.arange(1, len(got) + 1, dtype=F64)
    assert len(got) == int(20 / t1)
    assert float(((got - want) / want).abs().max()) < tol


@pytest.mark.parametrize("kind", ["lif", "if"])
def test_hard_reset_period(kind):
    tau, theta, v_r, I = 2.0, 1.0, -0.5, 1.5  # noqa: E741
    if kind == "lif":
        neuron = HardResetLIFNeuron(tau=tau, threshold=theta, v_reset=v_r)
        t1, period = tau * math.log(I / (I - theta)), tau * math.log((I - v_r) / (I - theta))
    else:
        neuron = HardResetIFNeuron(threshold=theta, v_reset=v_r)
        t1, period = theta / I, (theta - v_r) / I
    _, rec = run(single(neuron), [I])
    got = times_of(rec)
    want = t1 + period * torch.arange(len(got), dtype=F64)
    assert len(got) == 1 + int((20 - t1) / period)
    assert float(((got - want) / want).abs().max()) < 1e-7


def test_membranes_and_recording_on_the_output_grid():
    tau, theta, I = 2.0, 1.0, 1.5  # noqa: E741
    out, states, rec = run(single(LIFNeuron(tau=tau, threshold=theta)), [I], return_states=True)
    t1 = tau * math.log(I / (I - theta))
    t = torch.arange(21, dtype=F64)
    since = t - t1 * torch.floor(t / t1)
    assert torch.allclose(states[0][:, 0, 0], I * (1 - torch.exp(-since / tau)), atol=1e-7)
    assert torch.equal(rec.membrane["1"], states[0]) and torch.equal(rec.time, t)
    assert torch.equal(rec.spikes["1"], out)
    assert abs(rec.firing_rates()["1"] - float(out.mean())) < 1e-6


def euler_first_spike_and_count(model, I, h, T=20):  # noqa: E741
    snn = SNNWrapper(model, integrator="odeint", method="euler", options={"step_size": h})
    x = torch.full((T + 1, 1, 1), I, dtype=F64)
    out = snn(x)[:, 0, 0]
    first = int(out.nonzero()[0]) + 1  # a grid row n holds the spike of (t_n, t_n + h]
    return first * h, float(out.sum())


def test_euler_converges_to_the_event_solution():
    tau, theta, I = 2.0, 1.0, 1.7  # noqa: E741
    model = single(LIFNeuron(tau=tau, threshold=theta))
    _, rec = run(model, [I])
    t_first, count = float(times_of(rec)[0]), rec.spike_times["1"].shape[0]
    errors, gaps = [], []
    for h in (0.1, 0.01, 0.001):
        first, n = euler_first_spike_and_count(model, I, h)
        errors.append(abs(first - t_first))
        gaps.append(abs(n - count))
    assert errors[0] > errors[1] > errors[2] and errors[2] < 2e-3
    assert gaps[0] >= gaps[1] >= gaps[2] and gaps[2] <= 1


def exact_two_layer_if(x, w1, b1, w2, b2, theta1, theta2, T):
    """Hand-written event simulation: IF layers, input held over each unit interval."""
    events = []  # (time, layer, neuron)
    v1 = torch.zeros(w1.shape[0], dtype=F64)
    v2 = torch.zeros(w2.shape[0], dtype=F64)
    for n in range(T - 1):
        r1 = w1 @ x[n] + b1
        t = float(n)
        while True:
            dt1 = torch.where((r1 > 0), (theta1 - v1) / r1, torch.full_like(v1, math.inf))
            dt2 = torch.where((b2 > 0), (theta2 - v2) / b2, torch.full_like(v2, math.inf))
            m1, m2 = float(dt1.min()), float(dt2.min())
            if min(m1, m2) > n + 1 - t:
                v1, v2 = v1 + (n + 1 - t) * r1, v2 + (n + 1 - t) * b2
                break
            step = min(m1, m2)
            v1, v2, t = v1 + step * r1, v2 + step * b2, t + step
            if m1 <= m2:
                i = int(dt1.argmin())
                v1[i] = v1[i] - theta1
                events.append((t, 1, i))
                v2 = v2 + w2[:, i]
            else:
                i = int(dt2.argmin())
                v2[i] = v2[i] - theta2
                events.append((t, 2, i))
            while bool((v2 >= theta2).any()):  # fired by the jump, at the same time
                for j in (v2 >= theta2).nonzero().reshape(-1).tolist():
                    v2[j] = v2[j] - theta2
                    events.append((t, 2, j))
    return events


def test_two_layer_network_against_an_exact_event_simulation():
    torch.manual_seed(3)
    T, B, n_in, n1, n2 = 16, 2, 3, 6, 4
    model = nn.Sequential(
        nn.Linear(n_in, n1), IFNeuron(threshold=1.0), nn.Linear(n1, n2), IFNeuron(threshold=1.0)
    ).to(F64)
    with torch.no_grad():
        model[0].weight.uniform_(-0.2, 0.8)
        model[0].bias.fill_(0.05)
        model[2].weight.uniform_(0.0, 0.6)
        model[2].bias.fill_(0.08)
    x = torch.rand(T, B, n_in, dtype=F64)
    snn = SNNWrapper(model, integrator="odeint", method="dopri5", options=TIGHT, interpolation_method="previous")
    out, rec = snn(x, record=True)
    for name in ("1", "3"):
        active = float((rec.spikes[name] > 0).to(F64).mean())
        assert 0.05 < active < 0.95, (name, active)
    for b in range(B):
        params = [p.detach() for p in (model[0].weight, model[0].bias, model[2].weight, model[2].bias)]
        events = exact_two_layer_if(x[:, b], *params, 1.0, 1.0, T)
        for layer, name in ((1, "1"), (2, "3")):
            want = torch.tensor(sorted(t for t, k, _ in events if k == layer), dtype=F64)
            got = times_of(rec, name, b)
            assert got.shape == want.shape, (name, b)
            assert float((got - want).abs().max()) < 1e-6
    assert torch.equal(out, rec.spikes["3"])


def test_samples_are_independent():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 5), LIFNeuron(tau=2.0, threshold=0.3)).to(F64)
    x = torch.rand(12, 3, 2, dtype=F64)
    snn = SNNWrapper(model, integrator="odeint", method="dopri5", options=TIGHT)
    both, rec = snn(x, record=True)
    alone, rec1 = snn(x[:, 1:2], record=True)
    assert torch.equal(both[:, 1:2], alone)
    st = rec.spike_times["1"].detach()
    st = st[st[:, 0] == 1]
    assert torch.allclose(st[:, -1], rec1.spike_times["1"].detach()[:, -1], atol=1e-8)


def test_samples_take_their_own_steps_unless_a_layer_mixes_them():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 6), LIFNeuron(tau=2.0, threshold=0.4), nn.Linear(6, 2)).to(F64)
    x = torch.rand(10, 8, 3, dtype=F64) * torch.linspace(0.5, 3.0, 8, dtype=F64).view(1, 8, 1)
    snn = SNNWrapper(model, integrator="odeint", method="dopri5", options=TIGHT)
    out, rec = snn(x, record=True)
    active = float((rec.spikes["1"] > 0).to(F64).mean())
    assert 0.05 < active < 0.95, active
    per_sample = snn.odefunc.nfe
    # BatchNorm in training mode couples the samples: shared steps, a warning, same spikes
    bn = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6, affine=False, momentum=0.0), LIFNeuron(tau=2.0, threshold=0.4),
                       nn.Linear(6, 2)).to(F64)
    with torch.no_grad():
        bn[0].load_state_dict(model[0].state_dict())
        bn[3].load_state_dict(model[2].state_dict())
    coupled = SNNWrapper(bn, integrator="odeint", method="dopri5", options=TIGHT)
    with pytest.warns(UserWarning, match=r"layer '1' \(BatchNorm1d in training mode\) mixes the samples"):
        coupled(x)
    bn.eval()  # running statistics: per sample again, no warning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        coupled(x)
    # one batch costs a fraction of the evaluations of one call per sample (same spikes)
    alone = 0
    for b in range(x.shape[1]):
        snn.odefunc.nfe = 0
        assert torch.equal(snn(x[:, b : b + 1]), out[:, b : b + 1])
        alone += snn.odefunc.nfe
    assert per_sample < 0.3 * alone, (per_sample, alone)


# ------------------------------------------------------------------ gradients
class LearnedThresholdLIF(LIFNeuron):
    """A LIF neuron whose threshold is a parameter (only the event interface reads it)."""

    def __init__(self, tau, theta):
        super().__init__(tau=tau, learn_tau=True, detach_reset=True)
        self.theta = nn.Parameter(torch.tensor(theta))

    def event_threshold(self):
        return self.theta


def first_spike_time(w, log_tau, theta, detach=False):
    neuron = LearnedThresholdLIF(2.0, 1.0).to(F64)
    model = nn.Sequential(nn.Linear(1, 1, bias=False), neuron).to(F64)
    with torch.no_grad():
        model[0].weight.fill_(float(w))
        neuron.log_tau.fill_(float(log_tau))
        neuron.theta.fill_(float(theta))
    _, rec = run(model, [1.0], T=8)
    return rec.spike_times["1"][0, -1], model


def test_event_time_gradient_matches_finite_differences():
    w, log_tau, theta = 1.5, math.log(2.0), 1.0
    t1, model = first_spike_time(w, log_tau, theta)
    grads = torch.autograd.grad(t1, [model[0].weight, model[1].log_tau, model[1].theta])
    eps = 1e-6
    for i, g in enumerate(grads):
        args_p, args_m = [w, log_tau, theta], [w, log_tau, theta]
        args_p[i] += eps
        args_m[i] -= eps
        fd = float((first_spike_time(*args_p)[0] - first_spike_time(*args_m)[0]).detach()) / (2 * eps)
        assert abs(float(g.reshape(())) - fd) < 1e-5 * max(1.0, abs(fd)), (i, float(g), fd)
    # and the analytic t1 = tau ln(I / (I - theta)), I = w
    tau = math.exp(log_tau)
    assert abs(float(t1.detach()) - tau * math.log(w / (w - theta))) < 1e-8
    assert abs(float(grads[0].reshape(())) - tau * (1 / w - 1 / (w - theta))) < 1e-6


def test_counted_spikes_carry_the_surrogate_derivative():
    # IF with detach_reset: v(t_k) = w I t_k - theta (k - 1) at the k-th crossing, so the
    # k-th counted spike's derivative in w is sg'(0) * I * t_k.
    I, theta, w = 0.37, 1.3, 1.0  # noqa: E741
    neuron = IFNeuron(threshold=theta, detach_reset=True)
    model = nn.Sequential(nn.Linear(1, 1, bias=False), neuron).to(F64)
    with torch.no_grad():
        model[0].weight.fill_(w)
    out, rec = run(model, [I])
    (grad,) = torch.autograd.grad(out.sum(), model[0].weight)
    v = torch.tensor(theta, dtype=F64, requires_grad=True)
    (slope,) = torch.autograd.grad(neuron.event_spike(v), v)
    want = float(slope) * I * float(rec.spike_times["1"][:, -1].detach().sum())
    assert abs(float(grad) - want) < 1e-6 * abs(want)


def test_training_step_reduces_the_loss():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 6), LIFNeuron(tau=2.0, threshold=0.3), nn.Linear(6, 2))
    snn = SNNWrapper(model, integrator="odeint", method="bosh3", options={"rtol": 1e-3, "atol": 1e-4})
    x, y = torch.rand(10, 8, 4), torch.randint(0, 2, (8,))
    opt = torch.optim.Adam(snn.parameters(), lr=0.05)
    losses = []
    for _ in range(5):
        loss = nn.functional.cross_entropy(snn(x).mean(0), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]


# ------------------------------------------------------------------ shapes and errors
def test_spike_times_rows_of_a_conv_layer_and_output_time():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(1, 2, 3, padding=1), IFNeuron(threshold=0.5), nn.Flatten(), nn.Linear(10, 3))
    snn = SNNWrapper(model, integrator="odeint", method="bosh3", options={"rtol": 1e-4, "atol": 1e-6})
    x = torch.rand(6, 2, 1, 5) + 0.2
    t_out = torch.tensor([0.5, 2.0, 4.5, 7.0])
    out, rec = snn(x, record=True, output_time=t_out)
    st = rec.spike_times["1"]
    assert out.shape == (4, 2, 3) and rec.spikes["1"].shape == (4, 2, 2, 5)
    assert st.shape[1] == 4 and st.shape[0] == int(rec.spikes["1"].sum())
    assert bool((st[1:, -1] >= st[:-1, -1]).all()) and float(st[-1, -1]) <= 7.0
    assert torch.equal(rec.time, t_out)


def test_errors():
    class NoEvents(IFNeuron):
        subthreshold = None

    plain = nn.Sequential(nn.Linear(2, 2), LINeuron())
    with pytest.raises(ValueError, match=r"layer '1' \(LINeuron\): it does not implement subthreshold"):
        SNNWrapper(plain, integrator="odeint", method="dopri5")(torch.rand(3, 1, 2))
    noisy = SNNWrapper(nn.Sequential(nn.Linear(2, 2), NoisyLIFNeuron()), integrator="odeint", method="dopri5")
    with pytest.raises(ValueError, match="NoisyLIFNeuron.*drawn anew"):
        noisy(torch.rand(3, 1, 2))
    assert noisy.eval()(torch.rand(3, 1, 2)).shape == (3, 1, 2)
    model = nn.Sequential(nn.Linear(2, 2), LIFNeuron())
    with pytest.raises(ValueError, match="integrator='fdeint' has no adaptive method"):
        SNNWrapper(model, integrator="fdeint", method="dopri5")
    with pytest.raises(ValueError, match=r"step_size'\] does not apply to the adaptive method"):
        SNNWrapper(model, integrator="odeint", method="dopri5", options={"step_size": 0.5})
    snn = SNNWrapper(model, integrator="odeint", method="dopri5")
    x = torch.rand(3, 1, 2)
    with pytest.raises(ValueError, match="return_state=True is not supported"):
        snn(x, return_state=True)
    with pytest.raises(ValueError, match=r"options\['rtol'\]"):
        snn(x, options={"rtol": 0.0})
    with pytest.raises(ValueError, match="compile=True is not supported"):
        SNNWrapper(model, integrator="odeint", method="dopri5", compile=True)(x)
    start = (torch.full((1, 2), 0.5),)
    assert snn(x, initial_state=start).shape == (3, 1, 2)
