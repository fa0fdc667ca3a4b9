"""Adaptive ``odeint`` methods (``dopri5``, ``bosh3``) against exact solutions and scipy.

Oracles: exact solutions of linear systems (decay; a damped rotation through the matrix
exponential), a forced scalar equation, a tight ``scipy.integrate.solve_ivp`` reference
for Van der Pol, analytic gradients and ``torch.autograd.gradcheck`` in float64.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from spikede_solvers import (
    SOLVERS,
    AdaptiveSolver,
    Tableau,
    list_methods,
    odeint,
    register_method,
    snn_solve,
)

F64 = torch.float64
ADAPTIVE = ["dopri5", "bosh3"]
#: Evaluations per attempted step (FSAL: the last stage is the next step's first).
STAGES = {"dopri5": 6, "bosh3": 3}


class Counter:
    """A vector field that counts its calls."""

    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, t, y):
        self.calls += 1
        return self.f(t, y)


def decay(t, y):
    return -y


def forced(t, y):
    return -y + torch.sin(t)


def forced_exact(t, y0):
    return (y0 + 0.5) * torch.exp(-t) + 0.5 * (torch.sin(t) - torch.cos(t))


def vdp_field(mu):
    def f(t, y):
        return torch.stack([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])

    return f


def vdp_reference(mu, t):
    sol = solve_ivp(
        lambda s, y: [y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]],
        (float(t[0]), float(t[-1])),
        [2.0, 0.0],
        t_eval=t.double().numpy(),
        rtol=1e-12,
        atol=1e-12,
        method="DOP853",
    )
    assert sol.success
    return torch.from_numpy(sol.y.T.copy())


def solve_vdp(mu, t, method, rtol, max_num_steps):
    """``odeint`` of Van der Pol from ``(2, 0)`` with ``rtol = atol``: ``(y, stats)``."""
    return odeint(
        vdp_field(mu),
        torch.tensor([2.0, 0.0], dtype=F64),
        t,
        method,
        options={"rtol": rtol, "atol": rtol, "max_num_steps": max_num_steps},
        return_stats=True,
    )


# ------------------------------------------------------------------ registry


def test_registered_as_adaptive_integer_methods():
    assert {"dopri5", "bosh3"} <= set(list_methods("integer"))
    for name in ADAPTIVE:
        solver = SOLVERS[name]
        assert solver.kind == "integer" and solver.adaptive is True
        with pytest.raises(TypeError, match="adaptive"):
            solver.setup(None)
    assert not getattr(SOLVERS["rk4"], "adaptive", False)
    assert SOLVERS["dopri5"].tableau.order == 5 and SOLVERS["bosh3"].tableau.order == 3


# ------------------------------------------------------------------ exact solutions


@pytest.mark.parametrize("method", ADAPTIVE)
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_decay_matches_exponential(method, dtype):
    rtol = 1e-5 if dtype == torch.float32 else 1e-9
    t = torch.linspace(0.0, 5.0, 26, dtype=dtype)
    y0 = torch.tensor([1.0, -2.0, 0.5], dtype=dtype)
    y = odeint(decay, y0, t, method, options={"rtol": rtol, "atol": rtol * 1e-3})
    assert y.dtype == dtype and y.shape == (26, 3)
    exact = torch.exp(-t.double())[:, None] * y0.double()
    err = (y.double() - exact).abs().max().item()
    assert err < 20 * rtol
    assert torch.equal(y[0], y0)


@pytest.mark.parametrize("method", ADAPTIVE)
def test_damped_rotation_matches_matrix_exponential(method):
    a = torch.tensor([[-0.1, 1.0], [-1.0, -0.1]], dtype=F64)
    y0 = torch.tensor([1.0, 0.0], dtype=F64)
    t = torch.linspace(0.0, 10.0, 41, dtype=F64)
    exact = torch.stack([torch.linalg.matrix_exp(a * s) @ y0 for s in t])
    y = odeint(lambda t, y: a @ y, y0, t, method, options={"rtol": 1e-9, "atol": 1e-12})
    assert (y - exact).abs().max().item() < 2e-8
    # The same system as a tuple state (position, velocity).
    yt = odeint(
        lambda t, s: (a[0, 0] * s[0] + a[0, 1] * s[1], a[1, 0] * s[0] + a[1, 1] * s[1]),
        (y0[0].clone(), y0[1].clone()),
        t,
        method,
        options={"rtol": 1e-9, "atol": 1e-12},
    )
    assert isinstance(yt, tuple) and len(yt) == 2
    assert (torch.stack(yt, -1) - exact).abs().max().item() < 2e-8


@pytest.mark.parametrize("method", ADAPTIVE)
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_forced_equation(method, dtype):
    rtol = 1e-5 if dtype == torch.float32 else 1e-8
    t = torch.linspace(1.0, 9.0, 17, dtype=dtype)  # does not start at 0
    y0 = torch.tensor([0.0, 1.0, -1.0], dtype=dtype)
    y = odeint(forced, y0, t, method, options={"rtol": rtol, "atol": rtol})
    t64 = t.double()[:, None]
    # exact solution started at t = 1
    c = (y0.double() - 0.5 * (math.sin(1.0) - math.cos(1.0))) * math.exp(1.0)
    exact = c * torch.exp(-t64) + 0.5 * (torch.sin(t64) - torch.cos(t64))
    assert (y.double() - exact).abs().max().item() < 30 * rtol


@pytest.mark.parametrize("method", ADAPTIVE)
@pytest.mark.parametrize("mu", [1.0, 2.5, 5.0])
def test_van_der_pol_against_scipy(method, mu):
    t = torch.linspace(0.0, 12.0, 61, dtype=F64)
    ref = vdp_reference(mu, t)
    rtol = 1e-8 if method == "dopri5" else 1e-6
    y, stats = solve_vdp(mu, t, method, rtol, max_num_steps=50_000)
    err = (y - ref).abs().max().item()
    # Global error of a limit cycle: a few hundred times the per-step tolerance.
    assert err < 2000 * rtol
    assert stats["accepted"] < 50_000


@pytest.mark.parametrize("method", ADAPTIVE)
def test_rejected_steps_are_retried(method):
    """A first step far too large is rejected and retried smaller; the answer is right."""
    t = torch.linspace(0.0, 3.0, 4, dtype=F64)
    y0 = torch.tensor([1.0, 2.0], dtype=F64)
    y, stats = odeint(forced, y0, t, method,
                      options={"rtol": 1e-8, "atol": 1e-8, "first_step": 2.0},
                      return_stats=True)  # fmt: skip
    assert stats["rejected"] >= 1
    assert (y - forced_exact(t[:, None], y0)).abs().max().item() < 3e-7


@pytest.mark.parametrize("method", ADAPTIVE)
def test_error_follows_rtol(method):
    """The error against a tight reference shrinks roughly in proportion to rtol."""
    mu = 2.0
    t = torch.linspace(0.0, 8.0, 33, dtype=F64)
    ref = vdp_reference(mu, t)
    rtols = [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8]
    errs, nfes = [], []
    for rtol in rtols:
        y, stats = solve_vdp(mu, t, method, rtol, max_num_steps=100_000)
        errs.append((y - ref).abs().max().item())
        nfes.append(stats["nfe"])
    slope = np.polyfit(np.log10(rtols), np.log10(errs), 1)[0]
    assert 0.75 < slope < 1.25, (slope, errs)
    for e, r in zip(errs, rtols):
        assert 1e-2 * r < e < 1e3 * r, (errs, rtols)
    assert all(b > a for a, b in itertools.pairwise(nfes))


@pytest.mark.parametrize("method, local_order", [("dopri5", 5.0), ("bosh3", 4.0)])
def test_dense_output_order(method, local_order):
    """One step of size h from the exact value; the interpolant's error at 0.37 h is
    O(h^5) for dopri5 (fourth-order dense output) and O(h^4) for bosh3 (cubic Hermite)."""

    def exact(s):
        return math.exp(math.sin(s))

    errs = []
    hs = [0.1, 0.05, 0.025, 0.0125]
    for h in hs:
        t = torch.tensor([0.0, 0.37 * h, h], dtype=F64)
        y, stats = odeint(
            lambda t, y: y * torch.cos(t),
            torch.tensor(1.0, dtype=F64),
            t,
            method,
            options={"rtol": 1.0, "atol": 1.0, "first_step": h},
            return_stats=True,
        )
        assert stats["accepted"] == 1 and stats["rejected"] == 0
        errs.append(abs(y[1].item() - exact(0.37 * h)))
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert abs(slope - local_order) < 0.3, (slope, errs)


@pytest.mark.parametrize("method", ADAPTIVE)
def test_requested_times_do_not_change_the_steps(method):
    """The solver steps freely across the requested times: asking for 601 values or for
    the end value alone takes the same steps and gives the same end value."""
    y0 = torch.tensor([2.0, 0.0], dtype=F64)
    opts = {"rtol": 1e-6, "atol": 1e-6}
    dense, s_dense = odeint(
        vdp_field(2.0), y0, torch.linspace(0.0, 6.0, 601, dtype=F64), method,
        options=opts, return_stats=True,
    )  # fmt: skip
    ends, s_ends = odeint(
        vdp_field(2.0), y0, torch.tensor([0.0, 6.0], dtype=F64), method,
        options=opts, return_stats=True,
    )  # fmt: skip
    assert s_dense == s_ends
    assert s_ends["accepted"] < 600  # fewer steps than requested times
    torch.testing.assert_close(dense[-1], ends[-1], rtol=0, atol=0)


# ------------------------------------------------------------------ counts


@pytest.mark.parametrize("method", ADAPTIVE)
def test_stats_count_evaluations(method):
    f = Counter(vdp_field(3.0))
    t = torch.linspace(0.0, 5.0, 11, dtype=F64)
    y0 = torch.tensor([2.0, 0.0], dtype=F64)
    _, stats = odeint(f, y0, t, method, options={"rtol": 1e-5}, return_stats=True)
    assert set(stats) >= {"nfe", "accepted", "rejected"}
    assert all(isinstance(v, int) for v in stats.values())
    assert stats["nfe"] == f.calls
    attempts = stats["accepted"] + stats["rejected"]
    # f(t0, y0), the first-step estimate, then the FSAL stages of every attempt.
    assert f.calls == 2 + STAGES[method] * attempts
    g = Counter(vdp_field(3.0))
    _, stats = odeint(
        g, y0, t, method, options={"rtol": 1e-5, "first_step": 0.01}, return_stats=True
    )
    assert g.calls == 1 + STAGES[method] * (stats["accepted"] + stats["rejected"])


@pytest.mark.parametrize("method, per_step", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_fixed_grid_methods_return_stats(method, per_step):
    f = Counter(decay)
    t = torch.linspace(0.0, 1.0, 11, dtype=F64)
    y0 = torch.ones(3, dtype=F64)
    y, stats = odeint(f, y0, t, method, return_stats=True)
    assert stats == {"nfe": 10 * per_step, "accepted": 10, "rejected": 0}
    assert stats["nfe"] == f.calls
    torch.testing.assert_close(y, odeint(decay, y0, t, method), rtol=0, atol=0)


def test_single_time_point_returns_y0():
    y0 = torch.tensor([1.0, 2.0], dtype=F64)
    y, stats = odeint(decay, y0, torch.tensor([0.5], dtype=F64), "dopri5", return_stats=True)
    assert y.shape == (1, 2) and torch.equal(y[0], y0)
    assert stats == {"nfe": 0, "accepted": 0, "rejected": 0}


def test_max_num_steps_raises():
    t = torch.linspace(0.0, 20.0, 3, dtype=F64)
    with pytest.raises(RuntimeError, match="max_num_steps.*=5"):
        odeint(vdp_field(5.0), torch.tensor([2.0, 0.0], dtype=F64), t, "dopri5",
               options={"max_num_steps": 5})  # fmt: skip


def test_per_component_tolerances():
    """A tuple state takes one atol per component; a loose atol on a component that
    decays to zero lets the solver take fewer steps."""
    t = torch.linspace(0.0, 10.0, 6, dtype=F64)
    y0 = (torch.ones(4, dtype=F64), torch.ones(2, dtype=F64))

    def f(t, y):
        return (-y[0], -3.0 * y[1])

    _, tight = odeint(f, y0, t, "dopri5", options={"rtol": 1e-6, "atol": 1e-12},
                      return_stats=True)  # fmt: skip
    y, loose = odeint(f, y0, t, "dopri5", options={"rtol": 1e-6, "atol": (1e-12, 1e-3)},
                      return_stats=True)  # fmt: skip
    assert loose["accepted"] < tight["accepted"]
    assert (y[0] - torch.exp(-t)[:, None]).abs().max() < 1e-5


# ------------------------------------------------------------------ gradients


def _rate_field(k, w):
    return lambda t, y: -k * y + w * torch.sin(t)


@pytest.mark.parametrize("method", ADAPTIVE)
def test_gradients_match_the_exact_sensitivities(method):
    k = torch.tensor(0.7, dtype=F64, requires_grad=True)
    y0 = torch.tensor([1.5], dtype=F64, requires_grad=True)
    t = torch.tensor([0.0, 1.0, 2.0], dtype=F64)
    rtol = 1e-10 if method == "dopri5" else 1e-8
    y = odeint(lambda t, y: -k * y, y0, t, method, options={"rtol": rtol, "atol": rtol})
    gy0, gk = torch.autograd.grad(y[-1].sum(), (y0, k))
    e = math.exp(-0.7 * 2.0)
    assert abs(gy0.item() - e) < 100 * rtol
    assert abs(gk.item() - (-2.0 * 1.5 * e)) < 100 * rtol


@pytest.mark.parametrize("method", ADAPTIVE)
def test_gradcheck(method):
    t = torch.tensor([0.0, 0.4, 1.0], dtype=F64)
    y0 = torch.tensor([0.8, -0.3], dtype=F64, requires_grad=True)
    k = torch.tensor([0.5, 1.3], dtype=F64, requires_grad=True)
    w = torch.tensor(0.7, dtype=F64, requires_grad=True)

    def run(y0, k, w):
        return odeint(_rate_field(k, w), y0, t, method, options={"rtol": 1e-12, "atol": 1e-12})

    assert torch.autograd.gradcheck(run, (y0, k, w))


@pytest.mark.parametrize("method", ADAPTIVE)
def test_checkpoint_gives_the_same_gradients(method):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    net = net.double()
    calls = {"n": 0}

    def f(t, y):
        calls["n"] += 1
        return net(y) - 0.5 * y

    y0 = torch.randn(4, 3, dtype=F64, requires_grad=True)
    t = torch.linspace(0.0, 2.0, 5, dtype=F64)
    grads, stats = [], []
    for checkpoint in (False, True):
        net.zero_grad()
        y0.grad = None
        y, s = odeint(f, y0, t, method, options={"rtol": 1e-7, "checkpoint": checkpoint},
                      return_stats=True)  # fmt: skip
        forward_calls = calls["n"]
        (y**2).sum().backward()
        recomputed = calls["n"] - forward_calls
        calls["n"] = 0
        grads.append([y0.grad.clone()] + [p.grad.clone() for p in net.parameters()])
        stats.append((s, recomputed))
    assert stats[0][0] == stats[1][0]
    assert stats[0][1] == 0 and stats[1][1] > 0  # backward re-ran the field
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_float32_gradients_flow():
    k = torch.tensor(0.7, requires_grad=True)
    y = odeint(lambda t, y: -k * y, torch.ones(2), torch.linspace(0, 1, 3), "dopri5",
               options={"rtol": 1e-5})  # fmt: skip
    (g,) = torch.autograd.grad(y[-1].sum(), k)
    assert g.dtype == torch.float32
    assert abs(g.item() - (-2.0 * math.exp(-0.7))) < 1e-4


# ------------------------------------------------------------------ bad input

T3 = torch.linspace(0.0, 1.0, 3, dtype=F64)
Y2 = torch.ones(2, dtype=F64)


@pytest.mark.parametrize(
    "options, exc, fragment",
    [
        ({"rtl": 1e-3}, ValueError, "did you mean 'rtol' for 'rtl'"),
        ({"max_steps": 10}, ValueError, "did you mean 'max_num_steps'"),
        ({"rtol": -1e-3}, ValueError, "options['rtol'] must be a positive finite number"),
        ({"rtol": 0.0}, ValueError, "options['rtol'] must be a positive finite number"),
        ({"atol": float("inf")}, ValueError, "options['atol'] must be a positive finite"),
        ({"atol": float("nan")}, ValueError, "options['atol'] must be a positive finite"),
        ({"rtol": "1e-3"}, TypeError, "options['rtol'] must be a positive finite number"),
        ({"rtol": True}, TypeError, "options['rtol']"),
        ({"atol": (1e-6, 1e-6)}, TypeError, "options['atol'] must be a positive finite number"),
        ({"atol": torch.ones(2)}, TypeError, "options['atol']"),
        ({"rtol": 1e-17}, ValueError, "below the resolution"),
        ({"first_step": 0.0}, ValueError, "options['first_step'] must be positive"),
        ({"first_step": "big"}, TypeError, "options['first_step']"),
        ({"max_num_steps": 0}, ValueError, "options['max_num_steps'] must be an int >= 1"),
        ({"max_num_steps": 2.5}, TypeError, "options['max_num_steps'] must be an int >= 1"),
        ({"checkpoint": 1}, TypeError, "options['checkpoint'] must be True or False"),
    ],
)
def test_bad_options(options, exc, fragment):
    f = Counter(decay)
    with pytest.raises(exc, match=None) as info:
        odeint(f, Y2, T3, "dopri5", options=options)
    assert fragment in str(info.value)
    assert f.calls == 0  # raised before any work


def test_per_component_tolerance_checks():
    y0 = (Y2, Y2)
    with pytest.raises(ValueError, match=r"options\['atol'\] has 3 entries for 2"):
        odeint(lambda t, y: y, y0, T3, "bosh3", options={"atol": (1.0, 1.0, 1.0)})
    with pytest.raises(ValueError, match=r"options\['rtol'\] must be"):
        odeint(lambda t, y: y, y0, T3, "bosh3", options={"rtol": (1e-3, -1.0)})
    with pytest.raises(ValueError, match="below the resolution of y0\\[1\\]'s dtype"):
        odeint(lambda t, y: y, (Y2, Y2.float()), T3, "bosh3", options={"rtol": 1e-8})


def test_numpy_and_tensor_scalars_accepted():
    opts = {
        "rtol": np.float32(1e-6),
        "atol": torch.tensor(1e-9),
        "first_step": np.float64(0.01),
        "max_num_steps": np.int64(1000),
    }
    y = odeint(decay, Y2, T3, "dopri5", options=opts)
    assert (y[-1] - math.exp(-1.0)).abs().max() < 1e-5


def test_float32_tolerance_floor():
    y32 = torch.ones(2)
    with pytest.raises(ValueError, match="below the resolution of y0's dtype torch.float32"):
        odeint(decay, y32, T3.float(), "dopri5", options={"rtol": 1e-8})
    odeint(decay, y32, T3.float(), "dopri5", options={"rtol": 1e-6})  # the default works


def test_adaptive_options_refused_by_fixed_grid_methods():
    with pytest.raises(ValueError, match="apply to the adaptive methods \\['bosh3', 'dopri5'\\]"):
        odeint(decay, Y2, T3, "rk4", options={"rtol": 1e-3})


def test_decreasing_time_refused():
    with pytest.raises(ValueError, match="t must be strictly increasing"):
        odeint(decay, Y2, T3.flip(0), "dopri5")


def test_return_stats_must_be_bool():
    with pytest.raises(TypeError, match="return_stats must be True or False"):
        odeint(decay, Y2, T3, "dopri5", return_stats=1)


def test_wrong_field_shape():
    with pytest.raises(ValueError, match="func returned shape"):
        odeint(lambda t, y: y[:1], Y2, T3, "dopri5")
    with pytest.raises(TypeError, match="func must return a tuple"):
        odeint(lambda t, y: y[0], (Y2,), T3, "bosh3")


def test_snn_solve_refuses_adaptive_methods():
    with pytest.raises(ValueError, match="method='dopri5' is adaptive"):
        snn_solve(lambda t, y: y, (Y2,), T3, integrator="odeint", method="dopri5")


# ------------------------------------------------------------------ user-defined pairs


class HeunEuler(AdaptiveSolver):
    """Heun 2 with an embedded Euler 1, no FSAL: the loop's non-FSAL path."""

    order = "2"
    tableau = Tableau(
        name="heun_euler", c=(0.0, 1.0), a=((), (1.0,)), b=(0.5, 0.5), e=(-0.5, 0.5),
        order=2, error_order=1, fsal=False,
    )  # fmt: skip


