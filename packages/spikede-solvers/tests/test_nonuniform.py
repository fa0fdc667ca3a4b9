"""Non-uniform grids: ``l1``, ``trap`` and ``pred`` on any increasing grid, ``graded_grid``,
and the uniformity check of ``gl``/``glmulti``.

Oracles: plain scalar loops written from the product-integration formulas on the actual
steps (Python floats), the uniform methods (a uniform grid through the non-uniform code
must give the same solution), gradcheck in float64, and the exact Mittag-Leffler
solution for the convergence orders.
"""

import math

import pytest
import torch
from torch.autograd import gradcheck

import spikede_solvers._checks as checks
from spikede_solvers import fdeint, graded_grid, mittag_leffler, odeint, snn_solve

F64 = torch.float64
Y0, N = 0.7, 25
NONUNIFORM = ["l1", "pred", "trap"]


def f(t, y):
    return -y + 0.3 * math.sin(y) + math.cos(t)


def torch_f(t, y):
    return -y + 0.3 * torch.sin(y) + torch.cos(t)


def rough_grid(n=N, seed=0):
    """Steps drawn between 0.02 and 0.1: far from uniform."""
    g = torch.Generator().manual_seed(seed)
    steps = 0.02 + 0.08 * torch.rand(n, generator=g, dtype=F64)
    return torch.cat([torch.zeros(1, dtype=F64), torch.cumsum(steps, 0)])


def ref_pred(ts, a, memory=None):
    m = memory or 10**9
    ys, fs = [Y0], []
    for n in range(len(ts) - 1):
        fs.append(f(ts[n], ys[n]))
        end = ts[n + 1]
        s = sum(
            ((end - ts[j]) ** a - (end - ts[j + 1]) ** a) * fs[j]
            for j in range(max(0, n + 1 - m), n + 1)
        )
        ys.append(Y0 + s / math.gamma(a + 1))
    return ys


def _extrapolated(fs, ts, n):
    if n == 0:
        return fs[0]
    ratio = (ts[n + 1] - ts[n]) / (ts[n] - ts[n - 1])
    return fs[n] + ratio * (fs[n] - fs[n - 1])


def ref_l1(ts, a, memory=None):
    # Gamma(2-a)^-1 sum_k (y_k - y_{k-1}) / tau_k ((T - t_{k-1})^(1-a) - (T - t_k)^(1-a)) = f(T, y)
    m = memory or 10**9
    ys, fs = [Y0], []
    for n in range(len(ts) - 1):
        fs.append(f(ts[n], ys[n]))
        end, tau = ts[n + 1], ts[n + 1] - ts[n]
        hist = sum(
            ((end - ts[k - 1]) ** (1 - a) - (end - ts[k]) ** (1 - a))
            / (ts[k] - ts[k - 1])
            * (ys[k] - ys[k - 1])
            for k in range(max(1, n + 1 - m), n + 1)
        )
        y = ys[n] + tau**a * (math.gamma(2 - a) * _extrapolated(fs, ts, n) - hist)
        y = ys[n] + tau**a * (math.gamma(2 - a) * f(end, y) - hist)
        ys.append(y)
    return ys


def ref_trap(ts, a, memory=None):
    # Trapezoidal rule: f interpolated linearly on every interval, integrated exactly
    # against (T - s)^(a-1) / Gamma(a).
    m = memory or 10**9

    def moments(i, end):  # weights of the left and right node of [t_{i-1}, t_i]
        big, small, tau = end - ts[i - 1], end - ts[i], ts[i] - ts[i - 1]
        d0, d1 = big**a - small**a, big ** (a + 1) - small ** (a + 1)
        return (a * d1 - (a + 1) * small * d0) / tau, ((a + 1) * big * d0 - a * d1) / tau

    ys, fs = [Y0], []
    for n in range(len(ts) - 1):
        fs.append(f(ts[n], ys[n]))
        end = ts[n + 1]
        s = 0.0
        for j in range(max(0, n + 1 - m), n + 1):
            w = moments(j + 1, end)[0] + (moments(j, end)[1] if j >= 1 else 0.0)
            s += w * fs[j]
        power = (end - ts[n]) ** a
        y = Y0 + (s + power * _extrapolated(fs, ts, n)) / math.gamma(a + 2)
        y = Y0 + (s + power * f(end, y)) / math.gamma(a + 2)
        ys.append(y)
    return ys


