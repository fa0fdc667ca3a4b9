"""Measured convergence orders (log-log fits over halving steps) against exact solutions.

Error measured: absolute error at the final time T = 1. All alphas are solved at once as
one state with per-element orders alpha = [0.3, 0.5, 0.7, 0.9, 1.0].
"""

import math

import pytest
import torch

from spikede_solvers import fdeint, mittag_leffler, odeint

F64 = torch.float64
ALPHAS = torch.tensor([0.3, 0.5, 0.7, 0.9, 1.0], dtype=F64)
LAM = 1.0


def fitted_orders(errors: list[torch.Tensor], ns: list[int]) -> torch.Tensor:
    """Least-squares slope of log(error) against log(h) per component."""
    e = torch.log(torch.stack(errors))  # [len(ns), C]
    lh = -torch.log(torch.tensor(ns, dtype=F64))
    lh = lh - lh.mean()
    return (lh[:, None] * (e - e.mean(0))).sum(0) / (lh * lh).sum()


def solve_errors(method, func, exact, ns, y0=1.0):
    errs = []
    for n in ns:
        t = torch.linspace(0.0, 1.0, n + 1, dtype=F64)
        y = fdeint(func, torch.full((5,), y0, dtype=F64), t, ALPHAS, method)
        errs.append((y[-1] - exact).abs())
    return errs


# Documented orders (see README): relaxation D^a y = -y, y(0) = 1, exact E_a(-t^a).
RELAXATION_ORDERS = {
    "gl": torch.ones(5, dtype=F64),
    "pred": torch.ones(5, dtype=F64),
    "l1": torch.ones(5, dtype=F64),
    "trap": 1.0 + ALPHAS,
    "glmulti": torch.ones(5, dtype=F64),
}


@pytest.mark.parametrize("method", sorted(RELAXATION_ORDERS))
def test_relaxation_orders(method):
    exact = torch.stack([mittag_leffler(float(a), -LAM) for a in ALPHAS])
    ns = [80, 160, 320, 640]
    errs = solve_errors(method, lambda t, y: -LAM * y, exact, ns)
    assert float(errs[-1].max()) < 5e-3  # converges to the right solution
    order = fitted_orders(errs, ns)
    assert torch.allclose(order, RELAXATION_ORDERS[method], atol=0.15), order


def _smooth_field(t, y):
    a = ALPHAS
    forcing = 6.0 * t ** (3.0 - a) / torch.exp(torch.lgamma(4.0 - a)) + LAM * (1.0 + t**3)
    return -LAM * y + forcing


SMOOTH_ORDERS = {
    "gl": torch.ones(5, dtype=F64),
    "pred": torch.ones(5, dtype=F64),
    "l1": 2.0 - ALPHAS,
    "trap": torch.full((5,), 2.0, dtype=F64),
}


@pytest.mark.parametrize("method", sorted(SMOOTH_ORDERS))
def test_smooth_manufactured_orders(method):
    # y = 1 + t^3 solves D^a y = -y + 6 t^(3-a)/Gamma(4-a) + (1 + t^3).
    ns = [320, 640, 1280, 2560] if method == "l1" else [160, 320, 640, 1280]
    errs = solve_errors(method, _smooth_field, torch.full((5,), 2.0, dtype=F64), ns)
    order = fitted_orders(errs, ns)
    assert torch.allclose(order, SMOOTH_ORDERS[method], atol=0.15), order


def forced_exact(a: float, t: float = 1.0) -> float:
    """D^a y = -y + sin t, y(0) = 0: y = sum_{k,m} (-1)^{k+m} t^p / Gamma(p + 1), p = a(k+1) + 2m + 1."""
    k = torch.arange(0, 400, dtype=F64)[:, None]
    m = torch.arange(0, 40, dtype=F64)[None, :]
    p = a * (k + 1) + 2 * m + 1
    return float(((-1.0) ** (k + m) * torch.exp(p * math.log(t) - torch.lgamma(p + 1))).sum())


def test_forced_series_reference_is_right_at_alpha_one():
    assert abs(forced_exact(1.0) - (math.sin(1) - math.cos(1) + math.exp(-1)) / 2) < 1e-14


# The forced zero-initial-value solution behaves like t^(1+a): the smooth orders hold.
@pytest.mark.parametrize("method", sorted(SMOOTH_ORDERS))
def test_forced_zero_initial_value_orders(method):
    exact = torch.tensor([forced_exact(float(a)) for a in ALPHAS], dtype=F64)
    ns = [320, 640, 1280, 2560] if method == "l1" else [160, 320, 640, 1280]
    errs = solve_errors(method, lambda t, y: -y + torch.sin(t), exact, ns, y0=0.0)
    assert float(errs[-1].max()) < 2e-3
    order = fitted_orders(errs, ns)
    assert torch.allclose(order, SMOOTH_ORDERS[method], atol=0.15), order


def test_nonlinear_forced_problem_methods_agree():
    # D^a y = -y^3 + cos t, y(0) = 0.5; reference: trap on a fine grid.
    def field(t, y):
        return -(y**3) + torch.cos(t)

    fine = torch.linspace(0.0, 2.0, 4097, dtype=F64)
    ref = fdeint(field, torch.full((5,), 0.5, dtype=F64), fine, ALPHAS, "trap")[-1]
    previous = None
    for n in (64, 256, 1024):
        t = torch.linspace(0.0, 2.0, n + 1, dtype=F64)
        finals = torch.stack(
            [
                fdeint(field, torch.full((5,), 0.5, dtype=F64), t, ALPHAS, m)[-1]
                for m in ("gl", "pred", "l1", "trap")
            ]
        )
        spread = float((finals - ref).abs().max())
        if previous is not None:
            assert spread < previous / 3.0  # at least first order in h (factor 4 per step)
        previous = spread
    assert previous < 5e-3


@pytest.mark.parametrize("method, order", [("euler", 1.0), ("midpoint", 2.0), ("rk4", 4.0)])
def test_odeint_orders(method, order):
    ns = [10, 20, 40, 80]
    errs = []
    for n in ns:
        t = torch.linspace(0.0, 1.0, n + 1, dtype=F64)
        y = odeint(lambda t, y: -y, torch.ones(1, dtype=F64), t, method)
        errs.append((y[-1] - math.exp(-1.0)).abs())
    assert abs(float(fitted_orders(errs, ns)[0]) - order) < 0.15


def test_odeint_nonuniform_grid_time_dependent_field():
    # y' = cos t, y(0) = 0 on a non-uniform grid: y = sin t.
    t = torch.linspace(0.0, 1.0, 41, dtype=F64) ** 2
    y = odeint(
        lambda t, y: torch.cos(t) * torch.ones_like(y),
        torch.zeros(1, dtype=F64),
        t,
        "rk4",
    )
    assert torch.allclose(y[:, 0], torch.sin(t), atol=1e-7)


def test_short_memory_error_decreases_with_memory():
    t = torch.linspace(0.0, 1.0, 201, dtype=F64)
    exact = mittag_leffler(0.5, -1.0)
    full = fdeint(lambda t, y: -y, torch.ones(1, dtype=F64), t, 0.5, "gl")[-1, 0]
    errs = [
        abs(
            float(
                fdeint(lambda t, y: -y, torch.ones(1, dtype=F64), t, 0.5, "gl", memory=m)[-1, 0]
                - exact
            )
        )
        for m in (10, 50, 150)
    ]
    assert errs[0] > errs[1] > errs[2] > abs(float(full - exact)) * 0.999