def test_user_defined_adaptive_method():
    register_method("heun_euler", HeunEuler())
    try:
        assert "heun_euler" in list_methods("integer")
        f = Counter(forced)
        t = torch.linspace(0.0, 4.0, 9, dtype=F64)
        y0 = torch.tensor([0.3], dtype=F64)
        y, stats = odeint(f, y0, t, "heun_euler", options={"rtol": 1e-5, "atol": 1e-5},
                          return_stats=True)  # fmt: skip
        # f(t0), the first-step estimate, the second stage of every attempt (the first is
        # f(t_n, y_n)), then f(t_n+1, y_n+1) for every accepted step
        assert f.calls == 2 + (stats["accepted"] + stats["rejected"]) + stats["accepted"]
        assert (y - forced_exact(t[:, None], y0)).abs().max().item() < 1e-4
    finally:
        del SOLVERS["heun_euler"]


def test_tableau_consistency_checked():
    with pytest.raises(ValueError, match="rows of length"):
        Tableau(name="bad", c=(0.0, 1.0), a=((),), b=(0.5, 0.5), e=(0.0, 0.0), order=2,
                error_order=1, fsal=False)  # fmt: skip
    with pytest.raises(ValueError, match="fsal needs"):
        Tableau(name="bad", c=(0.0, 1.0), a=((), (1.0,)), b=(0.5, 0.5), e=(-0.5, 0.5),
                order=2, error_order=1, fsal=True)  # fmt: skip
