"""Public API behaviour: argument checks, structures, dtypes, registry, snn_solve."""

import math

import pytest
import torch

import spikede_solvers
from spikede_solvers import (
    SOLVERS,
    SNNSolution,
    Solver,
    fdeint,
    list_methods,
    mittag_leffler,
    odeint,
    register_method,
    snn_solve,
)

F64 = torch.float64
T = torch.linspace(0.0, 1.0, 11, dtype=F64)
Y = torch.ones(2, dtype=F64)


def decay(t, y):
    return -y


def test_all_is_curated():
    for name in spikede_solvers.__all__:
        assert hasattr(spikede_solvers, name)
    assert set(list_methods("fractional")) == {"gl", "l1", "trap", "pred", "glmulti"}
    assert set(list_methods("integer")) == {"euler", "midpoint", "rk4", "dopri5", "bosh3"}


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"alpha": 0.0}, ValueError, r"alpha must lie in \(0, 1\], got 0.0"),
        ({"alpha": 1.2}, ValueError, "alpha must lie in"),
        (
            {"alpha": torch.tensor([0.5, 1.5], dtype=F64)},
            ValueError,
            "alpha must lie in",
        ),
        ({"alpha": float("nan")}, ValueError, "alpha"),
        ({"alpha": torch.ones(3)}, ValueError, "does not broadcast"),
        ({"alpha": [0.5, 0.7]}, ValueError, "coefficients"),
        (
            {"alpha": [0.5, 0.7], "coefficients": [1.0]},
            ValueError,
            "coefficients has 1 entries",
        ),
        ({"alpha": [0.5, 0.7], "coefficients": [1.0, -1.0]}, ValueError, "positive"),
        (
            {"alpha": 0.5, "method": "rk4"},
            ValueError,
            "method='rk4' is not a method of fdeint",
        ),
        ({"alpha": 0.5, "method": "nope"}, ValueError, "accepted"),
        ({"alpha": 0.5, "memory": 0}, ValueError, "memory must be an int >= 1, got 0"),
        ({"alpha": 0.5, "memory": 2.5}, TypeError, "memory"),
        ({"alpha": 0.5, "options": {"step": 1}}, ValueError, "options"),
        (
            {"alpha": 0.5, "method": "trap", "options": {"corrector_steps": 0}},
            ValueError,
            "corrector_steps",
        ),
        ({"alpha": None}, TypeError, "alpha is required"),
    ],
)
def test_fdeint_bad_arguments(kwargs, exc, match):
    alpha = kwargs.pop("alpha")
    method = kwargs.pop("method", "gl")
    calls = []

    def field(t, y):
        calls.append(1)
        return -y

    with pytest.raises(exc, match=match):
        fdeint(field, Y, T, alpha, method, **kwargs)
    assert not calls  # raised before integrating


