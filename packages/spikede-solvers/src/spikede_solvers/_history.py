"""Vectorised history sums over a preallocated, append-only buffer.

Every fractional method needs, at step ``n``, a weighted sum over the stored past
``sum_i c_i * buf[n - i]``. The past lives in a preallocated buffer ``buf`` whose row
``k`` is written exactly once (in place); rows already written are never overwritten.

A plain ``(w * buf[lo:hi]).sum(0)`` would save the buffer slice for backward when ``w``
requires grad (learnable order), and the next in-place write into the buffer would then
trip autograd's version counter. :class:`_HistorySum` keeps a plain (detached) reference
to the slice instead, which is safe because the rows it covers are final.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["lagged_sum"]


class _HistorySum(torch.autograd.Function):
    """``out = sum_k w[k] * hist[k]``; ``w`` is ``[m]`` or ``[m, *broadcastable]``."""

    @staticmethod
    def forward(ctx, w: Tensor, hist: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(w)
        # Rows of ``hist`` are never written again once the sum is taken, so a plain
        # reference (no version check) is exact.
        ctx.hist = hist.detach()
        if w.dim() == 1:
            return torch.tensordot(w, hist, dims=1)
        return (w * hist).sum(0)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (w,) = ctx.saved_tensors
        hist = ctx.hist
        m = hist.shape[0]
        grad_w = grad_h = None
        if ctx.needs_input_grad[0]:
            if w.dim() == 1:
                grad_w = hist.reshape(m, -1) @ grad.reshape(-1)
            else:
                grad_w = (hist * grad).sum_to_size(w.shape)
        if ctx.needs_input_grad[1]:
            if w.dim() == 1:
                grad_h = w.reshape(m, *([1] * grad.dim())) * grad.unsqueeze(0)
            else:
                grad_h = (w * grad).expand(hist.shape)
        return grad_w, grad_h


def lagged_sum(coef_rev: Tensor, buf: Tensor, last: int, count: int) -> Tensor:
    """Return ``sum_{i=0}^{count-1} c[i] * buf[last - i]`` in one vectorised operation.

    ``coef_rev`` holds the coefficient sequence ``c`` reversed (``coef_rev[L-1-i] = c[i]``)
    so that the needed coefficients and buffer rows are both contiguous slices.
    """
    if count <= 0:
        return buf.new_zeros(buf.shape[1:])
    length = coef_rev.shape[0]
    w = coef_rev[length - count :]
    hist = buf[last - count + 1 : last + 1]
    return _HistorySum.apply(w, hist)
