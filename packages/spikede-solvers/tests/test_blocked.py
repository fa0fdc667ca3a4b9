"""Blocked solves (a block of steps per call of one pure function) against ``solve``."""

from __future__ import annotations

import functools

import pytest
import torch

from spikede_solvers import solve
from spikede_solvers._blocked import BLOCK, advance_block, blocks_compiled, plan_blocks, run_blocks

CASES = {
    "gl soe": ("gl", {"alpha": [0.6, 0.85], "options": {"history": "soe"}}),
    "gl soe window 3": ("gl", {"alpha": [0.7, 0.7], "options": {"history": "soe", "soe_window": 3}}),
    "gl soe window 20": ("gl", {"alpha": [0.4, 0.4], "options": {"history": "soe", "soe_window": 20}}),
    "gl memory 5": ("gl", {"alpha": [0.6, 0.6], "memory": 5}),
    "gl memory 20": ("gl", {"alpha": [0.3, 0.9], "memory": 20}),
    "euler": ("euler", {}),
}


def _network(dtype: torch.dtype, points: int, weight: torch.Tensor | None = None):
    """A two-layer leaky network in both calling conventions, with spiking outputs and
    the membranes as auxiliary outputs (so states can be compared)."""
    gen = torch.Generator().manual_seed(0)
    x = 2.0 * torch.rand(points, 4, 3, generator=gen, dtype=dtype)
    w = torch.randn(3, 5, generator=gen, dtype=dtype) if weight is None else weight

    def block_field(v1, v2, x_i, h):
        spikes = torch.sigmoid(8.0 * (v1 - 0.5))  # smooth: gradients compare everywhere
        return (x_i @ w - v1, spikes.sum(1, keepdim=True) - 0.5 * v2, (v1 > 0.5).to(dtype), v1, v2)

    def func(t, y, args, step):
        out = block_field(*y, x[step.index], step.h)
        return out[:2], out[2:]

    y0 = (torch.zeros(4, 5, dtype=dtype), torch.full((4, 1), 0.25, dtype=dtype))
    return x, w, block_field, func, y0


def _rows(x: torch.Tensor, start: int, stop: int) -> tuple[torch.Tensor, ...]:
    return (x[start:stop],)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("case", sorted(CASES))
def test_blocked_solve_equals_the_per_step_solve(case: str, dtype: torch.dtype) -> None:
    method, kw = CASES[case]
    points = 5 * BLOCK + 3  # a last, shorter block
    t = 0.5 * torch.arange(points, dtype=dtype)
    x, _, block_field, func, y0 = _network(dtype, points)
    sol = solve(func, y0, t, method, has_aux=True, **kw)
    plan = plan_blocks(y0, t, method, **kw)
    assert not isinstance(plan, str), plan
    aux, nfe, _ = run_blocks(plan, lambda *a: advance_block(block_field, *a), y0, t, lambda a, b: (x[a:b],))
    assert nfe == sol.nfe == points
    rate = float(aux[0].mean())
    assert 0.05 < rate < 0.95, rate  # the spikes compared are not all equal by silence
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    for got, want in zip(aux[1:], sol.ys):
        torch.testing.assert_close(got, want, atol=tol, rtol=tol)
    assert float((aux[0] == sol.aux[0]).double().mean()) > 0.99


@pytest.mark.parametrize("case", ["gl soe", "gl memory 5", "euler"])
def test_blocked_states_are_the_states_each_evaluation_sees(case: str) -> None:
    """``states=True`` appends the state components to the auxiliary outputs: they equal
    ``solve``'s states at the grid points (the field's own copies of them, here)."""
    method, kw = CASES[case]
    points = 2 * BLOCK + 5
    t = 0.5 * torch.arange(points, dtype=torch.float64)
    x, _, block_field, func, y0 = _network(torch.float64, points)
    sol = solve(func, y0, t, method, has_aux=True, **kw)
    plan = plan_blocks(y0, t, method, **kw)
    assert not isinstance(plan, str), plan
    step = functools.partial(advance_block, block_field, states=True)
    aux, _, _ = run_blocks(plan, step, y0, t, functools.partial(_rows, x))
    assert len(aux) == 3 + len(y0)
    assert 0.05 < float(aux[0].mean()) < 0.95
    for got, want in zip(aux[3:], sol.ys):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, atol=1e-12, rtol=1e-12)
    for got, want in zip(aux[3:], aux[1:3]):
        torch.testing.assert_close(got, want, atol=0.0, rtol=0.0)


