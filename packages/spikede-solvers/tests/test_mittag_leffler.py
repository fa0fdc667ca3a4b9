"""mittag_leffler against closed forms (exp, erfcx), a high-precision series and the
large-argument asymptotic expansion."""

import math

import mpmath
import pytest
import torch
from scipy.special import erfcx

from spikede_solvers import mittag_leffler

F64 = torch.float64


def test_alpha_one_is_exp():
    x = torch.linspace(0.0, 60.0, 601, dtype=F64)
    got = mittag_leffler(1.0, -x)
    assert torch.allclose(got, torch.exp(-x), rtol=0, atol=1e-15)


def test_alpha_half_is_erfcx():
    x = torch.linspace(0.0, 50.0, 401, dtype=F64)
    got = mittag_leffler(0.5, -x)
    ref = torch.from_numpy(erfcx(x.numpy()))
    assert float((got - ref).abs().max()) < 1e-12


def _series_ref(a: float, x: float) -> float:
    mpmath.mp.dps = 40
    a_, x_ = mpmath.mpf(a), mpmath.mpf(x)
    total, k = mpmath.mpf(0), 0
    while True:
        term = (-x_) ** k * mpmath.rgamma(a_ * k + 1)
        total += term
        k += 1
        if k > 20 and abs(term) < mpmath.mpf(10) ** -30:
            return float(total)


def _asymptotic_ref(a: float, x: float, terms: int = 12) -> float:
    mpmath.mp.dps = 40
    a_, x_ = mpmath.mpf(a), mpmath.mpf(x)
    return float(-sum((-x_) ** (-k) * mpmath.rgamma(1 - a_ * k) for k in range(1, terms + 1)))


@pytest.mark.parametrize("a", [0.1, 0.3, 0.7, 0.9])
def test_small_arguments_match_high_precision_series(a):
    xs = [0.0, 0.1, 0.49, 0.5, 0.51, 0.8, 1.0] + ([1.5, 2.0] if a >= 0.3 else [])
    got = mittag_leffler(a, -torch.tensor(xs, dtype=F64))
    for g, x in zip(got.tolist(), xs):
        assert abs(g - _series_ref(a, x)) < 1e-12, (a, x)


@pytest.mark.parametrize("a", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_large_arguments_match_asymptotic_expansion(a):
    xs = [30.0, 40.0, 50.0]
    got = mittag_leffler(a, -torch.tensor(xs, dtype=F64))
    for g, x in zip(got.tolist(), xs):
        assert abs(g - _asymptotic_ref(a, x)) < 1e-11, (a, x)


@pytest.mark.parametrize("a", [0.2, 0.95])
def test_intermediate_arguments_match_mpmath_quadrature(a):
    # mpmath's adaptive tanh-sinh quadrature of the integral representation in s.
    mpmath.mp.dps = 25
    xs = [3.0, 7.0, 15.0]
    got = mittag_leffler(a, -torch.tensor(xs, dtype=F64))
    a_ = mpmath.mpf(a)
    c = mpmath.cos(a_ * mpmath.pi)
    for g, x in zip(got.tolist(), xs):
        x_ = mpmath.mpf(x)

        def f(s, x_=x_):
            return mpmath.exp(-((s * x_) ** (1 / a_))) / (s * s + 2 * s * c + 1)

        ref = (
            mpmath.sin(a_ * mpmath.pi)
            / (a_ * mpmath.pi)
            * mpmath.quad(f, [0, -c if c < 0 else 0.5, 1, 1 / x_ * 10, mpmath.inf])
        )
        assert abs(g - float(ref)) < 1e-11, (a, x)


def test_shape_dtype_and_float_input():
    z = -torch.rand(3, 4, dtype=torch.float32) * 5
    out = mittag_leffler(0.6, z)
    assert out.shape == (3, 4) and out.dtype == torch.float32
    s = mittag_leffler(torch.tensor(0.5), -1.0)
    assert s.dtype == F64 and s.dim() == 0
    assert abs(float(s) - math.exp(1.0) * math.erfc(1.0)) < 1e-13


def test_monotone_decreasing_and_bounded():
    x = torch.linspace(0.0, 50.0, 401, dtype=F64)
    for a in (0.15, 0.45, 0.85, 0.99):
        e = mittag_leffler(a, -x)
        assert float(e[0]) == 1.0
        assert bool((e[1:] < e[:-1]).all()) and bool((e > 0).all())


@pytest.mark.parametrize(
    "alpha, z, exc",
    [
        (0.0, -1.0, ValueError),
        (1.5, -1.0, ValueError),
        (0.5, 1.0, ValueError),
        (0.5, float("nan"), ValueError),
        ("a", -1.0, TypeError),
        (0.5, "z", TypeError),
        (0.5, torch.tensor([-1, -2]), TypeError),
    ],
)
def test_bad_input(alpha, z, exc):
    with pytest.raises(exc, match="alpha|z"):
        mittag_leffler(alpha, z)
