"""Multiply-adds of a fractional method's history, per neuron, over one gradient-free solve.

Counted as :mod:`spikede_solvers` runs them in inference (no gradient, fixed orders), on a
grid of ``N`` points (``S = N - 1`` steps, ``S`` coefficients per lag sequence):

* full history: at step ``n`` every stored row enters the lagged sum, ``n + 1`` rows for
  ``gl``/``glmulti``/``pred`` and ``n`` for ``l1``/``trap`` (whose sums start at lag 1);
  the blocked evaluation (one matrix product per block of steps for the older rows) does
  the same products, plus the rows of a last partial block that no step reads
  (``gl``/``glmulti``/``pred`` stream, with blocks of ``STREAM_BLOCK`` steps). Grows like
  ``N^2 / 2``.
* ``memory=M``: ``gl``/``glmulti``/``pred`` stream a ring of ``min(M, S)`` rows, all of
  them multiplied at every step; ``l1``/``trap`` sum ``min(n, M)`` rows. At most ``M`` per
  step.
* ``history="soe"`` (``K = soe_terms + 1`` running sums, ``soe_terms`` as given or as the
  solver chooses it from ``soe_tol`` for the order and grid; ``W = soe_window`` exact lags):
  ``gl``/``glmulti``/``pred`` stream ``W + B`` rows per step (a ring of ``W + B`` rows,
  ``B`` the largest divisor of ``W`` up to 8, in one product to which a row of the sums'
  contribution is added), plus ``K (2 B + 1)`` every ``B`` steps once the ring is full:
  ``B`` rows folded into the running sums (``K (B + 1)``), and the sums' contributions to
  the next ``B`` phases (``K B``);
  ``l1``/``trap`` sum ``min(n, W)`` exact rows and, once rows older than the window exist,
  ``K`` to fold one row in and ``K`` to weight the sums. At most
  ``W + B + K (2 B + 1) / B`` per step. With ``S <= W`` there is no tail and the
  full history is summed.
* ``trap`` adds the initial-value term ``d_n f_0`` (one multiply-add) at every step inside
  its window.

Not counted: the method's own update (``h^a f``, the subtraction, the corrector steps'
arithmetic), the coefficient computation and the SOE fit (once per solve, independent of
the neurons).
"""

from __future__ import annotations

from typing import Any

import torch

from spikede_solvers._history import soe_terms
from spikede_solvers._stream import StreamingHistory, absorb_block

__all__ = ["history_macs_per_neuron"]

#: Defaults of spikede_solvers' ``options={"history": "soe"}`` and blocked sums (checked
#: against the solver package by the tests).
SOE_WINDOW = 8
BLOCK = 64
STREAM_BLOCK = 32

_FIRST_LAG = {"gl": 0, "glmulti": 0, "pred": 0, "l1": 1, "trap": 1}
_STREAMS = frozenset({"gl", "glmulti", "pred"})


def _blocked(steps: int, first: int, block: int) -> int:
    """Products of the blocked full sum: each step's own block exactly, older rows by one
    matrix product per block (``_FarBlock``: ``size`` steps times ``begin - first`` rows)."""
    total = 0
    begin = None
    for last in range(steps):
        count = last - first + 1
        if count <= 0:
            continue
        if not (block > 1 and count > block):
            total += count
            continue
        b = first + ((last - first) // block) * block
        if b != begin:
            begin = b
            size = min(block, steps - b + first)
            total += size * (b - first)
        total += last - b + 1
    return total


def _streamed(steps: int, rows: int, block: int) -> int:
    """Products of the streamed full sum (``ExactStreamingHistory``): each step's own
    block exactly, older rows by one product of ``min(block, rows - begin)`` steps when a
    block starts (``rows`` buffer rows: ``N`` for ``gl``/``glmulti``, ``N - 1`` for ``pred``).
    The solver splits that product over two levels (superblocks), with the same count."""
    block = block if block > 1 else max(rows, 1)
    total = 0
    for last in range(steps):
        begin = (last // block) * block
        total += last - begin + 1
        if begin and last == begin:
            total += min(block, rows - begin) * begin
    return total


def history_macs_per_neuron(
    method: str,
    n_points: int,
    options: dict[str, Any] | None = None,
    alpha: float = 0.5,
    dtype: torch.dtype = torch.float32,
) -> int:
    """History multiply-adds per neuron for ``method`` on ``n_points`` grid points.

    Args:
        method: A fractional method of ``spikede_solvers`` (``gl``, ``glmulti``, ``l1``,
            ``trap``, ``pred``); any other method (integer order) has no history: 0.
        n_points: Number of grid points ``N``.
        options: The solve's options (``memory``, ``history``, ``soe_terms``,
            ``soe_window``, ``soe_tol``, ``block``).
        alpha: The order (it sets the number of exponentials ``soe_tol`` chooses).
        dtype: The state's dtype (likewise).

    Returns:
        The count, over the whole solve, for one state element.
    """
    if method not in _FIRST_LAG or n_points < 2:
        return 0
    opts = dict(options or {})
    steps = n_points - 1
    first = _FIRST_LAG[method]  # the sums of step n start at row `first`: lags 0 or 1
    memory = opts.get("memory")
    soe = opts.get("history", "full") == "soe"
    window = int(opts.get("soe_window", SOE_WINDOW))
    f0 = steps if method == "trap" else 0  # d_n f_0 at every step (full history, soe)
    if memory is not None:
        m = int(memory)
        if method == "trap":
            f0 = min(steps, m)
        if method in _STREAMS:
            return steps * min(m, steps)
        return sum(min(n, m) for n in range(steps)) + f0
    if soe and steps > window:
        terms = soe_terms(method, n_points, alpha, opts, dtype) + 1
        if method in _STREAMS:
            # A ring of W + B rows in one product (plus a contribution row); B rows join
            # the sums at once (K B multiply-adds and K multiplies), and the sums give
            # the next B phases' contribution rows (K each), when the row written
            # (n + 1 for gl, n for pred) is a multiple of B past the ring
            block = absorb_block(window, StreamingHistory.ABSORB)
            slots = window + block
            written = 1 if method != "pred" else 0
            folds = sum(1 for n in range(steps) if (k := n + written) >= slots and k % block == 0)
            return steps * slots + terms * (2 * block + 1) * folds
        exact = sum(min(n, window) for n in range(steps))
        tail = sum(2 * terms for n in range(steps) if n - window >= 1)
        return exact + tail + f0
    if method in _STREAMS:
        rows = n_points if method != "pred" else steps
        return _streamed(steps, rows, 0 if soe else int(opts.get("block", STREAM_BLOCK)))
    block = 0 if soe else int(opts.get("block", BLOCK))  # no tail to fit: plain exact sums
    return _blocked(steps, first, block) + f0
