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

__all__ = ["History"]


class History:
    """A preallocated history buffer of ``rows`` rows shaped like ``like``."""

    def __init__(self, rows: int, like: Tensor) -> None:
        self.buf = torch.zeros(
            (rows, *like.shape), dtype=like.dtype, device=like.device
        )
        self.grad: Tensor | None = None
        self.token: Tensor | None = None

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
        w = coef_rev[coef_rev.shape[0] - count :]
        start = last - count + 1
        if self.token is None and not (w.requires_grad and torch.is_grad_enabled()):
            return _weighted(w, self.buf[start : last + 1])
        return _HistorySum.apply(w, self.token, self, start, count)

    def _accumulate(self, start: int, contribution: Tensor) -> None:
        if self.grad is None:
            self.grad = torch.zeros_like(self.buf)
        self.grad[start : start + contribution.shape[0]] += contribution


def _weighted(w: Tensor, hist: Tensor) -> Tensor:
    if w.dim() == 1:
        return torch.tensordot(w, hist, dims=1)
    return (w * hist).sum(0)


class _Store(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx, value: Tensor, prev: Tensor | None, history: History, k: int
    ) -> Tensor:  # type: ignore[override]
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
