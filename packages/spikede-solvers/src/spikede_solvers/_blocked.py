"""Solves advanced ``B`` steps per call of one pure function, so that it compiles whole.

A compiled vector field called once per step pays the compiled call's own overhead
(guards, wrappers) at every step, which on a small network is as large as the field.
Here a call advances a whole block of ``B`` steps: ``B`` evaluations of the field and
their updates in one function of tensors, without Python state, so ``torch.compile``
fuses a block into one graph (and its backward into another), compiled once and reused
by every block of every call.

Explicit Euler (``odeint``) carries the state. Grünwald–Letnikov with a streaming
history (``history="soe"`` or ``memory=M``; fixed orders) carries, per component, with
``z_n = y_n - y0`` and the block's first step ``n0``:

* ``H`` (``[K, N]``): the SOE running sums over the rows older than the last ``R``,
  ``H_k = sum_{r <= L} d_k^(L - r) z_r`` with ``L = n0 - R - 1``;
* ``recent`` (``[R, N]``): rows ``n0 - R .. n0 - 1`` (``R = max(W - 1, 1)`` for a window
  or memory of ``W`` lags, so that every row older than them has a lag ``>= W``);
* ``z_{n0}``.

At the block's start one product gives each step's sum over the rows before the block,
``near_i = P H + Q recent`` (``P[i, k] = b_k d_k^(R + 1 + i - W)``, ``Q[i, t]`` the
coefficient of lag ``R - t + i``); step ``i`` then adds the block's own rows,
``S = near_i + sum_{j <= i} c_{i-j} z_{n0+j}``, and ``z_{n0+i+1} = h^a f - S``. After the
block the oldest ``B`` rows of ``recent`` and the block join the sums, ``H <- d^B H + A
rows``. Coefficients are those of the streamed history (exact lags ``< W``, the fitted
tail beyond, zero beyond ``memory``), so results equal the per-step solve to rounding.
Nothing depends on the block's position: every block runs the same function.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from spikede_solvers._base import Problem
from spikede_solvers._checks import check_solve
from spikede_solvers._engine import _Watch
from spikede_solvers._history import soe_tail
from spikede_solvers._resume import History, check_continued, continued_grid
from spikede_solvers._soe import SoeTail
from spikede_solvers._weights import gl_weights, wide

__all__ = ["BLOCK", "MAX_RECENT", "BlockPlan", "advance_block", "plan_blocks", "run_blocks"]

#: Steps per block: a compiled block unrolls this many evaluations of the field.
BLOCK = 8
#: Most rows of exact history a block carries (``memory`` or ``soe_window`` beyond it
#: takes the per-step solve, whose ring does not copy its rows every block).
MAX_RECENT = 64


@dataclass(frozen=True)
class BlockPlan:
    """What a blocked solve runs: the method, the step and the weights.

    Attributes:
        method: ``"euler"`` or ``"gl"``.
        h: The uniform step.
        block: Steps per block.
        weights: Per component, ``gl``'s ``(scale, P, Q, lower, decay, absorb)``
            (``lower[i, j] = c_{i-j}``; ``P``, ``decay``, ``absorb`` empty without a
            tail; ``Q``'s width is ``R``, the exact rows carried); ``()`` per component
            for ``euler``.
        problem: The checked problem on the whole (for a continued solve, virtual) grid:
            what saving the history needs (see :mod:`spikede_solvers._blocked_resume`).
        windows: Per component, the exact lags ``W`` of ``gl`` (empty for ``euler``).
        tails: Per component, the SOE tail ``gl`` uses (``None`` for ``memory``).
    """

    method: str
    h: float
    block: int
    weights: tuple[tuple[Tensor, ...], ...]
    problem: Problem | None = None
    windows: tuple[int, ...] = ()
    tails: tuple[SoeTail | None, ...] = ()

    def initial(self, y0: Sequence[Tensor]) -> tuple[Tensor, ...]:
        """The carry before the first block: ``(y0...)`` for ``euler``; for ``gl`` per
        component ``(H, recent, z)``, all zero (rows before the start are zero)."""
        if self.method == "euler":
            return tuple(y0)
        carry: list[Tensor] = []
        for y, (_, p, q, *_rest) in zip(y0, self.weights):
            n = y.numel()
            carry += [y.new_zeros(p.shape[1], n), y.new_zeros(q.shape[1], n), y.new_zeros(n)]
        return tuple(carry)


def _gl_weights(
    order: Tensor,
    n_points: int,
    h: float,
    like: Tensor,
    memory: int | None,
    options: dict[str, Any],
    block: int,
    saved_tail: SoeTail | None = None,
) -> tuple[tuple[Tensor, ...], int, SoeTail | None]:
    """``gl``'s block weights for one component, its window ``W`` and its SOE tail; the
    coefficients and the tail are those :class:`~spikede_solvers._stream.StreamingHistory`
    streams (a continued solve's saved tail replaces the fit, as there)."""
    dtype = like.dtype
    a64 = wide(order.detach())
    coefs = gl_weights(a64, n_points)[1:].to(dtype)  # c_l = w_{l+1}, by lag
    scale = (a64.new_tensor(h) ** a64).to(dtype)
    tail = None
    if memory is None:
        tail = soe_tail(options, coefs, like) if saved_tail is None else saved_tail
        window = coefs.shape[0] if tail is None else tail.window
    else:
        window = memory
    window = min(window, coefs.shape[0])
    recent = max(window - 1, 1)
    exact = coefs[:window].double()
    if tail is None:
        decays = amplitudes = torch.zeros(0, dtype=torch.float64, device=like.device)
    else:
        decays = tail.decays.reshape(-1).to(dtype).double()
        amplitudes = tail.amplitudes.reshape(-1).to(dtype).double()
    top = recent + 2 * block

    def coef(lags: Tensor) -> Tensor:
        """The streamed coefficient of each lag: exact, the tail's, or zero."""
        tail_part = (amplitudes * decays ** (lags.clamp(min=window) - window)[..., None]).sum(-1)
        return torch.where(lags < window, exact[lags.clamp(max=window - 1)], tail_part)

    lags = torch.arange(top, device=like.device)
    table = coef(lags)
    i = torch.arange(block, device=like.device)
    lower_lag = i[:, None] - i[None, :]
    lower = torch.where(lower_lag >= 0, table[lower_lag.clamp(min=0)], 0.0)
    q = table[recent - torch.arange(recent, device=like.device)[None, :] + i[:, None]]
    p = amplitudes[None, :] * decays[None, :] ** (recent + 1 - window + i)[:, None].double()
    decay = (decays**block).reshape(-1, 1)
    absorb = decays[:, None] ** (block - 1 - i)[None, :].double()
    weights = tuple(w.to(dtype) for w in (scale, p, q, lower, decay, absorb))
    return weights, window, tail


def plan_blocks(
    y0: Sequence[Tensor],
    t: Tensor,
    method: str,
    *,
    alpha: Any = None,
    memory: int | None = None,
    options: dict[str, Any] | None = None,
    block: int = BLOCK,
    initial_history: History | None = None,
) -> BlockPlan | str:
    """The plan of a blocked solve, or why this solve cannot be blocked (a sentence).

    The arguments are :func:`~spikede_solvers.solve`'s and are checked the same way.
    Blocked: ``euler``, and ``gl`` with a streaming history (``history="soe"`` or
    ``memory``) and single-term orders that need no gradient, one per component
    (0-d), on a uniform grid. A continued solve (``initial_history``, ``y0=None``) is
    planned on its virtual grid, the saved times followed by ``t``, as ``solve`` runs it.

    Args:
        y0: The initial state components (``None`` with ``initial_history``).
        t: The grid.
        method: The method name.
        alpha: The orders (``gl``).
        memory: Short memory length (``gl``).
        options: Method options.
        block: Steps per block.
        initial_history: The saved history this solve continues.

    Returns:
        A :class:`BlockPlan`, or the reason as a string.
    """
    if method not in ("euler", "gl"):
        return f"method {method!r} is not blocked (euler and gl are)"
    if initial_history is not None:
        t, y0 = continued_grid(initial_history, y0, t, method)
    _, problem = check_solve(
        lambda *a: None, tuple(y0), t, method, alpha, None, memory, options, False, False
    )
    if initial_history is not None:
        check_continued(initial_history, problem)
        problem.offset = initial_history.offset
    if problem.n_points < 2:
        return "the grid has a single point"
    if not problem.uniform:
        return "the grid is not uniform"
    if method == "euler":
        return BlockPlan("euler", problem.h, block, tuple(() for _ in problem.y0), problem)
    opts = problem.options
    if problem.memory is None and opts.get("history", "full") != "soe":
        return "the full history grows with every step (history='soe' or memory=M is blocked)"
    saved = initial_history.saved if initial_history is not None else (None,) * len(problem.y0)
    weights, windows, tails = [], [], []
    for comp, y, kept in zip(problem.components, problem.y0, saved):
        if comp.coefficients is not None or comp.orders is None or comp.orders.dim() != 0:
            return "only single-term orders, one per component, are blocked"
        if comp.orders.requires_grad and torch.is_grad_enabled():
            return "learnable orders are not blocked"
        w, window, tail = _gl_weights(
            comp.orders, problem.n_points, problem.h, y, problem.memory, opts, block,
            None if kept is None else kept.tail,
        )
        if window - 1 > MAX_RECENT:
            return f"a window of {window} exact lags is longer than a block carries ({MAX_RECENT + 1})"
        weights.append(w)
        windows.append(window)
        tails.append(tail)
    return BlockPlan("gl", problem.h, block, tuple(weights), problem, tuple(windows), tuple(tails))


def advance_block(
    field: Callable[..., Any],
    weights: tuple[tuple[Tensor, ...], ...],
    y0: tuple[Tensor, ...],
    carry: tuple[Tensor, ...],
    inputs: tuple[Tensor, ...],
    extras: tuple[Any, ...],
    h: float,
    states: bool = False,
    final: bool = False,
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], Tensor]:
    """Advance one block: ``inputs[k][i]`` are step ``i``'s inputs (``n = inputs[0].shape[0]``
    steps, at most the plan's block).

    ``field(*y, *inputs_i, *extras, h)`` returns the derivatives of the components, then
    the auxiliary outputs. Pure: the same tensors give the same results, and nothing but
    the arguments is read, so ``torch.compile`` traces it whole.

    Returns:
        ``(carry, aux, probes)``: the carry after the block, each auxiliary output stacked
        over the block's steps (with ``states``, followed by the components of the state
        each evaluation sees), and the sums of the state the last evaluation sees and of
        the state after it (finiteness probes). With ``final`` (a grid's last block) the
        last evaluation takes no step: the carry is the state at the last point.
    """
    n = inputs[0].shape[0]
    updates = n - 1 if final else n
    count = len(y0)
    euler = len(weights[0]) == 0
    if euler:
        y = tuple(carry)
    else:
        parts = [carry[3 * c : 3 * c + 3] for c in range(count)]
        near = [
            (wq @ recent if wp.shape[1] == 0 else torch.addmm(wq @ recent, wp, sums))
            for (_, wp, wq, *_r), (sums, recent, _) in zip(weights, parts)
        ]
        rows: list[list[Tensor]] = [[z] for (_, _, z) in parts]
        y = tuple(y0[c] + rows[c][0].view(y0[c].shape) for c in range(count))
    aux_steps = []
    for i in range(n):
        if i == n - 1:
            before = _total(y)  # the state the block's last evaluation sees
        out = field(*y, *(x[i] for x in inputs), *extras, h)
        dy, aux = out[:count], out[count:]
        aux_steps.append((*aux, *y) if states else aux)
        if i == updates:
            break
        if euler:
            y = tuple(yc + h * d for yc, d in zip(y, dy))
        else:
            new = []
            for c in range(count):
                scale, lower = weights[c][0], weights[c][3]
                s = near[c][i]
                for j in range(i + 1):
                    s = s + lower[i, j] * rows[c][j]
                z = scale * dy[c].reshape(-1) - s
                rows[c].append(z)
                new.append(y0[c] + z.view(y0[c].shape))
            y = tuple(new)
    stacked = tuple(torch.stack(a) for a in zip(*aux_steps)) if aux_steps[0] else ()
    probes = torch.stack([before, _total(y)])
    if euler:
        return y, stacked, probes
    out_carry: list[Tensor] = []
    for c in range(count):
        _, wp, _, _, decay, absorb = weights[c]
        sums, recent, _ = parts[c]
        if updates == 0:
            out_carry += [sums, recent, rows[c][0]]
            continue
        joined = torch.cat([recent, torch.stack(rows[c][:updates])])
        if wp.shape[1]:  # the oldest rows join the sums (d^u: absorb's column B - 1 - u)
            u, width = updates, absorb.shape[1]
            decay_u = decay if u == width else absorb[:, width - 1 - u].unsqueeze(1)
            sums = torch.addmm(decay_u * sums, absorb[:, width - u :], joined[:u])
        out_carry += [sums, joined[updates:], rows[c][updates]]
    return tuple(out_carry), stacked, probes


def _total(y: tuple[Tensor, ...]) -> Tensor:
    """One number that is finite exactly when every component is (a finiteness probe;
    detached, so that no backward runs for it)."""
    return sum(v.detach().sum() for v in y)


def run_blocks(
    plan: BlockPlan,
    step: Callable[..., tuple[tuple[Tensor, ...], tuple[Tensor, ...], Tensor]],
    y0: Sequence[Tensor],
    t: Tensor,
    inputs: Callable[[int, int], tuple[Tensor, ...]],
    extras: tuple[Any, ...] = (),
    last_step: Callable[..., tuple[tuple[Tensor, ...], tuple[Tensor, ...], Tensor]] | None = None,
    carry: tuple[Tensor, ...] | None = None,
    end_carry: bool = False,
) -> tuple[tuple[Tensor, ...], int, tuple[Tensor, ...] | None]:
    """Run a blocked solve over the grid ``t``; return the auxiliary outputs stacked over
    the grid points (evaluated at each, as :func:`~spikede_solvers.solve` records them),
    the number of evaluations, and with ``end_carry`` the carry at the last point (else
    ``None``).

    ``step(weights, y0, carry, inputs, extras, h)`` is :func:`advance_block` with its field
    bound (compiled, or not); ``inputs(start, stop)`` the stacked inputs of grid points
    ``start .. stop - 1``. A last block shorter than the others runs ``last_step``
    (default ``step``): the uncompiled function, so that every grid length reuses the
    full blocks' graphs instead of compiling one for its remainder. With ``end_carry``
    the last block always runs ``last_step``, called with ``final=True``. ``carry`` is
    the carry at ``t[0]`` (default: the plan's initial carry).

    Raises:
        FloatingPointError: If the solution became non-finite (the step is named).
    """
    y0 = tuple(y0)
    points = t.shape[0]
    carry = plan.initial(y0) if carry is None else carry
    aux_blocks: list[tuple[Tensor, ...]] = []
    watch = _Watch()
    for start in range(0, points, plan.block):
        stop = min(start + plan.block, points)
        run = step if stop - start == plan.block or last_step is None else last_step
        if end_carry and stop == points:
            run = functools.partial(last_step or step, final=True)
        carry, aux, probes = run(plan.weights, y0, carry, inputs(start, stop), extras, plan.h)
        aux_blocks.append(aux)
        # The evaluation at the last point is for its auxiliary outputs only: the last
        # block's probe is the state it sees.
        final = stop == points
        watch.steps.append(stop - 1 if final else stop)
        watch.sums.append(probes[0 if final else 1])
    watch.check(t, [plan.h] * max(points - 1, 1), [])
    aux = tuple(torch.cat(parts) for parts in zip(*aux_blocks)) if aux_blocks and aux_blocks[0] else ()
    return aux, points, carry if end_carry else None


def blocks_compiled(field: Callable[..., Any], states: bool = False, **compile_options: Any) -> Callable[..., Any]:
    """``torch.compile`` of :func:`advance_block` with ``field`` (and ``states``) bound (made
    once per field: every block of every call reuses its graphs)."""

    def step(weights, y0, carry, inputs, extras, h):  # type: ignore[no-untyped-def]
        return advance_block(field, weights, y0, carry, inputs, extras, h, states)

    # Dynamo keeps compiled graphs (and its recompile limit) per code object: a code
    # object of this field's own keeps other fields' graphs out of its cache.
    step.__code__ = step.__code__.replace()
    return torch.compile(step, **compile_options)

