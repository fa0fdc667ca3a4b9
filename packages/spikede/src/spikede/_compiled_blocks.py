"""``compile=True``: the solve advanced a block of steps per compiled call.

A compiled field called once per step pays the compiled call's overhead (guards,
wrappers) at every step, about as much as a small network's whole step. Where the
solve allows it (``euler``; ``gl`` with ``history="soe"`` or ``memory``; see
:func:`spikede_solvers._blocked.plan_blocks`) one compiled function runs the field and
the updates of ``BLOCK`` steps at once, reading the block's precomputed inputs; other
solves compile the field alone.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from spikede_fx import FieldArgs
from spikede_solvers import History
from spikede_solvers._blocked import BLOCK, advance_block, blocks_compiled, plan_blocks, run_blocks
from spikede_solvers._blocked_resume import carry_from_history, history_from_carry

__all__ = ["blocked_solve"]


def blocked_solve(
    compiled: dict[str, Any],
    args: FieldArgs,
    v0: tuple[torch.Tensor, ...] | None,
    grid: torch.Tensor,
    method: str,
    alphas: Any,
    coefficients: Any,
    options: dict[str, Any],
    keep_states: bool = False,
    initial_history: History | None = None,
    return_history: bool = False,
) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...] | None, int, History | None] | None:
    """The boundaries on the grid, the membranes at the grid points (with
    ``keep_states``, else ``None``), the number of evaluations and the saved history
    (with ``return_history``, else ``None``) of a blocked solve, or ``None`` when this
    solve is not blocked (the caller runs the per-step solve).

    With a recording (``args.record``) the recording graph is the field, and the
    recorded spikes and membranes follow the boundaries, as in the per-step solve.

    Args:
        compiled: The wrapper's compiled functions (this adds the block functions, once).
        args: The call's field inputs (their table holds the precomputed inputs).
        v0: The initial membranes.
        grid: The solver grid.
        method: The method.
        alphas: The orders per layer (``None`` for integer order).
        coefficients: Multi-term weights (``None`` when single-term).
        options: The solver options.
        keep_states: Also return the membranes each evaluation sees.
        initial_history: The saved history this solve continues (``v0`` is ``None``).
        return_history: Save the history at the grid's last point, as ``solve`` does.
    """
    table = args.table
    if table is None or coefficients is not None or options.get("checkpoint"):
        return None
    if table.size % BLOCK:
        return None
    plan = plan_blocks(v0, grid, method, alpha=alphas, options=options or None, initial_history=initial_history)
    if isinstance(plan, str):
        return None
    y0 = v0 if initial_history is None else initial_history.y0
    network, record = args.network, args.record
    kind = "state" if table.split else "ode"
    if record is None:
        graph = network.input_part.state_gm if table.split else network.ode
        key = f"blocks_{kind}"
    else:  # the recording graphs, built once per set of recorded layers
        graph = record.state if table.split else record.ode
        key = f"blocks_{kind}_recording_{'_'.join(map(str, record.calls))}"
    if keep_states:
        key += "_states"
    if key not in compiled:
        compiled[key] = blocks_compiled(graph.forward, keep_states, dynamic=False)
    aux, nfe, end = run_blocks(
        plan,
        compiled[key],
        y0,
        grid,
        lambda start, stop: table.chunk(start, plan.block),
        tuple(args.extras),
        last_step=functools.partial(advance_block, graph.forward, states=keep_states),
        carry=None if initial_history is None else carry_from_history(plan, initial_history),
        end_carry=return_history,
    )
    saved = None if end is None else history_from_carry(plan, end)
    if not keep_states:
        return aux, None, nfe, saved
    return aux[: len(aux) - len(y0)], aux[len(aux) - len(y0) :], nfe, saved