@pytest.mark.parametrize(
    "t, match",
    [
        (torch.tensor([0.0, 0.1, 0.1, 0.3], dtype=F64), "strictly increasing"),
        (torch.tensor([0.0, 0.1, 0.3, 0.4], dtype=F64), "uniformly spaced"),
        (torch.tensor([0.0, float("nan"), 0.2], dtype=F64), "finite"),
        (torch.zeros(2, 2, dtype=F64), "1-d"),
        (torch.arange(3), "floating"),
        ([0.0, 1.0], "Tensor"),
    ],
)
def test_bad_grid(t, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fdeint(decay, Y, t, 0.5)


def test_nonuniform_grid_fine_for_odeint_but_not_fdeint():
    t = torch.tensor([0.0, 0.1, 0.3, 0.4], dtype=F64)
    assert odeint(decay, Y, t).shape == (4, 2)
    with pytest.raises(ValueError, match="uniformly"):
        snn_solve(lambda t, y: (-y[0],), (Y,), t, alpha=[0.5])


def test_float32_linspace_grid_accepted():
    t = torch.linspace(0.0, 100.0, 1001)
    y = fdeint(decay, torch.ones(2), t, 0.5)
    assert y.dtype == torch.float32 and bool(torch.isfinite(y).all())


def test_bad_y0_and_func():
    with pytest.raises(ValueError, match="y0 must be finite"):
        fdeint(decay, torch.tensor([1.0, float("inf")]), T, 0.5)
    with pytest.raises(TypeError, match="floating"):
        fdeint(decay, torch.tensor([1, 2]), T, 0.5)
    with pytest.raises(TypeError, match="callable"):
        fdeint(3, Y, T, 0.5)
    with pytest.raises(ValueError, match=r"func returned shape \(3,\)"):
        fdeint(lambda t, y: torch.ones(3, dtype=F64), Y, T, 0.5)
    with pytest.raises(TypeError, match="must return a tuple"):
        fdeint(lambda t, y: y[0], (Y, Y), T, 0.5)
    with pytest.raises(ValueError, match="returned 1 tensors"):
        fdeint(lambda t, y: (y[0],), (Y, Y), T, 0.5)


def test_learnable_alpha_that_left_the_range_is_rejected():
    a = torch.nn.Parameter(torch.tensor(0.5, dtype=F64))
    with torch.no_grad():
        a.add_(0.7)
    with pytest.raises(ValueError, match="alpha must lie in"):
        fdeint(decay, Y, T, a)


def test_tuple_state_per_component_alpha_equals_separate_solves():
    def field(t, y):
        return (-y[0], -2.0 * y[1])

    y0 = (torch.ones(3, dtype=F64), torch.full((2, 2), 0.5, dtype=F64))
    for method in ("gl", "trap", "l1", "pred"):
        a, b = fdeint(field, y0, T, [0.4, 0.8], method)
        assert a.shape == (11, 3) and b.shape == (11, 2, 2)
        assert torch.allclose(a, fdeint(lambda t, y: -y, y0[0], T, 0.4, method), atol=1e-15)
        assert torch.allclose(b, fdeint(lambda t, y: -2.0 * y, y0[1], T, 0.8, method), atol=1e-15)


def test_per_element_alpha_equals_separate_solves():
    y0 = torch.ones(4, 3, dtype=F64)
    alpha = torch.tensor([0.3, 0.6, 1.0], dtype=F64)
    y = fdeint(decay, y0, T, alpha, "trap")
    for j, a in enumerate(alpha.tolist()):
        assert torch.allclose(y[:, :, j], fdeint(decay, y0[:, j], T, a, "trap"), atol=1e-15)


def test_shared_multiterm_on_tuple_state():
    y0 = (torch.ones(2, dtype=F64), torch.ones(1, dtype=F64))
    a, b = fdeint(
        lambda t, y: (-y[0], -y[1]),
        y0,
        T,
        [0.5, 0.9],
        "glmulti",
        coefficients=[1.0, 2.0],
    )
    ref = fdeint(
        decay,
        torch.ones(1, dtype=F64),
        T,
        [0.5, 0.9],
        "glmulti",
        coefficients=[1.0, 2.0],
    )
    assert torch.allclose(a[:, :1], ref) and torch.allclose(b, ref)


@pytest.mark.parametrize("method", ["gl", "l1", "trap", "pred"])
def test_float32_follows_input_and_is_close_to_float64(method):
    y32 = fdeint(decay, torch.ones(2), T.float(), 0.7, method)
    y64 = fdeint(decay, Y, T, 0.7, method)
    assert y32.dtype == torch.float32
    assert torch.allclose(y32.double(), y64, atol=1e-5)


def test_relaxation_solution_near_exact_readable_example():
    t = torch.linspace(0.0, 2.0, 401, dtype=F64)
    y = fdeint(decay, torch.ones(1, dtype=F64), t, 0.8, "trap")
    exact = mittag_leffler(0.8, -(t**0.8))
    assert float((y[:, 0] - exact).abs().max()) < 1e-3


def test_registry_add_and_reject():
    class Halver(Solver):
        kind = "integer"
        uniform_only = False

        def setup(self, problem):
            from spikede_solvers import Stepper

            class S(Stepper):
                def step(self, n, y, f, evaluate):
                    return tuple(0.5 * v for v in y)

            return S()

    register_method("halve", Halver())
    try:
        y = odeint(decay, torch.ones(1, dtype=F64), torch.arange(4, dtype=F64), "halve")
        assert y[:, 0].tolist() == [1.0, 0.5, 0.25, 0.125]
        with pytest.raises(ValueError, match="already registered"):
            register_method("halve", Halver())
    finally:
        del SOLVERS["halve"]
    with pytest.raises(TypeError, match="Solver instance"):
        register_method("x", object())


def _snn_field(t, y):
    v1, v2 = y
    s = (v1 > 0.3).to(v1.dtype)
    return (1.0 - v1, s.sum(-1, keepdim=True) - v2, s, 2.0 * v2)


def test_snn_solve_matches_hand_written_euler_loop():
    t = torch.arange(5, dtype=F64) * 0.25
    y0 = (torch.zeros(3, 2, dtype=F64), torch.zeros(3, 1, dtype=F64))
    sol = snn_solve(_snn_field, y0, t, integrator="odeint")
    assert isinstance(sol, SNNSolution) and sol.nfe == 5
    v, states, bounds = y0, [], []
    for n in range(5):
        out = _snn_field(t[n], v)
        states.append(v)
        bounds.append(out[2:])
        v = (v[0] + 0.25 * out[0], v[1] + 0.25 * out[1])
    for i in range(2):
        assert torch.equal(sol.states[i], torch.stack([s[i] for s in states]))
        assert torch.equal(sol.boundaries[i], torch.stack([b[i] for b in bounds]))


def test_snn_solve_fractional_states_equal_fdeint_and_boundaries_at_accepted_states():
    t = torch.arange(6, dtype=F64) * 0.2
    y0 = (torch.zeros(3, 2, dtype=F64), torch.zeros(3, 1, dtype=F64))
    for method in ("gl", "trap", "l1", "pred"):
        sol = snn_solve(_snn_field, y0, t, method=method, alpha=[0.6, 0.9])
        ref = fdeint(lambda tt, y: _snn_field(tt, y)[:2], y0, t, [0.6, 0.9], method)
        assert torch.equal(sol.states[0], ref[0]) and torch.equal(sol.states[1], ref[1])
        expected = torch.stack([_snn_field(t[n], (ref[0][n], ref[1][n]))[2] for n in range(6)])
        assert torch.equal(sol.boundaries[0], expected)


def test_snn_solve_bad_arguments():
    y0 = (torch.zeros(2, dtype=F64),)
    with pytest.raises(ValueError, match="alpha and coefficients must be None"):
        snn_solve(lambda t, y: (-y[0],), y0, T, integrator="odeint", alpha=[0.5])
    with pytest.raises(ValueError, match="integrator must be"):
        snn_solve(lambda t, y: (-y[0],), y0, T, integrator="x", alpha=[0.5])
    with pytest.raises(ValueError, match="one entry per state component"):
        snn_solve(lambda t, y: (-y[0],), y0, T, alpha=[0.5, 0.6])
    with pytest.raises(TypeError, match="tuple of tensors"):
        snn_solve(lambda t, y: (-y[0],), y0[0], T, alpha=[0.5])
    with pytest.raises(ValueError, match="not a method of odeint"):
        snn_solve(lambda t, y: (-y[0],), y0, T, integrator="odeint", method="gl")
    with pytest.raises(ValueError, match="at least 1"):
        snn_solve(lambda t, y: (), y0, T, alpha=[0.5])
    with pytest.raises(ValueError, match="disagree"):
        snn_solve(lambda t, y: (-y[0],), y0, T, alpha=[0.5], memory=3, options={"memory": 4})


def test_snn_memory_option_alias():
    y0 = (torch.ones(2, dtype=F64),)
    a = snn_solve(lambda t, y: (-y[0],), y0, T, alpha=[0.5], memory=3)
    b = snn_solve(lambda t, y: (-y[0],), y0, T, alpha=[0.5], options={"memory": 3})
    assert torch.equal(a.states[0], b.states[0])


def test_single_point_grid():
    y = fdeint(decay, Y, T[:1], 0.5, "trap")
    assert torch.equal(y, Y[None])
    sol = snn_solve(lambda t, y: (-y[0], 2 * y[0]), (Y,), T[:1], alpha=[0.5])
    assert sol.nfe == 1 and torch.equal(sol.boundaries[0], 2 * Y[None])


def test_gl_alpha_one_matches_exp_decay_first_order():
    t = torch.linspace(0.0, 1.0, 1001, dtype=F64)
    y = fdeint(decay, torch.ones(1, dtype=F64), t, 1.0, "gl")
    assert abs(float(y[-1, 0]) - math.exp(-1.0)) < 2e-4


@pytest.mark.parametrize("keep", [True, False])
def test_blow_up_raises_naming_the_first_non_finite_step(keep: bool) -> None:
    """Euler on y' = -500 y with h = 0.25: |y_n| = 124^n, f overflows at n = 146."""
    from spikede_solvers import solve

    t = torch.linspace(0.0, 50.0, 201, dtype=F64)
    y0 = torch.ones(3, dtype=F64)
    if keep:
        with pytest.raises(FloatingPointError, match=r"at t\[147\] = 36.75, with step h = 0.25"):
            odeint(lambda t, y: -500.0 * y, y0, t)
    else:
        field = lambda t, y, args, step: (-500.0 * y[0],)  # noqa: E731
        with pytest.raises(FloatingPointError, match=r"between t\[144\] = 36 and t\[160\] = 40"):
            solve(field, (y0,), t, "euler", keep_states=False)
    # a fine grid is stable: no error
    odeint(lambda t, y: -500.0 * y, y0, torch.linspace(0.0, 1.0, 2001, dtype=F64))
