"""gradcheck (float64) through every method: y0, a func parameter, alpha, coefficients."""

import contextlib

import pytest
import torch
from torch.autograd import gradcheck

from spikede_solvers import fdeint, odeint, snn_solve

F64 = torch.float64
T = torch.linspace(0.0, 0.5, 7, dtype=F64)


def _field(lam):
    return lambda t, y: -lam * y + 0.2 * torch.sin(y) + torch.cos(t)


@pytest.mark.parametrize("method", ["gl", "pred", "trap", "l1", "glmulti"])
@pytest.mark.parametrize("memory", [None, 3])
def test_gradcheck_y0_param_alpha(method, memory):
    y0 = torch.tensor([0.4, -0.3], dtype=F64, requires_grad=True)
    lam = torch.tensor(0.8, dtype=F64, requires_grad=True)
    alpha = torch.tensor(0.6, dtype=F64, requires_grad=True)

    def run(y0, lam, alpha):
        return fdeint(_field(lam), y0, T, alpha, method, memory=memory)

    assert gradcheck(run, (y0, lam, alpha), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("memory", [None, 2])
def test_gradcheck_multiterm_orders_and_coefficients(memory):
    y0 = torch.tensor([0.4], dtype=F64, requires_grad=True)
    orders = torch.tensor([0.5, 0.8], dtype=F64, requires_grad=True)
    coefs = torch.tensor([1.0, 0.7], dtype=F64, requires_grad=True)

    def run(y0, orders, coefs):
        return fdeint(_field(1.0), y0, T, orders, "glmulti", coefficients=coefs, memory=memory)

    assert gradcheck(run, (y0, orders, coefs), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("method", ["gl", "trap", "l1"])
def test_gradcheck_per_element_alpha(method):
    y0 = torch.tensor([[0.4, -0.3, 0.1]], dtype=F64, requires_grad=True)
    alpha = torch.tensor([0.4, 0.7, 0.95], dtype=F64, requires_grad=True)
    assert gradcheck(
        lambda y0, a: fdeint(_field(1.0), y0, T, a, method),
        (y0, alpha),
        eps=1e-6,
        atol=1e-7,
    )


def test_gradcheck_tuple_state_per_component_alpha():
    a0 = torch.tensor(0.5, dtype=F64, requires_grad=True)
    a1 = torch.tensor(0.9, dtype=F64, requires_grad=True)
    v = torch.tensor([0.2, 0.1], dtype=F64, requires_grad=True)
    w = torch.tensor([[0.3]], dtype=F64, requires_grad=True)

    def field(t, y):
        return (-y[0] + y[1].sum(), -y[1] + torch.tanh(y[0]).mean())

    def run(v, w, a0, a1):
        return fdeint(field, (v, w), T, [a0, a1], "trap")

    assert gradcheck(run, (v, w, a0, a1), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("method", ["gl", "trap", "glmulti"])
def test_gradcheck_snn_solve_with_boundaries_and_mixed_terms(method):
    a0 = torch.tensor(0.7, dtype=F64, requires_grad=True)
    orders = torch.tensor([0.4, 0.9], dtype=F64, requires_grad=True)
    coefs = torch.tensor([0.6, 1.0], dtype=F64, requires_grad=True)
    lam = torch.tensor(0.9, dtype=F64, requires_grad=True)
    v = torch.tensor([0.1, 0.2], dtype=F64)

    def field(t, y):
        v1, v2 = y
        return (-lam * v1 + torch.cos(t), -v2 + v1, torch.sigmoid(4 * v2))

    def run(a0, orders, coefs, lam):
        sol = snn_solve(
            field,
            (v, v.clone()),
            T,
            method=method,
            alpha=[a0, orders],
            coefficients=[None, coefs],
        )
        return sol.states + sol.boundaries

    if method != "glmulti":
        with pytest.warns(UserWarning, match="glmulti"):
            run(a0, orders, coefs, lam)
    with pytest.warns(UserWarning) if method != "glmulti" else contextlib.nullcontext():
        assert gradcheck(run, (a0, orders, coefs, lam), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
def test_gradcheck_odeint(method):
    y0 = torch.tensor([0.4, -0.3], dtype=F64, requires_grad=True)
    lam = torch.tensor(0.8, dtype=F64, requires_grad=True)
    assert gradcheck(lambda y0, lam: odeint(_field(lam), y0, T, method), (y0, lam))


@pytest.mark.parametrize("method", ["gl", "pred", "trap", "l1"])
def test_learnable_alpha_long_run_matches_finite_difference(method):
    # Many in-place history writes after the reads: backward must still be exact.
    t = torch.linspace(0.0, 1.0, 301, dtype=F64)
    alpha = torch.tensor(0.55, dtype=F64, requires_grad=True)
    y = fdeint(lambda t, y: -y, torch.ones(3, dtype=F64), t, alpha, method, memory=120)
    y[-1].sum().backward()
    with torch.no_grad():
        e = 1e-6
        up = fdeint(lambda t, y: -y, torch.ones(3, dtype=F64), t, alpha + e, method, memory=120)[
            -1
        ].sum()
        dn = fdeint(lambda t, y: -y, torch.ones(3, dtype=F64), t, alpha - e, method, memory=120)[
            -1
        ].sum()
    assert abs(float(alpha.grad) - float((up - dn) / (2 * e))) < 1e-6


def test_backward_twice_with_retain_graph_gives_same_gradients():
    y0 = torch.tensor([0.4, -0.3], dtype=F64, requires_grad=True)
    alpha = torch.tensor(0.6, dtype=F64, requires_grad=True)
    y = fdeint(_field(1.0), y0, T, alpha, "l1")
    loss = (y**2).sum()
    g1 = torch.autograd.grad(loss, (y0, alpha), retain_graph=True)
    g2 = torch.autograd.grad(loss, (y0, alpha))
    assert all(torch.equal(a, b) for a, b in zip(g1, g2))


@pytest.mark.parametrize("method", ["gl", "l1", "trap", "pred"])
@pytest.mark.parametrize(
    "options", [{}, {"memory": 5}, {"options": {"history": "soe"}}, {"options": {"block": 4}}]
)
def test_history_buffers_are_freed_after_backward(method: str, options: dict) -> None:
    """No reference cycle through autograd nodes keeps a solve's buffers alive (the
    buffered history, or the streaming one that gl/pred use with memory or soe)."""
    import gc

    from spikede_solvers._history import History
    from spikede_solvers._stream import StreamingHistory

    def alive() -> int:
        return sum(type(o) in (History, StreamingHistory) for o in gc.get_objects())

    gc.collect()
    before = alive()
    y0 = torch.ones(3, 4, requires_grad=True)
    for _ in range(2):
        y = fdeint(lambda t, y: -y, y0, torch.linspace(0.0, 1.0, 60), 0.6, method, **options)
        y.sum().backward()
    del y
    gc.collect()
    assert alive() == before


@pytest.mark.parametrize("method", ["gl", "l1", "trap", "pred"])
@pytest.mark.parametrize(
    "memory, options",
    [(None, None), (None, {"block": 4}), (None, {"history": "soe", "soe_window": 4}), (7, None)],
)
def test_gradcheck_two_components_with_a_common_order(method, memory, options) -> None:
    """Components sharing an order are solved as one flat component (fused history,
    the buffer reused as its own gradient accumulator when the order needs no gradient);
    gradients with respect to y0 and to the shared order stay exact."""
    mix = torch.tensor([[0.2, -0.1, 0.3], [0.0, 0.25, -0.2], [0.1, 0.1, 0.1]], dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, 30, dtype=torch.float64)

    def solve(y0: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        def field(t, y):
            return tuple(-v + torch.tanh(v @ mix) for v in y)

        ys = fdeint(field, (y0, 2.0 * y0[:1]), t, alpha, method, memory=memory, options=options)
        return torch.cat([ys[0].sum(0).reshape(-1), ys[1][-1].reshape(-1)])

    y0 = torch.rand(2, 3, dtype=torch.float64, requires_grad=True)
    fixed = torch.tensor(0.6, dtype=torch.float64)
    learnable = torch.tensor(0.6, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda y: solve(y, fixed), (y0,))
    assert gradcheck(solve, (y0, learnable))


@pytest.mark.parametrize("method", ["gl", "l1", "trap", "pred", "glmulti"])
def test_fused_components_equal_separate_solves(method: str) -> None:
    """Uncoupled components solved together (fused) equal each solved on its own."""
    t = torch.linspace(0.0, 2.0, 50, dtype=torch.float64)
    y0 = (torch.rand(2, 3, dtype=torch.float64), torch.rand(4, dtype=torch.float64))
    rates = (1.0, 3.0)

    def field(t, y):
        return tuple(-r * torch.sin(v) for r, v in zip(rates, y))

    together = fdeint(field, y0, t, 0.7, method)
    for i in range(2):
        alone = fdeint(lambda t, v, r=rates[i]: -r * torch.sin(v), y0[i], t, 0.7, method)
        torch.testing.assert_close(together[i], alone, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize(
    "method, memory, options, learnable, fused",
    [
        ("gl", None, None, False, False),  # full history, fixed order: streams
        ("gl", None, None, True, True),  # learnable order: recorded history functions
        ("trap", None, {"history": "soe"}, False, True),  # trap does not stream
        ("gl", None, {"history": "soe"}, True, True),  # learnable order: buffered
        ("gl", None, {"history": "soe"}, False, False),  # streams
        ("pred", 5, None, False, False),  # streams
        ("glmulti", 5, None, False, False),  # streams
        ("euler", None, None, False, False),  # elementwise integer-order steps
        ("rk4", None, None, False, False),
    ],
)
def test_components_are_fused_only_where_it_pays(method, memory, options, learnable, fused):
    """Two components with a common order become one flat component only for a
    recorded (non-streaming) fractional history."""
    from spikede_solvers import _engine

    seen = []
    real = _engine._Fused.__init__

    def spy(self, *args, **kwargs):
        seen.append(True)
        real(self, *args, **kwargs)

    t = torch.linspace(0.0, 1.0, 20, dtype=torch.float64)
    y0 = (torch.rand(3, dtype=torch.float64), torch.rand(2, dtype=torch.float64))
    alpha = torch.tensor(0.6, dtype=torch.float64, requires_grad=learnable)

    def field(t, y):
        return tuple(-v for v in y)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_engine._Fused, "__init__", spy)
        if method in ("euler", "rk4"):
            odeint(field, y0, t, method)
        else:
            fdeint(field, y0, t, alpha, method, memory=memory, options=options)
    assert bool(seen) is fused