@pytest.mark.parametrize("case", ["gl soe", "gl memory 5", "euler"])
def test_blocked_gradients_equal_the_per_step_solve(case: str) -> None:
    method, kw = CASES[case]
    points = 3 * BLOCK + 5
    t = 0.5 * torch.arange(points, dtype=torch.float64)
    grads = []
    for blocked in (False, True):
        w = torch.randn(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        w.requires_grad_(True)
        x, _, block_field, func, y0 = _network(torch.float64, points, w)
        if blocked:
            plan = plan_blocks(y0, t, method, **kw)
            assert not isinstance(plan, str), plan
            step = functools.partial(advance_block, block_field)
            aux, _, _ = run_blocks(plan, step, y0, t, functools.partial(_rows, x))
            ys = aux[1:]
        else:
            ys = solve(func, y0, t, method, has_aux=True, **kw).ys
        (ys[0].square().sum() + ys[1].sum()).backward()
        grads.append(w.grad)
    torch.testing.assert_close(grads[1], grads[0], atol=1e-11, rtol=1e-10)


@pytest.mark.parametrize(
    ("method", "kw", "reason"),
    [
        ("gl", {"alpha": 0.6}, "full history"),
        ("trap", {"alpha": 0.6, "options": {"history": "soe"}}, "not blocked"),
        ("gl", {"alpha": 0.6, "memory": 100}, "longer than a block carries"),
    ],
)
def test_solves_that_are_not_blocked_say_why(method: str, kw: dict, reason: str) -> None:
    t = torch.arange(200, dtype=torch.float64)
    plan = plan_blocks((torch.zeros(2, dtype=torch.float64),), t, method, **kw)
    assert isinstance(plan, str) and reason in plan


def test_learnable_orders_and_non_uniform_grids_are_not_blocked() -> None:
    y0 = (torch.zeros(2, dtype=torch.float64),)
    alpha = torch.tensor(0.6, dtype=torch.float64, requires_grad=True)
    t = torch.arange(20, dtype=torch.float64)
    assert "learnable" in plan_blocks(y0, t, "gl", alpha=alpha, options={"history": "soe"})
    with torch.no_grad():  # inference: the orders are constants
        assert not isinstance(plan_blocks(y0, t, "gl", alpha=alpha, options={"history": "soe"}), str)
    assert "not uniform" in plan_blocks(y0, t.square(), "euler")
    assert "single point" in plan_blocks(y0, t[:1], "gl", alpha=0.6, memory=3)


def test_a_blocked_solve_that_blows_up_names_the_step() -> None:
    t = torch.arange(40, dtype=torch.float64)
    y0 = (torch.ones(2, dtype=torch.float64),)
    plan = plan_blocks(y0, t, "euler")
    assert not isinstance(plan, str)

    def field(v, x_i, h):
        return (v * 1e80,)

    with pytest.raises(FloatingPointError, match="non-finite"):
        run_blocks(plan, lambda *a: advance_block(field, *a), y0, t, lambda a, b: (t[a:b],))


@pytest.mark.slow
def test_a_compiled_block_equals_the_uncompiled_one_and_compiles_once() -> None:
    import torch._dynamo

    points = 4 * BLOCK + 2
    t = 0.5 * torch.arange(points)
    x, _, block_field, _, y0 = _network(torch.float32, points)
    plan = plan_blocks(y0, t, "gl", alpha=[0.6, 0.8], options={"history": "soe"})
    assert not isinstance(plan, str)
    want, _, _ = run_blocks(plan, lambda *a: advance_block(block_field, *a), y0, t, lambda a, b: (x[a:b],))
    torch._dynamo.reset()
    stats = torch._dynamo.utils.counters["stats"]  # counts over the process: compare changes
    before = stats["unique_graphs"]
    step = blocks_compiled(block_field, fullgraph=True, dynamic=False)
    last = functools.partial(advance_block, block_field)
    got, _, _ = run_blocks(plan, step, y0, t, functools.partial(_rows, x), last_step=last)
    graphs = stats["unique_graphs"]
    assert graphs - before == 1  # the full blocks' (the last, shorter one runs uncompiled)
    again, _, _ = run_blocks(plan, step, y0, t, functools.partial(_rows, 2.0 * x), last_step=last)
    assert stats["unique_graphs"] == graphs
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=2e-5, rtol=2e-5)
    assert not torch.equal(again[1], got[1])


def test_each_field_keeps_its_own_compiled_graphs() -> None:
    """Compiled graphs are cached per code object: each field's block function has its
    own, so many wrappers in one process never reach dynamo's recompile limit."""
    import torch._dynamo

    torch._dynamo.reset()
    t = torch.arange(2 * BLOCK, dtype=torch.float64)
    y0 = (torch.ones(3, dtype=torch.float64),)
    plan = plan_blocks(y0, t, "euler")
    assert not isinstance(plan, str)
    fields = 2 * torch._dynamo.config.recompile_limit
    frames = torch._dynamo.utils.counters["frames"]
    before = frames["ok"], frames["total"]
    for k in range(fields):

        def field(v, x_i, h, rate=float(k + 1)):
            return (-rate * v + x_i, v)

        step = blocks_compiled(field, backend="eager")
        for grad in (False, True):
            with torch.set_grad_enabled(grad):
                aux, _, _ = run_blocks(plan, step, y0, t, functools.partial(_rows, t))
        want, _, _ = run_blocks(plan, functools.partial(advance_block, field), y0, t, functools.partial(_rows, t))
        torch.testing.assert_close(aux[0], want[0])
    ok, total = frames["ok"] - before[0], frames["total"] - before[1]
    assert ok == total == 2 * fields  # every field compiled in both grad modes, none fell back
