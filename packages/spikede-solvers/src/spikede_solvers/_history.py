"""Vectorised history sums over a preallocated, append-only buffer.

Every fractional method needs, at step ``n``, a weighted sum over the stored past
``sum_i c_i * buf[n - i]``. The past lives in a preallocated plain buffer (never part of
the autograd graph) whose row ``k`` is written exactly once. Autograd is wired around it
with two small functions:

* ``_Store`` records the write of row ``k`` and returns a 0-d *token*; each token depends
  on the previous one, so the tokens form a chain ``token_0 <- token_1 <- ...``.
* ``_HistorySum`` computes the sum in one operation and takes the latest token. In
  backward it adds ``w * grad`` into a gradient accumulator for the rows it read (no
  full-buffer temporaries) and returns the weight gradient from the stored rows (safe:
  rows are final once written).

Because ``_Store`` of row ``k`` is upstream of every token that later sums used, autograd
runs it only after all those sums have deposited their contributions; it then hands the
accumulated row gradient to the written value. Backward costs the same as the forward
history sums, and memory stays linear in the number of steps.

Two variants share the buffer and the token chain:

* blocked exact sums (full history, one order per component): at the start of every
  block of ``block`` steps, ``_FarCompute`` multiplies the Toeplitz matrix of
  coefficients (a strided view of them) with all older rows once; each step then sums
  its own block's rows and picks its row of that product (``_FarRow``);
* the SOE tail (``history="soe"``, see :mod:`spikede_solvers._soe`): running
  exponential sums replace the rows older than the exact window, and ``_SoeTailSum``'s
  backward carries the adjoint running sums down the rows.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from spikede_solvers._autograd import once_differentiable_fast as once_differentiable
from spikede_solvers._base import Problem
from spikede_solvers._soe import DEFAULT_TOL, DEFAULT_WINDOW, SoeTail, fit_soe_tail
from spikede_solvers._stream import StreamingHistory
from spikede_solvers._stream_exact import DEFAULT_STREAM_BLOCK, ExactStreamingHistory

__all__ = ["DEFAULT_BLOCK", "History", "new_history", "soe_tail", "soe_terms", "streamable"]

#: Steps per block of the blocked exact history sum (``options={"block": k}``).
DEFAULT_BLOCK = 64


class History:
    """A preallocated history buffer of ``rows`` rows shaped like ``like``."""

    def __init__(
        self,
        rows: int,
        like: Tensor,
        tail: SoeTail | None = None,
        block: int = 0,
        reuse_for_grad: bool = False,
    ) -> None:
        self.buf = torch.zeros((rows, *like.shape), dtype=like.dtype, device=like.device)
        self.grad: Tensor | None = None
        self.last = -1  # the highest row written (a continued solve's history starts there)
        # Backward reads the stored rows only for the gradient of the coefficients; when
        # they need none, the buffer itself becomes the gradient accumulator (one buffer
        # of memory instead of two).
        self.reuse_for_grad = reuse_for_grad
        self.token: Tensor | None = None
        self.tail = tail
        # Blocked exact sum (full history, one order per component): every ``block``
        # steps, one matrix product computes the contribution of all older rows to the
        # next ``block`` steps, so a step only sums over the rows of its own block.
        self.block = block
        self.far: _FarBlock | None = None
        if tail is not None:
            # Running exponential sums H_k over the rows older than the exact window.
            self.soe = torch.zeros(
                (tail.decays.shape[0], *like.shape), dtype=like.dtype, device=like.device
            )
            self.soe_first: int | None = None  # first row of the sum (fixed per solve)
            self.soe_fed = 0  # next row to add to the running sums
            self.soe_adjoint: Tensor | None = None  # backward: the adjoint running sums
            self.soe_adjoint_row = 0

    def release(self) -> None:
        """Drop the forward-only token references once the solve has ended.

        Autograd nodes keep this object (their backward needs the buffer); the latest
        tokens, whose nodes point back here, must not be kept by it, or the cycle
        through C++ autograd nodes (which Python's garbage collector cannot see) would
        keep the buffers and the whole graph alive after backward.
        """
        self.token = None
        if self.far is not None:
            self.far.retire()
            self.far = None

    def write(self, k: int, value: Tensor) -> None:
        """Store ``value`` as row ``k`` (each row is written once)."""
        self.buf[k] = value.detach()
        self.last = max(self.last, k)
        if value.requires_grad and torch.is_grad_enabled():
            self.token = _Store.apply(value, self.token, self, k)

    def lagged_sum(self, coef_rev: Tensor, last: int, count: int) -> Tensor:
        """Return ``sum_{i=0}^{count-1} c[i] * buf[last - i]``.

        ``coef_rev`` holds the coefficient sequence reversed (``coef_rev[L-1-i] = c[i]``),
        so the coefficients and the rows used are both contiguous slices.
        """
        if count <= 0:
            return self.buf.new_zeros(self.buf.shape[1:])
        if self.tail is not None:
            return self._soe_sum(coef_rev, last, count)
        if self.block > 1 and count > self.block and coef_rev.dim() == 1:
            return self._blocked_sum(coef_rev, last, count)
        return self._exact_sum(coef_rev, last, count)

    def _blocked_sum(self, coef_rev: Tensor, last: int, count: int) -> Tensor:
        """``_exact_sum`` split at the start ``b`` of the current block of steps.

        Rows ``>= b`` are summed per step; rows ``< b`` come from :class:`_FarBlock`, built
        once per block by one matrix product (the first row ``last - count + 1`` must be
        fixed, i.e. full history).
        """
        first = last - count + 1
        b = first + ((last - first) // self.block) * self.block
        if self.far is None or self.far.begin != b:
            if self.far is not None:
                self.far.retire()
            self.far = _FarBlock(self, coef_rev, first, b)
        near = self._exact_sum(coef_rev, last, last - b + 1)
        return near + self.far.row(last - b)

    def _exact_sum(self, coef_rev: Tensor, last: int, count: int) -> Tensor:
        w = coef_rev[coef_rev.shape[0] - count :]
        start = last - count + 1
        if self.token is None and not (w.requires_grad and torch.is_grad_enabled()):
            return _weighted(w, self.buf[start : last + 1])
        return _HistorySum.apply(w, self.token, self, start, count)

    def _soe_sum(self, coef_rev: Tensor, last: int, count: int) -> Tensor:
        """Exact sum over the last ``window`` lags plus the SOE tail over older rows.

        Called once per step with ``last`` increasing by one and a fixed first row
        ``last - count + 1`` (full history).
        """
        tail = self.tail
        assert tail is not None
        first = last - count + 1
        if self.soe_first is None:
            self.soe_first = self.soe_fed = first
        exact = self._exact_sum(coef_rev, last, min(count, tail.window))
        newest_old_row = last - tail.window
        if newest_old_row < self.soe_first:
            return exact
        while self.soe_fed <= newest_old_row:  # one row per step after the start
            torch.addcmul(self.buf[self.soe_fed], self.soe, tail.decays, out=self.soe)
            self.soe_fed += 1
        b = tail.amplitudes
        if self.token is None and not (b.requires_grad and torch.is_grad_enabled()):
            return exact + _weighted(b, self.soe)
        return exact + _SoeTailSum.apply(b, self.token, self, newest_old_row)

    def _accumulate(self, start: int, contribution: Tensor) -> None:
        if self.grad is None:
            if self.reuse_for_grad:
                self.grad = self.buf.zero_()
            else:
                self.grad = torch.zeros_like(self.buf)
        self.grad[start : start + contribution.shape[0]] += contribution


class _FarBlock:
    """Contribution of rows ``first .. begin-1`` to the steps ``last = begin + i``.

    ``values[j]`` (``j = size - 1 - i``) is ``sum_r c_{begin + i - r} buf[r]``: the Toeplitz
    matrix of coefficients is a strided view of ``coef_rev`` (so autograd maps its gradient
    back onto the coefficients), times the rows, in one matrix product.
    """

    def __init__(self, history: History, coef_rev: Tensor, first: int, begin: int) -> None:
        length = coef_rev.shape[0]
        n_far = begin - first
        self.begin = begin
        self.size = min(history.block, length - begin + first)  # lags stay < length
        toeplitz = coef_rev.as_strided(
            (self.size, n_far),
            (1, 1),
            coef_rev.storage_offset() + length - begin - self.size + first,
        )
        self.history, self.first = history, first
        self.shape = (self.size, *history.buf.shape[1:])
        self.values: Tensor = history.buf.new_empty(0)
        self.grad: Tensor | None = None
        self.token: Tensor | None = None
        if history.token is None and not (toeplitz.requires_grad and torch.is_grad_enabled()):
            self.values = _far_values(toeplitz, history.buf[first:begin])
        else:
            self.token = _FarCompute.apply(toeplitz, history.token, self)

    def retire(self) -> None:
        """Its steps are done: drop the forward-only values and token (see release)."""
        self.token = None
        self.values = self.values.new_empty(0)

    def row(self, i: int) -> Tensor:
        j = self.size - 1 - i
        if self.token is None:
            return self.values[j]
        return _FarRow.apply(self.token, self, j)


def _far_values(toeplitz: Tensor, rows: Tensor) -> Tensor:
    out = toeplitz @ rows.reshape(rows.shape[0], -1)
    return out.reshape(toeplitz.shape[0], *rows.shape[1:])


class _FarCompute(torch.autograd.Function):
    @staticmethod
    def forward(ctx, toeplitz: Tensor, token: Tensor | None, far: _FarBlock) -> Tensor:  # type: ignore[override]
        history = far.history
        far.values = _far_values(toeplitz, history.buf[far.first : far.begin])
        ctx.save_for_backward(toeplitz)
        ctx.far, ctx.has_token = far, token is not None
        return toeplitz.new_zeros(())

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_token: Tensor):  # type: ignore[override]
        (toeplitz,) = ctx.saved_tensors
        far: _FarBlock = ctx.far
        history = far.history
        grad_c = grad_prev = None
        if far.grad is not None:
            g = far.grad.reshape(far.size, -1)
            rows = history.buf[far.first : far.begin]
            if ctx.needs_input_grad[0]:
                grad_c = g @ rows.reshape(rows.shape[0], -1).t()
            if ctx.has_token:
                history._accumulate(far.first, (toeplitz.t() @ g).reshape(rows.shape))
            far.grad = None  # ready for another backward (retain_graph)
        if ctx.has_token:
            grad_prev = grad_token.new_zeros(())
        return grad_c, grad_prev, None


class _FarRow(torch.autograd.Function):
    @staticmethod
    def forward(ctx, token: Tensor, far: _FarBlock, j: int) -> Tensor:  # type: ignore[override]
        ctx.far, ctx.j = far, j
        return far.values[j].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        far: _FarBlock = ctx.far
        if far.grad is None:
            far.grad = grad.new_zeros(far.shape)
        far.grad[ctx.j] += grad
        return grad.new_zeros(()), None, None


def streamable(coef_revs: list[Tensor]) -> bool:
    """Whether histories with these coefficients can stream: all of them, or none, so a
    step either streams every component or records every one (one order each, none
    needing a gradient)."""
    learning = torch.is_grad_enabled() and any(c.requires_grad for c in coef_revs)
    return not learning and all(c.dim() == 1 for c in coef_revs)


def new_history(
    problem: Problem, rows: int, like: Tensor, coef_rev: Tensor, stream: bool = False
) -> History | StreamingHistory | ExactStreamingHistory:
    """A :class:`History` for one state component, with the SOE tail if the options ask.

    Args:
        problem: The checked problem (``options["history"]``, ``"soe_terms"``,
            ``"soe_tol"``, ``"soe_window"`` are read).
        rows: Number of buffer rows.
        like: A state row (shape, dtype, device).
        coef_rev: The method's coefficients by lag, reversed (as for ``lagged_sum``).
        stream: The caller reads ``lagged_sum(c, n, min(n + 1, window))`` and writes
            row ``n + 1``, or writes row ``n`` and then reads the sum ending at it, at
            every step (or records it with :class:`~spikede_solvers._stream.StreamStep`
            or :class:`~spikede_solvers._stream.SumStep`); with the SOE tail or short
            memory, one order and coefficients that need no gradient, a
            :class:`~spikede_solvers._stream.StreamingHistory` (memory independent of
            the number of steps) is returned; with the full history and such
            coefficients, a :class:`~spikede_solvers._stream_exact.ExactStreamingHistory`.
    """
    streams = (
        stream
        and coef_rev.dim() == 1
        and not (coef_rev.requires_grad and torch.is_grad_enabled())
    )
    reuse = not coef_rev.requires_grad
    if problem.options.get("history", "full") != "soe":
        if streams and problem.memory is not None:
            return StreamingHistory(like, coef_rev, None, window=problem.memory)
        if streams:
            block = int(problem.options.get("block", DEFAULT_STREAM_BLOCK))
            return ExactStreamingHistory(like, coef_rev, rows, block)
        block = (
            0 if problem.memory is not None else int(problem.options.get("block", DEFAULT_BLOCK))
        )
        return History(rows, like, block=block, reuse_for_grad=reuse)
    tail = soe_tail(problem.options, torch.flip(coef_rev, dims=(0,)), like)
    if streams and tail is not None:
        return StreamingHistory(like, coef_rev, tail)
    return History(rows, like, tail, reuse_for_grad=reuse)


def soe_tail(options: dict[str, Any], coef_by_lag: Tensor, like: Tensor) -> SoeTail | None:
    """The SOE tail of ``coef_by_lag`` that ``history="soe"`` fits for a state like
    ``like`` (``options``' ``soe_window``, ``soe_terms``, ``soe_tol``)."""
    terms = options.get("soe_terms")
    return fit_soe_tail(
        coef_by_lag,
        int(options.get("soe_window", DEFAULT_WINDOW)),
        None if terms is None else int(terms),
        like.dim(),
        float(options.get("soe_tol", DEFAULT_TOL)),
    )


def _weighted(w: Tensor, hist: Tensor) -> Tensor:
    if w.dim() == 1:
        return torch.mv(hist.reshape(hist.shape[0], -1).t(), w).reshape(hist.shape[1:])
    return (w * hist).sum(0)


class _Store(torch.autograd.Function):
    @staticmethod
    def forward(ctx, value: Tensor, prev: Tensor | None, history: History, k: int) -> Tensor:  # type: ignore[override]
        ctx.history, ctx.k = history, k
        ctx.has_prev = prev is not None
        ctx.shape = value.shape
        return value.new_zeros(())

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_token: Tensor):  # type: ignore[override]
        history: History = ctx.history
        if history.grad is None:
            grad_value = grad_token.new_zeros(ctx.shape)
        else:
            grad_value = history.grad[ctx.k].clone()
            history.grad[ctx.k].zero_()  # ready for another backward (retain_graph)
        grad_prev = grad_token.new_zeros(()) if ctx.has_prev else None
        return grad_value, grad_prev, None, None


class _HistorySum(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx, w: Tensor, token: Tensor | None, history: History, start: int, count: int
    ) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(w)
        ctx.history, ctx.start, ctx.count = history, start, count
        ctx.has_token = token is not None
        return _weighted(w, history.buf[start : start + count])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (w,) = ctx.saved_tensors
        history: History = ctx.history
        hist = history.buf[ctx.start : ctx.start + ctx.count]
        m = ctx.count
        grad_w = grad_token = None
        if ctx.needs_input_grad[0]:
            if w.dim() == 1:
                grad_w = hist.reshape(m, -1) @ grad.reshape(-1)
            else:
                grad_w = (hist * grad).sum_to_size(w.shape)
        if ctx.has_token:
            if w.dim() == 1:
                contribution = w.reshape(m, *([1] * grad.dim())) * grad.unsqueeze(0)
            else:
                contribution = (w * grad).expand(hist.shape)
            history._accumulate(ctx.start, contribution)
            grad_token = grad.new_zeros(())
        return grad_w, grad_token, None, None, None


class _SoeTailSum(torch.autograd.Function):
    """``sum_k b_k H_k`` with ``H_k = sum_{r <= row} decay_k^(row - r) buf[r]``.

    Backward runs in decreasing ``row`` (the token chain orders it) and carries the
    adjoint running sums ``A_k(r) = sum_{n >= r} decay_k^(n - r) grad_n`` down the rows:
    it deposits ``sum_k b_k A_k(row)`` into the gradient of ``buf[row]`` and returns
    ``<buf[row], A_k(row)>`` as this step's share of the gradient of ``b``.
    """

    @staticmethod
    def forward(ctx, b: Tensor, token: Tensor | None, history: History, row: int) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(b)
        ctx.history, ctx.row = history, row
        ctx.has_token = token is not None
        return _weighted(b, history.soe)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (b,) = ctx.saved_tensors
        history: History = ctx.history
        tail = history.tail
        assert tail is not None
        row = ctx.row
        adj = history.soe_adjoint
        if adj is None or row >= history.soe_adjoint_row:
            # First step of this backward pass (or a new pass): no later gradients yet.
            adj, pending = None, []
        else:
            # Rows between the previous step and this one (only if steps went unused).
            pending = list(range(history.soe_adjoint_row - 1, row, -1))
        want_b = ctx.needs_input_grad[0]
        grad_b = None
        for r in [*pending, row]:
            if adj is None:
                adj = grad.new_zeros((tail.decays.shape[0], *grad.shape)) + grad
            else:
                adj = adj * tail.decays
                if r == row:
                    adj = adj + grad
            if want_b:
                share = _soe_weight_grad(b, adj, history.buf[r])
                grad_b = share if grad_b is None else grad_b + share
            if ctx.has_token:
                history._accumulate(r, _weighted(b, adj).unsqueeze(0))
        history.soe_adjoint, history.soe_adjoint_row = adj, row
        grad_token = grad.new_zeros(()) if ctx.has_token else None
        return grad_b, grad_token, None, None


def _soe_weight_grad(b: Tensor, adj: Tensor, rowval: Tensor) -> Tensor:
    if b.dim() == 1:
        return adj.reshape(adj.shape[0], -1) @ rowval.reshape(-1)
    return (adj * rowval).sum_to_size(b.shape)


def soe_terms(
    method: str,
    n_points: int,
    alpha: float,
    options: dict | None = None,
    dtype: torch.dtype = torch.float32,
) -> int:
    """The number of exponentials ``K`` that ``history="soe"`` uses for ``method`` at
    order ``alpha`` on ``n_points`` uniform grid points (``options["soe_terms"]``, or
    the one chosen from ``soe_tol``); 0 when the grid is no longer than the window.

    It runs the method's own setup on a one-element state, so it is the ``K`` a solve
    with these arguments uses (for cost counts such as :func:`spikede.profile`).
    """
    from spikede_solvers._checks import check_solve

    opts = {**(options or {}), "history": "soe"}
    if "soe_terms" in opts:
        return int(opts["soe_terms"])
    t = torch.arange(n_points, dtype=dtype)
    order = torch.tensor(float(alpha), dtype=dtype)
    solver, problem = check_solve(
        lambda *a: None, torch.zeros(1, dtype=dtype), t, method, order, None, None, opts, False, False
    )
    with torch.no_grad():
        stepper = solver.setup(problem)
    try:
        buf = stepper.bufs[0]  # type: ignore[attr-defined]
        if isinstance(buf, StreamingHistory):
            return max(buf.terms - 1, 0)
        return 0 if buf.tail is None else buf.tail.decays.shape[0] - 1
    finally:
        stepper.release()