REFS = {"pred": ref_pred, "l1": ref_l1, "trap": ref_trap}


@pytest.mark.parametrize("method", NONUNIFORM)
@pytest.mark.parametrize("memory", [None, 5])
@pytest.mark.parametrize("a", [0.4, 1.0])
def test_matches_hand_written_loop_on_a_rough_grid(method, memory, a):
    t = rough_grid()
    got = fdeint(torch_f, torch.tensor(Y0, dtype=F64), t, a, method, memory=memory)
    ref = torch.tensor(REFS[method](t.tolist(), a, memory), dtype=F64)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)
    # The grid really is non-uniform: the uniform scheme on the mean step differs.
    uniform = fdeint(
        torch_f, torch.tensor(Y0, dtype=F64), torch.linspace(0, t[-1], N + 1, dtype=F64), a, method
    )
    assert float((got - uniform).abs().max()) > 1e-3


def _force_mesh_path(monkeypatch):
    monkeypatch.setattr(checks, "_uniform_tolerance", lambda td, h: (-1.0, False))


@pytest.mark.parametrize("method", NONUNIFORM)
@pytest.mark.parametrize("memory", [None, 4])
def test_uniform_grid_through_the_mesh_path_equals_the_uniform_method(method, memory, monkeypatch):
    t = torch.linspace(0.0, 2.0, 31, dtype=F64)
    y0 = (torch.tensor([0.7, -0.2], dtype=F64), torch.tensor([[0.1, 0.4]], dtype=F64))
    alpha = [
        torch.tensor([0.35, 1.0], dtype=F64, requires_grad=True),
        torch.tensor(0.8, dtype=F64, requires_grad=True),
    ]

    def field(t, y):
        return tuple(torch_f(t, c) for c in y)

    def solve():
        out = fdeint(field, y0, t, alpha, method, memory=memory)
        grads = torch.autograd.grad(sum(o.sum() for o in out), alpha)
        return out, grads

    uniform, g_uniform = solve()
    _force_mesh_path(monkeypatch)
    mesh, g_mesh = solve()
    for u, m in zip(uniform, mesh):
        torch.testing.assert_close(m, u, rtol=1e-13, atol=1e-14)
    for u, m in zip(g_uniform, g_mesh):
        torch.testing.assert_close(m, u, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("method", NONUNIFORM)
@pytest.mark.parametrize("memory", [None, 3])
def test_gradcheck_on_a_rough_grid(method, memory):
    t = rough_grid(10, seed=1)
    y0 = torch.tensor([0.4, -0.3], dtype=F64, requires_grad=True)
    lam = torch.tensor(0.8, dtype=F64, requires_grad=True)
    alpha = torch.tensor(0.6, dtype=F64, requires_grad=True)

    def run(y0, lam, alpha):
        return fdeint(lambda t, y: -lam * y + torch.cos(t), y0, t, alpha, method, memory=memory)

    assert gradcheck(run, (y0, lam, alpha), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("method", NONUNIFORM)
def test_float32_on_a_graded_grid_is_close_to_float64(method):
    y = {}
    for dtype in (torch.float32, torch.float64):
        t = graded_grid(2.0, 400, 3.0, dtype=dtype)
        y[dtype] = fdeint(lambda t, y: -y, torch.ones(2, dtype=dtype), t, 0.5, method)
    assert y[torch.float32].dtype == torch.float32
    torch.testing.assert_close(y[torch.float32].double(), y[F64], rtol=0, atol=2e-6)


def test_snn_solve_takes_a_graded_grid_like_fdeint():
    t = graded_grid(1.0, 30, 2.0, dtype=F64)
    v0 = torch.tensor([0.2, 0.9], dtype=F64)
    sol = snn_solve(lambda t, y: (-y[0], y[0] * 2.0), (v0,), t, method="trap", alpha=0.6)
    ref = fdeint(lambda t, y: -y, v0, t, 0.6, "trap")
    torch.testing.assert_close(sol.states[0], ref, rtol=0, atol=1e-15)
    torch.testing.assert_close(sol.boundaries[0], 2.0 * ref, rtol=0, atol=1e-15)


# --- convergence on graded grids ----------------------------------------------------

GRADED_ALPHAS = [0.3, 0.5, 0.7, 0.9]
# Fitted log-log slopes of the maximum error over the grid, D^a y = -y, y(0) = 1 on
# [0, 1], N = 64 .. 512 (see the package README). Graded: r = (2 - a) / a.
MEASURED = {
    ("l1", "graded"): [1.61, 1.45, 1.24, 1.04],
    ("l1", "uniform"): [0.32, 0.48, 0.70, 0.93],
    ("trap", "graded"): [2.42, 2.07, 2.01, 1.99],
    ("trap", "uniform"): [0.74, 1.05, 1.39, 1.83],
    ("pred", "graded"): [1.05, 1.03, 1.01, 1.00],
    ("pred", "uniform"): [0.55, 0.97, 1.02, 1.00],
}


def fitted_order(errors, ns):
    e = torch.log(torch.tensor(errors, dtype=F64))
    lh = -torch.log(torch.tensor(ns, dtype=F64))
    lh = lh - lh.mean()
    return float((lh * (e - e.mean())).sum() / (lh * lh).sum())


def max_error_order(method, a, r, ns=(64, 128, 256, 512)):
    errors = []
    for n in ns:
        t = graded_grid(1.0, n, r, dtype=F64)
        y = fdeint(lambda t, y: -y, torch.ones(1, dtype=F64), t, a, method)[:, 0]
        errors.append(float((y - mittag_leffler(a, -(t**a))).abs().max()))
    return fitted_order(errors, list(ns)), errors[-1]


@pytest.mark.parametrize("method", NONUNIFORM)
def test_orders_on_graded_and_uniform_grids(method):
    for i, a in enumerate(GRADED_ALPHAS):
        graded, error = max_error_order(method, a, (2.0 - a) / a)
        uniform, _ = max_error_order(method, a, 1.0)
        assert error < 1e-3, (a, error)
        assert abs(graded - MEASURED[method, "graded"][i]) < 0.15, (a, graded)
        assert abs(uniform - MEASURED[method, "uniform"][i]) < 0.15, (a, uniform)
        if method == "l1":  # Stynes, O'Riordan & Gracia (2017): 2 - a graded, a uniform
            assert abs(graded - (2.0 - a)) < 0.15, (a, graded)
            assert abs(uniform - a) < 0.15, (a, uniform)


# --- the uniformity check ----------------------------------------------------------


def _steps_varying_32x_near_1000():
    # float32-exact steps 2^-13 and 2^-8, alternating, from t = 1000: the step varies by
    # 32x, but the deviation from the mean step (1.9e-3) is below 16 eps max|t| (1.9e-3).
    steps = torch.tensor([2.0**-13, 2.0**-8] * 10)
    return 1000.0 + torch.cat([torch.zeros(1), torch.cumsum(steps, 0)])


@pytest.mark.parametrize("method", ["gl", "glmulti"])
def test_uniform_only_methods_refuse_a_grid_varying_32x_far_from_zero(method):
    t = _steps_varying_32x_near_1000()
    assert t.dtype == torch.float32 and bool(((t[1:] - t[:-1]) > 0).all())
    with pytest.raises(ValueError, match="t must be uniformly spaced") as info:
        fdeint(lambda t, y: -y, torch.ones(1), t, 0.5, method)
    message = str(info.value)
    assert f"method {method!r}" in message
    assert "methods that accept a non-uniform grid: ['l1', 'pred', 'trap']" in message
    assert "float64" in message  # float32 at |t| = 1000 cannot hold steps this small


def test_methods_that_accept_the_32x_grid_use_its_steps():
    t = _steps_varying_32x_near_1000()
    for method in NONUNIFORM:
        y = fdeint(lambda t, y: -y, torch.ones(1), t, 0.5, method)
        shifted = fdeint(
            lambda t, y: -y, torch.ones(1, dtype=F64), (t - 1000.0).double(), 0.5, method
        )
        torch.testing.assert_close(y.double(), shifted, rtol=0, atol=1e-6)


def test_uniformity_tolerance_is_relative_to_the_step():
    t = torch.linspace(0.0, 1.0, 11, dtype=F64)
    nudged = t.clone()
    nudged[5] += 1e-5  # 1e-4 of the step: not uniform
    with pytest.raises(ValueError, match="uniformly spaced"):
        fdeint(lambda t, y: -y, torch.ones(1, dtype=F64), nudged, 0.5, "gl")
    nudged[5] = t[5] + 1e-8  # 1e-7 of the step: uniform
    fdeint(lambda t, y: -y, torch.ones(1, dtype=F64), nudged, 0.5, "gl")


@pytest.mark.parametrize("start", [0.0, 1000.0])
def test_float32_linspace_grids_stay_uniform(start):
    t = torch.linspace(start, start + 10.0, 1001)
    y = fdeint(lambda t, y: -y, torch.ones(1), t, 0.5, "gl")
    assert bool(torch.isfinite(y).all())


def test_soe_history_refuses_a_nonuniform_grid_and_memory_is_fine():
    t = rough_grid()
    with pytest.raises(ValueError, match=r"options\['history'\]='soe' needs a uniform grid"):
        fdeint(torch_f, torch.ones(1, dtype=F64), t, 0.5, "trap", options={"history": "soe"})
    y = fdeint(torch_f, torch.tensor(Y0, dtype=F64), t, 0.5, "pred", options={"memory": 4})
    torch.testing.assert_close(
        y, torch.tensor(ref_pred(t.tolist(), 0.5, 4), dtype=F64), rtol=0, atol=1e-12
    )


def test_odeint_is_unaffected_by_a_nonuniform_grid():
    t = rough_grid()
    y = odeint(lambda t, y: torch.cos(t) * torch.ones_like(y), torch.zeros(1, dtype=F64), t, "rk4")
    torch.testing.assert_close(y[:, 0], torch.sin(t), rtol=0, atol=1e-7)


# --- graded_grid -------------------------------------------------------------------


def test_graded_grid_values():
    t = graded_grid(3.0, 8, 2.5, t0=1.0, dtype=F64)
    j = torch.arange(9, dtype=F64)
    torch.testing.assert_close(t, 1.0 + 2.0 * (j / 8) ** 2.5, rtol=0, atol=1e-15)
    assert t[0].item() == 1.0 and t[-1].item() == 3.0
    assert graded_grid(1.0, 4, 1.0).dtype == torch.get_default_dtype()
    torch.testing.assert_close(
        graded_grid(2.0, 4, 1.0, dtype=F64), torch.linspace(0.0, 2.0, 5, dtype=F64)
    )


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"n": 0}, ValueError, "n must be an int >= 1"),
        ({"n": 2.5}, TypeError, "n must be an int >= 1"),
        ({"n": True}, TypeError, "n must be an int >= 1"),
        ({"r": 0.5}, ValueError, r"r must be >= 1 \(r = 1 is the uniform grid\), got 0.5"),
        ({"r": "2"}, TypeError, "r must be a real number"),
        ({"t_end": 0.0}, ValueError, "t_end must be greater than t0"),
        ({"t_end": float("nan")}, ValueError, "t_end must be finite"),
        ({"t0": float("-inf")}, ValueError, "t0 must be finite"),
        ({"dtype": torch.int64}, TypeError, "dtype must be a floating torch.dtype"),
        (
            {"t_end": 10001.0, "t0": 10000.0, "n": 1000, "r": 6.0, "dtype": torch.float32},
            ValueError,
            "not strictly increasing in torch.float32",
        ),
    ],
)
def test_graded_grid_bad_arguments(kwargs, exc, match):
    args = {"t_end": 1.0, "n": 10, "r": 2.0} | kwargs
    with pytest.raises(exc, match=match):
        graded_grid(**args)
