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
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from spikede_solvers._base import Problem
from spikede_solvers._soe import DEFAULT_TERMS, DEFAULT_WINDOW, SoeTail, fit_soe_tail

__all__ = ["History", "new_history"]


class History:
    """A preallocated history buffer of ``rows`` rows shaped like ``like``."""

    def __init__(self, rows: int, like: Tensor, tail: SoeTail | None = None) -> None:
        self.buf = torch.zeros((rows, *like.shape), dtype=like.dtype, device=like.device)
        self.grad: Tensor | None = None
        self.token: Tensor | None = None
        self.tail = tail
        if tail is not None:
            # Running exponential sums H_k over the rows older than the exact window.
            self.soe = torch.zeros(
                (tail.decays.shape[0], *like.shape), dtype=like.dtype, device=like.device
            )
            self.soe_first: int | None = None  # first row of the sum (fixed per solve)
            self.soe_fed = 0  # next row to add to the running sums
            self.soe_adjoint: Tensor | None = None  # backward: the adjoint running sums
            self.soe_adjoint_row = 0

    def write(self, k: int, value: Tensor) -> None:
        """Store ``value`` as row ``k`` (each row is written once)."""
        self.buf[k] = value.detach()
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
        return self._exact_sum(coef_rev, last, count)

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
            self.grad = torch.zeros_like(self.buf)
        self.grad[start : start + contribution.shape[0]] += contribution


def new_history(problem: Problem, rows: int, like: Tensor, coef_rev: Tensor) -> History:
    """A :class:`History` for one state component, with the SOE tail if the options ask.

    Args:
        problem: The checked problem (``options["history"]``, ``"soe_terms"``,
            ``"soe_window"`` are read).
        rows: Number of buffer rows.
        like: A state row (shape, dtype, device).
        coef_rev: The method's coefficients by lag, reversed (as for ``lagged_sum``).
    """
    if problem.options.get("history", "full") != "soe":
        return History(rows, like)
    tail = fit_soe_tail(
        torch.flip(coef_rev, dims=(0,)),
        int(problem.options.get("soe_window", DEFAULT_WINDOW)),
        int(problem.options.get("soe_terms", DEFAULT_TERMS)),
        like.dim(),
    )
    return History(rows, like, tail)


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
