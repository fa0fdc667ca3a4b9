"""Learnable thresholds: ``threshold=nn.Parameter(...)`` or ``learn_threshold=True``.

Oracles: a hand-written discrete loop whose spikes are the straight-through function
``H_n + p(u - theta) - p(u_n0 - theta_0)`` (``H_n`` and ``u_n0`` frozen at the base point):
a smooth function of ``theta`` whose value at ``theta_0`` is the network's and whose
derivative is the surrogate gradient, so its central finite difference (float64) checks
the gradient autograd gives. In the wrapper,
the same straight-through function through a hand-written Grünwald–Letnikov loop (Euler
at order 1), whose forward equals the wrapper's.
"""

from __future__ import annotations

import copy
import io

import pytest
import torch
from torch import nn

from spikede import HardResetLIFNeuron, IFNeuron, LIFNeuron, SNNWrapper

T, N = 40, 24
K = 1.3  # sigmoid sharpness
TAU = 2.0


def _drive(dtype: torch.dtype) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return 0.4 + 1.6 * torch.rand(T, N, generator=g, dtype=dtype)


def _neuron(kind: str, theta: float, detach_reset: bool) -> nn.Module:
    common = dict(threshold=theta, sharpness=K, detach_reset=detach_reset, learn_threshold=True)
    if kind == "lif":
        return LIFNeuron(tau=TAU, **common)
    if kind == "if":
        return IFNeuron(**common)
    return HardResetLIFNeuron(tau=TAU, v_reset=-0.2, **common)


def _hand_loop(kind, theta, current, detach_reset, frozen=None):
    """The discrete loop with straight-through spikes; ``frozen`` = base-point (H, p0) per step."""
    v = torch.zeros(N, dtype=current.dtype)
    spikes, record = [], []
    for n in range(T):
        rate = current[n] if kind == "if" else (current[n] - v) / TAU
        u = v + rate
        p = torch.sigmoid(4.0 * K * (u - theta))
        if frozen is None:
            h, p0 = (u - theta >= 0).to(u.dtype), p
            record.append((h, p0))
        else:
            h, p0 = frozen[n]
        s = (p - p0) + h  # exactly h at the base point
        reset = h if detach_reset else s
        v = u * (1 - reset) + (-0.2) * reset if kind == "hard" else u - theta * reset
        spikes.append(s)
    return torch.stack(spikes), v, record


