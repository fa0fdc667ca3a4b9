"""Neuron dynamics against hand-written discrete-time loops, gradients and argument checks."""

from __future__ import annotations

import math

import pytest
import torch

from spikede._neurons import HardResetLIFNeuron, IFNeuron, LIFNeuron, NoisyLIFNeuron
from spikede._surrogate import ArctanSurrogate, SigmoidSurrogate, TriangleSurrogate
from spikede_fx import BaseNeuron

T, SHAPE = 60, (4, 7)


def _currents(seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((T, *SHAPE), generator=g, dtype=torch.float64) * 3.0 - 0.5).to(dtype)


def _euler(neuron, currents, dt):
    """Repeated v <- v + dt * dv_dt with the neuron's vector field."""
    neuron.dt = dt
    v = torch.zeros_like(currents[0])
    spikes, potentials = [], []
    for current in currents:
        dv, s = neuron(v, current)
        v = v + dt * dv
        spikes.append(s)
        potentials.append(v)
    return torch.stack(spikes), torch.stack(potentials)


def _lif_loop(currents, tau, threshold, dt, hard_reset=None):
    """The textbook discrete LIF: charge with decay dt/tau, fire, reset."""
    v = torch.zeros_like(currents[0])
    spikes, potentials = [], []
    for current in currents:
        u = v + dt / tau * (current - v)
        s = (u >= threshold).to(u.dtype)
        v = u - threshold * s if hard_reset is None else u * (1 - s) + hard_reset * s
        spikes.append(s)
        potentials.append(v)
    return torch.stack(spikes), torch.stack(potentials)


def _if_loop(currents, threshold, dt):
    v = torch.zeros_like(currents[0])
    spikes, potentials = [], []
    for current in currents:
        u = v + dt * current
        s = (u >= threshold).to(u.dtype)
        v = u - threshold * s
        spikes.append(s)
        potentials.append(v)
    return torch.stack(spikes), torch.stack(potentials)


@pytest.mark.parametrize("dt", [1.0, 0.5])
@pytest.mark.parametrize("tau", [2.0, 3.5])
def test_lif_euler_equals_discrete_loop(dt, tau):
    currents = _currents()
    spikes, potentials = _euler(LIFNeuron(tau=tau, threshold=1.0), currents, dt)
    ref_spikes, ref_potentials = _lif_loop(currents, tau, 1.0, dt)
    assert ref_spikes.sum() > 50  # the comparison exercises many spikes and resets
    assert torch.equal(spikes, ref_spikes)
    torch.testing.assert_close(potentials, ref_potentials, rtol=0, atol=1e-12)


def test_lif_one_argument_call_is_the_discrete_neuron():
    currents = _currents(1)
    neuron = LIFNeuron(tau=2.0, threshold=0.8)
    ref_spikes, _ = _lif_loop(currents, 2.0, 0.8, 1.0)
    spikes = torch.stack([neuron(c) for c in currents])
    assert torch.equal(spikes, ref_spikes)
    neuron.reset_state()
    assert torch.equal(torch.stack([neuron(c) for c in currents]), ref_spikes)


