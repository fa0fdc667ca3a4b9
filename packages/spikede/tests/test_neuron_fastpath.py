"""The neurons' fast step path against the plain textbook formulas written out here.

The step functions cache their constants as 0-d tensors and fuse operations; these tests
check that values are bitwise those of the plain formulas (spikes and, since the fused
products are exact for 0/1 spikes, the right-hand sides too), that gradients (first and
second order) are those of the plain straight-through surrogate, and that the cache
follows changes of ``dt``, threshold, ``tau``, ``v_reset``, dtype and the fallbacks.
"""

from __future__ import annotations

import pytest
import torch

from spikede._hard_if import HardResetIFNeuron
from spikede._neurons import HardResetLIFNeuron, IFNeuron, LIFNeuron, NoisyLIFNeuron
from spikede._surrogate import NoisyThresholdSurrogate, SigmoidSurrogate

SHAPE = (6, 9)


def _reference(kind, neuron, v, current, dt, k=1.0):
    """Plain formulas: charge, fire with sigmoid straight-through, reset as an impulse."""
    theta = neuron.threshold
    if kind in ("if", "hard_if"):
        rate = current
    else:
        tau = neuron.log_tau.exp() if neuron.learn_tau else neuron._tau_value
        rate = (current - v) / tau
    u = v + dt * rate
    x = u - theta
    relaxed = torch.sigmoid(4.0 * k * x)
    spike = relaxed - relaxed.detach() + (x >= 0).to(x.dtype)
    reset = spike.detach() if neuron.detach_reset else spike
    if kind in ("hard", "hard_if"):
        return rate + reset * (neuron.v_reset - u) / dt, spike
    return rate - theta * reset / dt, spike


def _make(kind, learn_tau, detach_reset, tau=3.7, threshold=0.3):
    if kind == "if":
        return IFNeuron(threshold=threshold, detach_reset=detach_reset)
    if kind == "hard_if":
        return HardResetIFNeuron(threshold, v_reset=-0.2, detach_reset=detach_reset)
    if kind == "lif":
        return LIFNeuron(tau, threshold, learn_tau=learn_tau, detach_reset=detach_reset)
    if kind == "hard":
        return HardResetLIFNeuron(
            tau, threshold, v_reset=-0.2, learn_tau=learn_tau, detach_reset=detach_reset
        )
    return NoisyLIFNeuron(
        tau, threshold, noise_std=0.5, learn_tau=learn_tau, detach_reset=detach_reset
    ).eval()


def _inputs(dtype, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    v = torch.rand(SHAPE, generator=g, dtype=torch.float64).to(dtype)
    current = (2.0 * torch.rand(SHAPE, generator=g, dtype=torch.float64) - 0.5).to(dtype)
    return v.requires_grad_(requires_grad), current.requires_grad_(requires_grad)


def _ref_kind(kind):
    return "lif" if kind == "noisy" else kind


CASES = [
    (kind, learn_tau, detach)
    for kind in ("if", "lif", "hard", "hard_if", "noisy")
    for learn_tau in ((False,) if kind in ("if", "hard_if") else (False, True))
    for detach in (False, True)
]


@pytest.mark.parametrize(("kind", "learn_tau", "detach"), CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("dt", [1.0, 0.7])
def test_values_are_bitwise_the_plain_formulas(kind, learn_tau, detach, dtype, dt):
    neuron = _make(kind, learn_tau, detach)
    neuron.dt = dt
    for seed in range(3):
        v, current = _inputs(dtype, seed)
        with torch.no_grad():
            dv, spike = neuron(v, current)
            ref_dv, ref_spike = _reference(_ref_kind(kind), neuron, v, current, dt)
        assert spike.dtype == dtype and dv.dtype == dtype
        assert torch.equal(spike, ref_spike)
        assert torch.equal(dv, ref_dv)
        assert 0 < spike.sum() < spike.numel()  # both branches exercised


def test_spikes_are_bitwise_at_the_threshold_boundary():
    """Potentials one ulp either side of the threshold: the comparison is the same."""
    neuron = LIFNeuron(tau=1.0, threshold=0.3)
    theta32 = torch.tensor(0.3, dtype=torch.float32)
    u = torch.stack(
        [
            torch.nextafter(theta32, torch.tensor(0.0)),
            theta32,
            torch.nextafter(theta32, torch.tensor(1.0)),
        ]
    )
    with torch.no_grad():  # tau = 1, dt = 1: u equals the current exactly
        _, spike = neuron(torch.zeros(3), u)
    assert spike.tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize(("kind", "learn_tau", "detach"), CASES)
@pytest.mark.parametrize("dt", [1.0, 0.7])
def test_gradients_are_those_of_the_plain_formulas(kind, learn_tau, detach, dt):
    neuron = _make(kind, learn_tau, detach).double()
    neuron.dt = dt
    v, current = _inputs(torch.float64, 1, requires_grad=True)
    g = torch.Generator().manual_seed(5)
    w_dv, w_s = (
        torch.randn(SHAPE, generator=g, dtype=torch.float64),
        torch.randn(SHAPE, generator=g, dtype=torch.float64),
    )
    leaves = [v, current] + ([neuron.log_tau] if learn_tau else [])

    def grads(fn):
        dv, spike = fn()
        return torch.autograd.grad((w_dv * dv + w_s * spike).sum(), leaves)

    got = grads(lambda: neuron(v, current))
    want = grads(lambda: _reference(_ref_kind(kind), neuron, v, current, dt))
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)
    assert got[0].abs().sum() > 0


def test_second_derivative_is_the_surrogates_derivative():
    """create_graph: d2 s / d current2 = h'(u - theta) with u = current (tau = dt = 1)."""
    neuron = LIFNeuron(tau=1.0, threshold=1.0).double()
    current = torch.linspace(0.2, 1.8, 9, dtype=torch.float64, requires_grad=True)
    _, spike = neuron(torch.zeros(9, dtype=torch.float64), current)
    (first,) = torch.autograd.grad(spike.sum(), current, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), current)
    z = torch.sigmoid(4.0 * (current.detach() - 1.0))
    torch.testing.assert_close(first.detach(), 4.0 * z * (1 - z))
    torch.testing.assert_close(second, 16.0 * z * (1 - z) * (1 - 2 * z))