def _loss(spikes: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    c = torch.linspace(-1.0, 2.0, T, dtype=spikes.dtype)[:, None]
    return (c * spikes).sum() + (v * v).sum()


@pytest.mark.parametrize("kind", ["lif", "if", "hard"])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_threshold_gradient_equals_finite_differences_of_the_straight_through_loop(kind, detach_reset):
    dtype = torch.float64
    theta0 = 1.1
    current = _drive(dtype) * (0.45 if kind == "if" else 1.0)
    neuron = _neuron(kind, theta0, detach_reset).to(dtype)
    v = torch.zeros(N, dtype=dtype)
    spikes = []
    for n in range(T):
        dv, s = neuron(v, current[n], 1.0)
        v = v + dv
        spikes.append(s)
    spikes = torch.stack(spikes)
    rate = spikes.detach().mean().item()
    assert 0.05 < rate < 0.95, rate
    _loss(spikes, v).backward()
    grad = neuron.threshold.grad.item()

    ref_spikes, ref_v, frozen = _hand_loop(kind, torch.tensor(theta0, dtype=dtype), current, detach_reset)
    torch.testing.assert_close(spikes.detach(), ref_spikes, rtol=0, atol=0)  # same forward
    torch.testing.assert_close(v.detach(), ref_v, rtol=0, atol=1e-6)  # other rounding order
    eps = 1e-6

    def f(theta: float) -> float:
        s, vv, _ = _hand_loop(kind, torch.tensor(theta, dtype=dtype), current, detach_reset, frozen)
        return _loss(s, vv).item()

    fd = (f(theta0 + eps) - f(theta0 - eps)) / (2 * eps)
    assert grad != 0.0
    assert grad == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_a_given_parameter_is_used_as_is_and_float32_gets_gradients():
    theta = nn.Parameter(torch.tensor(0.8))
    neuron = LIFNeuron(threshold=theta)
    assert neuron.threshold is theta and neuron.learn_threshold
    assert [name for name, _ in neuron.named_parameters()] == ["threshold"]
    current = _drive(torch.float32)
    v = torch.zeros(N)
    total = 0.0
    for n in range(T):
        dv, s = neuron(v, current[n], 1.0)
        v = v + dv
        total = total + s.sum()
    total.backward()
    assert theta.grad is not None and theta.grad.dtype == torch.float32 and theta.grad.item() < 0
    # without a gradient for the membrane the threshold still gets one (the spike path)
    theta.grad = None
    _, s = neuron(torch.zeros(N), torch.full((N,), 2.0), 1.0)
    s.sum().backward()
    assert theta.grad.item() < 0


def test_plain_numbers_and_fixed_thresholds_are_unchanged():
    fixed = LIFNeuron(threshold=0.7)
    assert fixed.threshold == 0.7 and not fixed.learn_threshold and not list(fixed.parameters())
    assert "learn_threshold" not in repr(fixed)
    assert "learn_threshold=True" in repr(LIFNeuron(learn_threshold=True))


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"threshold": torch.tensor(1.0)}, TypeError, "plain tensor"),
        ({"threshold": nn.Parameter(torch.ones(2))}, TypeError, "must be 0-d"),
        ({"threshold": nn.Parameter(torch.tensor(-1.0))}, ValueError, "threshold must be a finite number > 0"),
        ({"learn_threshold": 1}, TypeError, "learn_threshold must be True or False"),
    ],
)
def test_bad_thresholds_raise(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        LIFNeuron(**kwargs)


def _gl_hand_loop(current, head, theta, alpha, frozen=None):
    """Grünwald–Letnikov on the unit grid (Euler at alpha = 1) of the LIF layer, written out.

    ``v_{n+1} = f_n - sum_{j=1}^{n+1} w_j v_{n+1-j}``, ``w_0 = 1``,
    ``w_j = w_{j-1} (1 - (alpha + 1) / j)``, ``f_n = (I_n - v_n)/tau - theta s_n``; the
    output row ``n`` is the head of ``s_n``. Spikes are straight-through as in
    :func:`_hand_loop`.
    """
    steps = current.shape[0]
    w = [1.0]
    for j in range(1, steps + 1):
        w.append(w[-1] * (1 - (alpha + 1) / j))
    vs = [torch.zeros_like(current[0])]
    outs, record = [], []
    for n in range(steps):
        v = vs[-1]
        rate = (current[n] - v) / TAU
        u = v + rate
        p = torch.sigmoid(4.0 * K * (u - theta))
        if frozen is None:
            h, p0 = (u - theta >= 0).to(u.dtype), p
            record.append((h, p0))
        else:
            h, p0 = frozen[n]
        s = (p - p0) + h
        outs.append(head(s))
        vs.append(rate - theta * s - sum(w[j] * vs[n + 1 - j] for j in range(1, n + 2)))
    return torch.stack(outs), record


@pytest.mark.parametrize(("integrator", "alpha"), [("fdeint", 0.6), ("odeint", 1.0)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_threshold_gradient_in_the_wrapper_equals_finite_differences(integrator, alpha, dtype):
    torch.manual_seed(0)
    fc, head = nn.Linear(N, 16).to(dtype), nn.Linear(16, 3).to(dtype)
    theta0 = 1.1
    model = nn.Sequential(fc, LIFNeuron(tau=TAU, threshold=theta0, sharpness=K, learn_threshold=True), head)
    model.to(dtype)
    x = (6.0 * torch.rand(30, 4, N)).to(dtype)
    kw = {"integrator": integrator} | ({"alpha": alpha} if integrator == "fdeint" else {})
    snn = SNNWrapper(model, **kw)
    out, rec = snn(x, record=True)
    rate = rec.firing_rates()["1"]
    assert 0.05 < rate < 0.95, rate
    (out * out).sum().backward()
    grad = model[1].threshold.grad.item()

    with torch.no_grad():  # the oracle in float64, from the same weights
        current = fc.double()(x.double())
        head64 = copy.deepcopy(head).double()
        ref, frozen = _gl_hand_loop(current, head64, torch.tensor(theta0, dtype=torch.float64), alpha)
        torch.testing.assert_close(out.detach().double(), ref, **({} if dtype == torch.float32 else {"rtol": 0, "atol": 1e-12}))
        eps = 1e-6

        def f(theta: float) -> float:
            o, _ = _gl_hand_loop(current, head64, torch.tensor(theta, dtype=torch.float64), alpha, frozen)
            return (o * o).sum().item()

        fd = (f(theta0 + eps) - f(theta0 - eps)) / (2 * eps)
    assert grad != 0.0
    assert grad == pytest.approx(fd, rel=1e-6 if dtype == torch.float64 else 1e-3)


def test_training_moves_the_threshold_and_the_state_dict_round_trips():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(N, 16), LIFNeuron(learn_threshold=True, threshold=1.0), nn.Linear(16, 2))
    snn = SNNWrapper(model, alpha=0.7)
    x = 6.0 * torch.rand(20, 8, N)
    target = torch.randn(20, 8, 2)
    optimizer = torch.optim.Adam(snn.parameters(), lr=0.05)
    assert any(p is model[1].threshold for p in snn.parameters())
    start = model[1].threshold.item()
    losses = []
    for step in range(15):
        optimizer.zero_grad()
        out, rec = snn(x, record=True)
        if step in (0, 14):
            assert 0.05 < rec.firing_rates()["1"] < 0.95
        loss = ((out - target) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert model[1].threshold.item() != pytest.approx(start, abs=1e-3)
    assert losses[-1] < losses[0]

    assert "model.1.threshold" in snn.state_dict()
    buffer = io.BytesIO()
    torch.save(snn.state_dict(), buffer)
    buffer.seek(0)
    fresh = SNNWrapper(
        nn.Sequential(nn.Linear(N, 16), LIFNeuron(learn_threshold=True), nn.Linear(16, 2)), alpha=0.7
    )
    fresh.load_state_dict(torch.load(buffer))
    assert fresh.model[1].threshold.item() == model[1].threshold.item()
    snn.eval()
    fresh.eval()
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), snn(x), rtol=0, atol=0)
    copied = copy.deepcopy(snn)
    assert copied.model[1].threshold is not model[1].threshold


def test_a_frozen_parameter_changed_in_place_is_read_at_every_call():
    theta = nn.Parameter(torch.tensor(1.0), requires_grad=False)
    neuron = LIFNeuron(threshold=theta, sharpness=K)
    v = torch.zeros(N)
    current = torch.linspace(0.5, 3.5, N, requires_grad=True)
    for value in (1.0, 0.6):
        with torch.no_grad():
            theta.fill_(value)
        current.grad = None
        _, s = neuron(v, current, 1.0)
        s.sum().backward()
        u = (current.detach() - v) / TAU  # v = 0: u = I / tau
        z = torch.sigmoid(4.0 * K * (u - value))
        torch.testing.assert_close(s.detach(), (u >= value).float())
        torch.testing.assert_close(current.grad, 4.0 * K * z * (1 - z) / TAU)