@pytest.mark.parametrize("dt", [1.0, 0.5])
def test_if_euler_equals_discrete_loop(dt):
    currents = _currents(2) * 0.6
    spikes, potentials = _euler(IFNeuron(threshold=1.2), currents, dt)
    ref_spikes, ref_potentials = _if_loop(currents, 1.2, dt)
    assert ref_spikes.sum() > 50
    assert torch.equal(spikes, ref_spikes)
    torch.testing.assert_close(potentials, ref_potentials, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dt", [1.0, 0.5])
@pytest.mark.parametrize("v_reset", [0.0, -0.3])
def test_hard_reset_euler_equals_discrete_loop(dt, v_reset):
    currents = _currents(3)
    neuron = HardResetLIFNeuron(tau=2.0, threshold=1.0, v_reset=v_reset)
    spikes, potentials = _euler(neuron, currents, dt)
    ref_spikes, ref_potentials = _lif_loop(currents, 2.0, 1.0, dt, hard_reset=v_reset)
    assert ref_spikes.sum() > 50
    assert torch.equal(spikes, ref_spikes)
    torch.testing.assert_close(potentials, ref_potentials, rtol=0, atol=1e-12)
    # After a spike the potential is exactly v_reset.
    assert torch.allclose(potentials[spikes.bool()], torch.tensor(v_reset, dtype=torch.float64))


def test_noisy_lif_eval_equals_lif_and_training_adds_current_noise():
    currents = _currents(4)
    noisy = NoisyLIFNeuron(tau=2.0, threshold=1.0, noise_std=0.3).eval()
    assert torch.equal(_euler(noisy, currents, 1.0)[0], _lif_loop(currents, 2.0, 1.0, 1.0)[0])
    noisy.train()
    torch.manual_seed(0)
    v = torch.zeros(200_000, dtype=torch.float64)
    current = torch.zeros_like(v)  # u stays far below threshold: no spikes
    dv, s = noisy(v, current)
    assert s.sum() == 0
    noise = dv * 2.0  # dv = (I + noise - v) / tau
    assert abs(noise.mean().item()) < 5 * 0.3 / math.sqrt(v.numel())
    assert noise.std().item() == pytest.approx(0.3, rel=0.01)
    assert NoisyLIFNeuron(noise_std=0.0).train()(v, current)[0].abs().max() == 0


def test_surrogate_gradient_through_the_neuron():
    # ds/dI = h(u - theta) * dt / tau and d(dv)/dI = 1/tau - theta/dt * ds/dI.
    tau, theta, dt, k = 2.0, 1.0, 0.5, 1.5
    neuron = LIFNeuron(tau=tau, threshold=theta, surrogate=ArctanSurrogate(k))
    neuron.dt = dt
    v = torch.tensor([0.2, 0.9, 1.1], dtype=torch.float64)
    current = torch.tensor([1.0, 0.5, 2.5], dtype=torch.float64, requires_grad=True)
    dv, s = neuron(v, current)
    u = v + dt * (current.detach() - v) / tau
    h = k / (1 + (math.pi * k * (u - theta)) ** 2)
    (ds,) = torch.autograd.grad(s.sum(), current, retain_graph=True)
    torch.testing.assert_close(ds, h * dt / tau)
    (ddv,) = torch.autograd.grad(dv.sum(), current)
    torch.testing.assert_close(ddv, 1 / tau - theta / dt * h * dt / tau)
    detached = LIFNeuron(tau=tau, threshold=theta, surrogate=ArctanSurrogate(k), detach_reset=True)
    detached.dt = dt
    dv, s = detached(v, current)
    (ddv,) = torch.autograd.grad(dv.sum(), current)
    torch.testing.assert_close(ddv, torch.full_like(ddv, 1 / tau))


@pytest.mark.parametrize("cls", [LIFNeuron, HardResetLIFNeuron, NoisyLIFNeuron])
def test_learnable_tau_is_positive_and_gets_exact_gradients(cls):
    neuron = cls(tau=2.0, surrogate="triangle", sharpness=4.0, learn_tau=True).double().eval()
    assert [name for name, _ in neuron.named_parameters()] == ["log_tau"]
    assert neuron.tau.item() == pytest.approx(2.0)
    neuron.dt = 0.5
    # Potentials away from the triangle's window (|u - 1| >= 1/4) make the forward smooth,
    # so finite differences check the whole backward, tau included.
    v = torch.tensor([0.1, 0.3, -0.2, 0.5], dtype=torch.float64, requires_grad=True)
    current = torch.tensor([0.0, 1.0, 2.0, 6.0], dtype=torch.float64, requires_grad=True)

    with torch.no_grad():
        u = v + 0.5 * (current - v) / 2.0
    assert ((u - 1.0).abs() > 0.25).all() and (u > 1.25).any()

    def dv_of(v, current, log_tau):
        return torch.func.functional_call(neuron, {"log_tau": log_tau}, (v, current))[0]

    log_tau = torch.tensor(math.log(2.0), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(dv_of, (v, current, log_tau))
    # A training step that pushes tau hard keeps it positive.
    optimizer = torch.optim.SGD(neuron.parameters(), lr=100.0)
    dv, _ = neuron(v.detach(), current.detach())
    dv.sum().backward()
    assert torch.isfinite(neuron.log_tau.grad) and neuron.log_tau.grad != 0
    optimizer.step()
    assert neuron.tau.item() > 0


@pytest.mark.parametrize("cls", [IFNeuron, LIFNeuron, HardResetLIFNeuron, NoisyLIFNeuron])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_states_and_spikes_keep_dtype(cls, dtype):
    neuron = cls()
    v = torch.zeros(3, 5, dtype=dtype)
    current = torch.full((3, 5), 2.5, dtype=dtype)
    dv, s = neuron(v, current)
    assert dv.dtype == dtype and s.dtype == dtype
    assert s.sum() == 15
    assert neuron(current).dtype == dtype


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_learnable_tau_follows_input_dtype(dtype):
    neuron = LIFNeuron(learn_tau=True)  # float32 parameter
    dv, s = neuron(torch.zeros(2, dtype=dtype), torch.ones(2, dtype=dtype))
    assert dv.dtype == dtype and s.dtype == dtype
    assert neuron.double().log_tau.dtype == torch.float64


def test_state_dict_and_structure():
    assert isinstance(LIFNeuron(), BaseNeuron)
    assert list(LIFNeuron().state_dict()) == []
    assert list(LIFNeuron(learn_tau=True).state_dict()) == ["log_tau"]
    assert isinstance(LIFNeuron(surrogate="arctan", sharpness=3.0).surrogate, ArctanSurrogate)
    assert LIFNeuron(surrogate="arctan", sharpness=3.0).surrogate.sharpness == 3.0
    assert isinstance(IFNeuron().surrogate, SigmoidSurrogate)
    shared = TriangleSurrogate(2.0)
    assert HardResetLIFNeuron(surrogate=shared).surrogate is shared
    assert "tau=2" in repr(LIFNeuron()) and "v_reset=-0.1" in repr(HardResetLIFNeuron(v_reset=-0.1))
    with pytest.raises(AttributeError):
        _ = IFNeuron().tau


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: LIFNeuron(tau=0.0), ValueError, "tau"),
        (lambda: LIFNeuron(tau=-2.0), ValueError, "tau"),
        (lambda: LIFNeuron(tau=float("nan")), ValueError, "tau"),
        (lambda: LIFNeuron(tau="2"), TypeError, "tau"),
        (lambda: LIFNeuron(threshold=0.0), ValueError, "threshold"),
        (lambda: IFNeuron(threshold=True), TypeError, "threshold"),
        (lambda: LIFNeuron(surrogate="relu"), ValueError, "unknown surrogate 'relu'"),
        (lambda: LIFNeuron(sharpness=-1.0), ValueError, "sharpness"),
        (lambda: LIFNeuron(surrogate=SigmoidSurrogate(), sharpness=2.0), ValueError, "sharpness"),
        (lambda: LIFNeuron(learn_tau=1), TypeError, "learn_tau"),
        (lambda: IFNeuron(detach_reset="no"), TypeError, "detach_reset"),
        (lambda: HardResetLIFNeuron(v_reset=1.0), ValueError, "v_reset"),
        (lambda: HardResetLIFNeuron(v_reset=None), TypeError, "v_reset"),
        (lambda: NoisyLIFNeuron(noise_std=-0.1), ValueError, "noise_std"),
        (lambda: NoisyLIFNeuron(noise_std="x"), TypeError, "noise_std"),
    ],
)
def test_constructor_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()
