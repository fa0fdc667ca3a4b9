"""A blocked solve continued from, and saved as, a :class:`~spikede_solvers.History`.

The blocked carry of ``gl`` (see :mod:`spikede_solvers._blocked`) and a streamed
history's saved form hold the same numbers: at the last point ``n`` of a solve, the last
``W`` rows ``z_{n-W+1} .. z_n`` (``z = y - y0``) are the carry's ``recent`` rows and its
``z``, and the running SOE sums over every older row are its ``H``. So a blocked solve
continues a history that :func:`~spikede_solvers.solve` saved, saves one that ``solve``
continues, and either equals ``solve``'s own to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from spikede_solvers._blocked import BlockPlan
from spikede_solvers._resume import History, Saved, kept_from, saved_history
from spikede_solvers._soe import SoeTail

__all__ = ["carry_from_history", "history_from_carry"]


def carry_from_history(plan: BlockPlan, history: History) -> tuple[Tensor, ...]:
    """The carry at the history's end time, the first point of the continued solve:
    ``history.y`` for ``euler``; for ``gl`` per component ``(H, recent, z)`` from the
    saved rows and sums (rows before the run's start are zero)."""
    if plan.method == "euler":
        return tuple(history.y)
    carry: list[Tensor] = []
    for (_, p, q, *_rest), kept, y in zip(plan.weights, history.saved, history.y):
        assert kept is not None, "a gl history saves every component's rows"
        n, recent = y.numel(), q.shape[1]
        rows = kept.rows.reshape(kept.rows.shape[0], n).to(y.dtype)[-(recent + 1) :]
        if rows.shape[0] < recent + 1:
            rows = torch.cat([rows.new_zeros(recent + 1 - rows.shape[0], n), rows])
        sums = rows.new_zeros(p.shape[1], n) if kept.sums is None else kept.sums.reshape(-1, n).to(y.dtype)
        carry += [sums, rows[:recent], rows[recent]]
    return tuple(carry)


def history_from_carry(plan: BlockPlan, carry: Sequence[Tensor]) -> History:
    """The :class:`History` at the grid's last point from the carry there, as
    :func:`~spikede_solvers.solve` saves it (``return_history=True``)."""
    problem = plan.problem
    assert problem is not None
    last = problem.n_points - 1
    if plan.method == "euler":
        return saved_history("euler", problem, last, tuple(carry), (None,) * len(carry), {})
    y, saved, shift = [], [], last
    for c, (start, window, tail) in enumerate(zip(problem.y0, plan.windows, plan.tails)):
        sums, recent, z = carry[3 * c : 3 * c + 3]
        y.append(start + z.view(start.shape))
        # A short full history (no tail fitted) keeps every row, as solve's buffer.
        first = 0 if tail is None and problem.memory is None else max(0, last - window + 1)
        rows = _rows(torch.cat([recent, z[None]]), last - first + 1)
        keep_sums = tail is not None and last >= window
        saved.append(
            Saved(
                rows.reshape(rows.shape[0], *start.shape),
                first + problem.offset,
                sums.reshape(-1, *start.shape).clone() if keep_sums else None,
                problem.offset,
                _saved_tail(tail, start) if keep_sums else None,
            )
        )
        shift = min(shift, kept_from(first, keep_sums, problem))
    return saved_history("gl", problem, shift, tuple(y), tuple(saved), {})


def _rows(carried: Tensor, count: int) -> Tensor:
    """The last ``count`` rows up to the carry's last (a copy); rows older than the
    carried ones are row 0, ``z_0 = 0``."""
    if count > carried.shape[0]:
        return torch.cat([carried.new_zeros(count - carried.shape[0], carried.shape[1]), carried])
    return carried[carried.shape[0] - count :].clone()


def _saved_tail(tail: SoeTail, like: Tensor) -> SoeTail:
    """The tail as a saved history holds it (flat decays, the state's dtype)."""
    return SoeTail(tail.window, tail.decays.reshape(-1).to(like.dtype), tail.amplitudes.reshape(-1).to(like.dtype))
