"""float32 loses only rounding: the weights are computed in float64 without cancellation.

Oracles: the weight formulas in 50-digit decimal arithmetic, and the float64 solve (a
float32 solve of the same problem must agree with it to rounding level).
"""

from decimal import Decimal, getcontext

import pytest
import torch

from spikede_solvers import fdeint
from spikede_solvers._weights import pow_diff, trap_moments, trap_series

F64 = torch.float64


def _decimal_weights(lo: float, step: float, a: float) -> tuple[float, float, float]:
    """``(lo + step)^a - lo^a`` and the two trapezoidal moments, to 50 digits."""
    getcontext().prec = 50
    b, tau, p = Decimal(lo), Decimal(step), Decimal(a)
    big = b + tau
    d0 = big**p - b**p
    d1 = big ** (p + 1) - b ** (p + 1)
    left = (p * d1 - (p + 1) * b * d0) / tau
    right = ((p + 1) * big * d0 - p * d1) / tau
    return float(d0), float(left), float(right)


@pytest.mark.parametrize("a", [0.05, 0.3, 0.7, 1.0])
def test_weights_match_50_digit_arithmetic_far_into_the_history(a):
    # Lags up to 1e8 steps and steps from 1e-6 to 2: the direct formulas cancel almost
    # every digit there (trap's second difference at k = 1e4 is 0.0 in float32).
    lo = torch.tensor([1e-9, 1e-3, 0.5, 1.0, 31.0, 32.0, 33.0, 1e3, 1e4, 1e6, 1e8], dtype=F64)
    order = torch.tensor(a, dtype=F64)
    for step in (1e-6, 1e-3, 1.0, 2.0):
        tau = torch.tensor(step, dtype=F64)
        diff = pow_diff(lo, tau, order)
        left, right = trap_moments(lo, tau, order, trap_series(order))
        for i, b in enumerate(lo.tolist()):
            want = _decimal_weights(b, step, a)
            for got, ref in zip((diff[i], left[i], right[i]), want):
                assert abs(float(got) - ref) <= 1e-12 * abs(ref), (b, step, float(got), ref)


def test_pow_diff_at_zero_and_order_one():
    tau = torch.tensor(0.25, dtype=F64)
    at_zero = pow_diff(torch.tensor(0.0, dtype=F64), tau, torch.tensor(0.6, dtype=F64))
    assert float(at_zero) == pytest.approx(0.25**0.6, rel=1e-15)
    # p = 0 (l1 at alpha = 1): every difference is 0.
    assert float(pow_diff(torch.tensor(3.0, dtype=F64), tau, torch.tensor(0.0, dtype=F64))) == 0.0


CASES = {
    "gl": (0.9, None),
    "l1": (0.9, None),
    "trap": (0.9, None),
    "pred": (0.9, None),
    "glmulti": ([0.9, 0.5], [1.0, 0.5]),
}


@pytest.mark.parametrize("history", ["full", "soe"])
@pytest.mark.parametrize("method", sorted(CASES))
def test_float32_agrees_with_float64_over_20000_steps(method, history):
    # D^a y = -y, y(0) = 1 on [0, 10] with N = 20000. Before the weights were computed in
    # float64, float32 trap was off by 1.1e-2 (its weights cancel), soe trap by 0.43 and
    # soe pred by 4.6e-5 (rounded exponential decays compounding over the lags).
    alpha, coefficients = CASES[method]
    y = {}
    for dtype in (torch.float32, torch.float64):
        t = torch.linspace(0.0, 10.0, 20001, dtype=dtype)
        y[dtype] = fdeint(
            lambda t, y: -y,
            torch.ones(1, dtype=dtype),
            t,
            alpha,
            method,
            coefficients=coefficients,
            options={"history": history},
        )
    assert y[torch.float32].dtype == torch.float32
    scale = float(y[F64].abs().max())
    error = float((y[torch.float32].double() - y[F64]).abs().max()) / scale
    # Grünwald-Letnikov-type updates subtract a history sum of size ~|y| from itself
    # each step, so their float32 rounding grows like eps h^-a; the product-integration
    # methods stay near 1e-6.
    assert error < (2e-5 if method in ("gl", "glmulti") else 5e-6), error