def test_constants_follow_dt_threshold_tau_v_reset_and_dtype():
    neuron = HardResetLIFNeuron(tau=2.0, threshold=1.0, v_reset=0.0)
    v, current = _inputs(torch.float32)
    for dt, threshold, tau, v_reset, dtype in [
        (1.0, 1.0, 2.0, 0.0, torch.float32),
        (0.5, 1.0, 2.0, 0.0, torch.float32),
        (0.5, 0.4, 2.0, 0.0, torch.float32),
        (0.5, 0.4, 1.5, 0.0, torch.float32),
        (0.5, 0.4, 1.5, -0.3, torch.float32),
        (0.5, 0.4, 1.5, -0.3, torch.float64),
        (1.0, 1.0, 2.0, 0.0, torch.float32),
    ]:
        neuron.dt, neuron.threshold, neuron._tau_value, neuron.v_reset = (
            dt,
            threshold,
            tau,
            v_reset,
        )
        vv, cc = v.to(dtype), current.to(dtype)
        with torch.no_grad():
            dv, spike = neuron(vv, cc)
            ref_dv, ref_spike = _reference("hard", neuron, vv, cc, dt)
        assert dv.dtype == dtype
        assert torch.equal(spike, ref_spike) and torch.equal(dv, ref_dv)


def test_plain_path_for_tensor_dt_half_precision_and_mixed_dtypes():
    neuron = LIFNeuron(tau=3.0, threshold=0.3)
    v, current = _inputs(torch.float64)
    neuron.dt = torch.tensor(0.7, dtype=torch.float64)
    with torch.no_grad():
        dv, spike = neuron(v, current)
        ref = _reference("lif", neuron, v, current, neuron.dt)
    assert torch.equal(spike, ref[1]) and torch.equal(dv, ref[0])
    neuron.dt = 0.7
    for v_, c_ in [(v.bfloat16(), current.bfloat16()), (v.float(), current)]:
        with torch.no_grad():
            dv, spike = neuron(v_, c_)
            ref = _reference("lif", neuron, v_, c_, 0.7)
        assert dv.dtype == ref[0].dtype
        assert torch.equal(spike, ref[1]) and torch.equal(dv, ref[0])


def test_surrogates_with_their_own_forward_are_called_as_modules():
    class Shifted(SigmoidSurrogate):
        def spike_forward(self, x):
            return (x >= 0.25).to(x.dtype)

    neuron = IFNeuron(threshold=1.0, surrogate=Shifted())
    _, spike = neuron(torch.zeros(3), torch.tensor([1.1, 1.2, 1.3]))
    assert spike.tolist() == [0.0, 0.0, 1.0]
    noisy = IFNeuron(threshold=1.0, surrogate=NoisyThresholdSurrogate(0.05))
    torch.manual_seed(0)  # noise std about 8: spikes far below threshold
    _, spike = noisy(torch.zeros(2000), torch.full((2000,), -5.0))
    assert 0 < spike.sum() < 2000
    calls = []
    plain = LIFNeuron()
    plain.surrogate.register_forward_hook(lambda *args: calls.append(1))
    plain(torch.zeros(2), torch.ones(2))
    assert calls == [1]


def test_step_under_vmap_matches_the_loop():
    neuron = LIFNeuron(tau=2.0, threshold=0.5)
    neuron.dt = 0.5
    v = torch.rand(4, *SHAPE)
    current = 2.0 * torch.rand(4, *SHAPE)
    dv, spike = torch.func.vmap(neuron.step)(v, current)
    for b in range(4):
        ref_dv, ref_spike = neuron.step(v[b], current[b])
        assert torch.equal(spike[b], ref_spike) and torch.equal(dv[b], ref_dv)


def test_constants_cached_under_inference_mode_still_serve_training():
    neuron = LIFNeuron(tau=2.0, threshold=0.5)
    with torch.inference_mode():
        neuron(torch.rand(5), torch.rand(5))
    current = torch.linspace(0.4, 0.6, 5, requires_grad=True)
    _, spike = neuron(torch.zeros(5), current)
    (grad,) = torch.autograd.grad(spike.sum(), current)
    z = torch.sigmoid(4.0 * (current.detach() / 2.0 - 0.5))
    torch.testing.assert_close(grad, 4.0 * z * (1 - z) / 2.0)
