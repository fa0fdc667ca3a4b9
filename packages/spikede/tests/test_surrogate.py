"""Surrogate spike functions: Heaviside forward, documented pseudo-derivative backward."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from spikede._surrogate import (
    ArctanSurrogate,
    GaussianSurrogate,
    NoisyThresholdSurrogate,
    SigmoidSurrogate,
    Surrogate,
    TriangleSurrogate,
    get_surrogate,
    heaviside,
)


# Independent closed forms of h(x) for sharpness k, written with numpy/scipy.
def _sigmoid_h(x, k):
    z = special.expit(4 * k * x)
    return 4 * k * z * (1 - z)


def _arctan_h(x, k):
    return k / (1 + (np.pi * k * x) ** 2)


def _triangle_h(x, k):
    return k * np.maximum(0.0, 1 - k * np.abs(x))


def _gaussian_h(x, k):
    return stats.norm.pdf(x, scale=1 / (k * np.sqrt(2 * np.pi)))


CASES = [
    (SigmoidSurrogate, _sigmoid_h),
    (ArctanSurrogate, _arctan_h),
    (TriangleSurrogate, _triangle_h),
    (GaussianSurrogate, _gaussian_h),
    (NoisyThresholdSurrogate, _gaussian_h),
]
IDS = [c[0].__name__ for c in CASES]
SHARPNESS = [0.5, 1.0, 4.0]


def _grid() -> torch.Tensor:
    x = torch.linspace(-2.0, 2.0, 401, dtype=torch.float64)
    return torch.cat([x, torch.tensor([0.0, -1e-12, 1e-12], dtype=torch.float64)])


@pytest.mark.parametrize(("cls", "oracle"), CASES, ids=IDS)
@pytest.mark.parametrize("k", SHARPNESS)
def test_forward_is_heaviside_and_backward_is_closed_form(cls, oracle, k):
    surrogate = cls(k).eval()  # eval: the noisy threshold is deterministic
    x = _grid().requires_grad_(True)
    spikes = surrogate(x)
    expected = (x.detach().numpy() >= 0).astype(np.float64)
    np.testing.assert_array_equal(spikes.detach().numpy(), expected)
    assert spikes[-3].item() == 1.0  # x = 0 spikes
    (grad,) = torch.autograd.grad(spikes.sum(), x)
    np.testing.assert_allclose(grad.numpy(), oracle(x.detach().numpy(), k), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        surrogate.derivative(x.detach()).numpy(),
        oracle(x.detach().numpy(), k),
        rtol=1e-12,
        atol=1e-14,
    )


@pytest.mark.parametrize(("cls", "oracle"), CASES, ids=IDS)
@pytest.mark.parametrize("k", SHARPNESS)
def test_unit_area_and_peak_k(cls, oracle, k):
    surrogate = cls(k)

    def h(x: float) -> float:
        return surrogate.derivative(torch.tensor([x], dtype=torch.float64)).item()

    area = sum(
        integrate.quad(h, a, b, limit=200, epsabs=1e-12, epsrel=1e-12)[0]
        for a, b in [(-np.inf, -1.0 / k), (-1.0 / k, 0.0), (0.0, 1.0 / k), (1.0 / k, np.inf)]
    )
    assert area == pytest.approx(1.0, abs=1e-8)
    assert h(0.0) == pytest.approx(k, rel=1e-14)
    values = surrogate.derivative(_grid())
    assert values.max().item() == pytest.approx(k, rel=1e-14)
    assert (values >= 0).all()


@pytest.mark.parametrize(("cls", "oracle"), CASES, ids=IDS)
def test_primitive_is_the_antiderivative(cls, oracle):
    surrogate = cls(2.0)
    # Away from the triangle's kinks at 0 and +-1/k so that finite differences are exact.
    x = torch.tensor(
        [-1.3, -0.4, -0.1, 0.2, 0.3, 0.45, 1.1], dtype=torch.float64, requires_grad=True
    )
    assert torch.autograd.gradcheck(surrogate.primitive, (x,))
    (grad,) = torch.autograd.grad(surrogate.primitive(x).sum(), x)
    torch.testing.assert_close(grad, surrogate.derivative(x.detach()), rtol=1e-12, atol=1e-14)
    far = torch.tensor([-50.0, 50.0], dtype=torch.float64)
    torch.testing.assert_close(
        surrogate.primitive(far), torch.tensor([0.0, 1.0], dtype=torch.float64), atol=0.01, rtol=0
    )


@pytest.mark.parametrize(("cls", "oracle"), CASES[:2] + CASES[3:], ids=IDS[:2] + IDS[3:])
def test_backward_is_differentiable(cls, oracle):
    # The straight-through construction makes the backward an ordinary smooth expression.
    surrogate = cls(1.5).eval()
    x = torch.tensor([-0.7, -0.05, 0.1, 0.6], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(surrogate, (x,))


@pytest.mark.parametrize(("cls", "oracle"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_spikes_and_gradients_keep_dtype(cls, oracle, dtype):
    surrogate = cls(2.0)
    x = torch.tensor([-1.0, -0.1, 0.0, 0.3], dtype=dtype, requires_grad=True)
    spikes = surrogate(x)
    assert spikes.dtype == dtype
    spikes.sum().backward()
    assert x.grad.dtype == dtype
    if not isinstance(surrogate, NoisyThresholdSurrogate):
        assert spikes.tolist() == [0.0, 0.0, 1.0, 1.0]
    with torch.no_grad():
        assert surrogate(x).dtype == dtype


def test_heaviside_convention_at_zero():
    x = torch.tensor([-1e-30, 0.0, -0.0, 1e-30])
    assert heaviside(x).tolist() == [0.0, 1.0, 1.0, 1.0]


def test_noisy_threshold_spike_rate_is_gaussian_cdf():
    torch.manual_seed(0)
    k = 2.0
    surrogate = NoisyThresholdSurrogate(k)
    sigma = 1.0 / (k * math.sqrt(2 * math.pi))
    assert surrogate.noise_std == pytest.approx(sigma)
    n = 20000
    for offset in [-0.3, -0.1, 0.0, 0.15]:
        x = torch.full((n,), offset, dtype=torch.float64, requires_grad=True)
        spikes = surrogate(x)
        rate = spikes.mean().item()
        p = stats.norm.cdf(offset / sigma)
        assert abs(rate - p) < 5 * math.sqrt(p * (1 - p) / n) + 1e-3
        # The backward is the density of the expected spike, deterministic.
        (grad,) = torch.autograd.grad(spikes.sum(), x)
        np.testing.assert_allclose(grad.numpy(), stats.norm.pdf(offset, scale=sigma), rtol=1e-12)
    # Eval mode and stochastic=False are deterministic Heaviside.
    x = torch.linspace(-0.2, 0.2, 101, dtype=torch.float64)
    assert torch.equal(surrogate.eval()(x), heaviside(x))
    assert torch.equal(NoisyThresholdSurrogate(k, stochastic=False)(x), heaviside(x))


def test_get_surrogate_names_aliases_and_instances():
    assert isinstance(get_surrogate("sigmoid"), SigmoidSurrogate)
    assert isinstance(get_surrogate("ATAN"), ArctanSurrogate)
    assert isinstance(get_surrogate("piecewise_linear"), TriangleSurrogate)
    assert isinstance(get_surrogate("noisy_threshold"), NoisyThresholdSurrogate)
    assert get_surrogate("gaussian").sharpness == 1.0
    assert get_surrogate("gaussian", sharpness=3).sharpness == 3.0
    instance = TriangleSurrogate(5.0)
    assert get_surrogate(instance) is instance


def test_get_surrogate_errors():
    with pytest.raises(ValueError, match="unknown surrogate 'relu'.*sigmoid"):
        get_surrogate("relu")
    with pytest.raises(TypeError, match="surrogate must be a name"):
        get_surrogate(3)
    with pytest.raises(ValueError, match="sharpness=2.0 given together"):
        get_surrogate(SigmoidSurrogate(), sharpness=2.0)
    for bad in [0.0, -1.0, float("nan"), float("inf")]:
        with pytest.raises(ValueError, match="sharpness"):
            get_surrogate("sigmoid", sharpness=bad)
    for bad in [True, "2", None]:
        with pytest.raises(TypeError, match="sharpness"):
            SigmoidSurrogate(bad)
    with pytest.raises(TypeError, match="stochastic"):
        NoisyThresholdSurrogate(1.0, stochastic=1)


def test_custom_surrogate_subclass():
    class Box(Surrogate):
        def primitive(self, x):
            return (self.sharpness * x + 0.5).clamp(0.0, 1.0)

        def derivative(self, x):
            return self.sharpness * (x.abs() < 0.5 / self.sharpness).to(x.dtype)

    x = torch.tensor([-1.0, -0.1, 0.1, 1.0], dtype=torch.float64, requires_grad=True)
    spikes = Box(2.0)(x)
    (grad,) = torch.autograd.grad(spikes.sum(), x)
    assert spikes.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert grad.tolist() == [0.0, 2.0, 2.0, 0.0]
    assert get_surrogate(Box(2.0)).sharpness == 2.0


@pytest.mark.parametrize("name", ["sigmoid", "arctan", "triangle", "gaussian"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["float", "tensor", "learnable"])
def test_spike_above_equals_the_module_on_the_shifted_input(name, dtype, kind) -> None:
    """The neurons' fast path ``_spike_above(u, threshold)`` gives the spikes and the
    gradients (to ``u`` and to a learnable threshold) of ``surrogate(u - threshold)``,
    also after the threshold changes (its cached offset is renewed)."""
    from spikede._surrogate import get_surrogate

    surrogate = get_surrogate(name, 1.5)
    gen = torch.Generator().manual_seed(0)
    base = 2.0 * torch.rand(64, generator=gen, dtype=dtype)
    for value in (0.7, 1.2):
        threshold = {
            "float": value,
            "tensor": torch.tensor(value, dtype=dtype),
            "learnable": torch.tensor(value, dtype=dtype, requires_grad=True),
        }[kind]
        u1 = base.clone().requires_grad_()
        u2 = base.clone().requires_grad_()
        fast = surrogate._spike_above(u1, threshold)
        plain = surrogate(u2 - threshold)
        assert torch.equal(fast, plain)
        weights = torch.linspace(-1.0, 1.0, 64, dtype=dtype)
        inputs = (u1, threshold) if kind == "learnable" else (u1,)
        g_fast = torch.autograd.grad((fast * weights).sum(), inputs)
        inputs = (u2, threshold) if kind == "learnable" else (u2,)
        g_plain = torch.autograd.grad((plain * weights).sum(), inputs)
        tol = 1e-12 if dtype == torch.float64 else 1e-5
        for a, b in zip(g_fast, g_plain):
            torch.testing.assert_close(a, b, rtol=tol, atol=tol)
        assert float(g_fast[0].abs().sum()) > 0
