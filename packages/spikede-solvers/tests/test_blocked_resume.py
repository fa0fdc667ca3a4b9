"""Blocked solves continued from and saved as a History, against ``solve``'s own."""

from __future__ import annotations

import functools

import pytest
import torch

from spikede_solvers import History, solve
from spikede_solvers._blocked import advance_block, plan_blocks, run_blocks
from spikede_solvers._blocked_resume import carry_from_history, history_from_carry

CASES = {
    "gl soe": ("gl", {"alpha": [0.6, 0.85], "options": {"history": "soe"}}),
    "gl soe window 3": ("gl", {"alpha": [0.7, 0.7], "options": {"history": "soe", "soe_window": 3}}),
    "gl memory 5": ("gl", {"alpha": [0.6, 0.6], "memory": 5}),
    "euler": ("euler", {}),
}
W = torch.randn(3, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def _input(t: torch.Tensor) -> torch.Tensor:
    """A drive of every time ``t`` (``[len(t), 4, 3]``): chunks read it by time."""
    phase = torch.arange(12, dtype=t.dtype).reshape(1, 4, 3)
    return 1.0 + torch.sin(0.7 * t.reshape(-1, 1, 1) + phase)


def _block_field(v1, v2, x_i, h):
    spikes = torch.sigmoid(8.0 * (v1 - 0.5))
    return (x_i @ W - v1, spikes.sum(1, keepdim=True) - 0.5 * v2, (v1 > 0.5).to(v1.dtype))


def _func(t, y, args, step):
    out = _block_field(*y, _input(t.reshape(1))[0], step.h)
    return out[:2], out[2:]


Y0 = (torch.zeros(4, 5, dtype=torch.float64), torch.full((4, 1), 0.25, dtype=torch.float64))


def _blocked(method, kw, t, history=None):
    """A blocked solve on ``t`` (continuing ``history``) that saves its history."""
    y0 = None if history is not None else Y0
    plan = plan_blocks(y0, t, method, initial_history=history, **kw)
    assert not isinstance(plan, str), plan
    start = history.y0 if history is not None else Y0
    carry = None if history is None else carry_from_history(plan, history)
    step = functools.partial(advance_block, _block_field)
    aux, _, end = run_blocks(
        plan, step, start, t, lambda a, b: (_input(t[a:b]),), carry=carry, end_carry=True
    )
    return aux, history_from_carry(plan, end)


def _assert_same_history(got: History, want: History) -> None:
    assert (got.method, got.offset, got.memory, got.history_options) == (
        want.method, want.offset, want.memory, want.history_options,
    )
    torch.testing.assert_close(got.times, want.times, atol=0.0, rtol=0.0)
    for a, b in zip((*got.y, *got.y0), (*want.y, *want.y0)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)
    assert got.carry == want.carry == {}
    for s, r in zip(got.saved, want.saved):
        assert (s is None) == (r is None)
        if s is None:
            continue
        assert (s.first, s.sum_start) == (r.first, r.sum_start)
        torch.testing.assert_close(s.rows, r.rows, atol=1e-12, rtol=1e-12)
        assert (s.sums is None) == (r.sums is None)
        if s.sums is not None:
            torch.testing.assert_close(s.sums, r.sums, atol=1e-12, rtol=1e-12)
            assert s.tail.window == r.tail.window
            torch.testing.assert_close(s.tail.decays, r.tail.decays.reshape(-1))
            torch.testing.assert_close(s.tail.amplitudes, r.tail.amplitudes.reshape(-1))


@pytest.mark.parametrize("first_points", [4, 21])  # shorter than the window; several blocks
@pytest.mark.parametrize("case", sorted(CASES))
def test_blocked_chunks_save_and_continue_as_solve_does(case: str, first_points: int) -> None:
    method, kw = CASES[case]
    t = 0.5 * torch.arange(first_points + 30, dtype=torch.float64)
    k = first_points - 1
    whole = solve(_func, Y0, t, method, has_aux=True, **kw)
    first = solve(_func, Y0, t[: k + 1], method, has_aux=True, return_history=True, **kw)
    aux1, saved1 = _blocked(method, kw, t[: k + 1])
    _assert_same_history(saved1, first.history)
    rest = solve(_func, None, t[k:], method, has_aux=True, initial_history=first.history, return_history=True, **kw)
    aux2, saved2 = _blocked(method, kw, t[k:], history=saved1)
    _assert_same_history(saved2, rest.history)
    for got, want in zip(aux2, rest.aux):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=1e-12)
    # a solve continues a blocked history, and the chunks are one solve over t
    mixed = solve(_func, None, t[k:], method, has_aux=True, initial_history=saved1, **kw)
    torch.testing.assert_close(mixed.aux[0], rest.aux[0], atol=0.0, rtol=0.0)
    spikes = torch.cat([aux1[0], aux2[0][1:]])
    rate = float(spikes.mean())
    assert 0.05 < rate < 0.95, rate
    if method == "euler" or "memory" in kw:  # soe: a continued chunk reuses the first fit
        assert float((spikes == whole.aux[0]).double().mean()) > 0.99


def test_a_blocked_continuation_is_checked_as_solve_checks_it() -> None:
    method, kw = CASES["gl soe"]
    t = 0.5 * torch.arange(12, dtype=torch.float64)
    _, saved = _blocked(method, kw, t)
    with pytest.raises(ValueError, match="end time"):
        plan_blocks(None, t + 1.0, method, initial_history=saved, **kw)
    with pytest.raises(ValueError, match="orders"):
        plan_blocks(None, t[-1] + t, method, initial_history=saved, alpha=[0.5, 0.85], options=kw["options"])
