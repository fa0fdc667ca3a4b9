"""Streaming full (exact) history for solves whose coefficients are fixed.

The exact history sum of a step, ``sum_{lag >= 0} c_lag * row[last - lag]``, runs over
every past row. Kept in a :class:`~spikede_solvers._history.History`, each step records
several autograd functions (the row's store, the sum, the far block's row), and their
per-step bookkeeping costs more than the arithmetic on small states. This history
keeps the same rows in one flat buffer and serves the streamed steps of
:mod:`spikede_solvers._stream` (one :class:`~spikede_solvers._stream.StreamStep` or
:class:`~spikede_solvers._stream.SumStep` per step, whatever the number of components):

* the rows of the current block of ``block`` steps are summed per step (one ``addmv``);
* the older rows' contribution to the whole block is one Toeplitz matrix product when
  the block starts (the matrix is a strided view of the reversed coefficients), on two
  levels: the rows before the current superblock of ``SUPER`` blocks reach all its steps
  in one tall product, and a block adds the superblock's earlier rows (``W1`` of the
  benchmarks, T = 1000: forward 13% faster than one level);
* the backward of a streamed step runs the same sums over the step gradients in reverse
  time (the adjoint of a convolution with the kernel ``c`` is the same convolution read
  backwards), in the same buffer (the forward rows are not read again).

The values are those of the buffered history up to rounding (the same terms, grouped
alike: per-step sum over the block, one product over the older rows).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor

from spikede_solvers._stream import StreamingHistory, split_rows

__all__ = ["DEFAULT_STREAM_BLOCK", "STREAMING", "ExactStreamingHistory"]

#: Steps per block: the per-step sum reads up to this many rows, the block product all
#: older rows once (``benchmarks/run.py``, W1 and W2: 32 is fastest of 16, 32 and 64).
DEFAULT_STREAM_BLOCK = 32


class ExactStreamingHistory:
    """All rows of one or more components with a fixed kernel (see module doc).

    Args:
        like: A state row (shape, dtype, device).
        coef_rev: The method's coefficients by lag, reversed, 1-d (one order).
        rows: Number of rows the solve writes (row indices ``0 .. rows - 1``).
        block: Steps per block; 0 or 1: none (every step sums all rows).
    """

    tail = None  # no SOE tail (read by the history export of a continued solve)
    SUPER = 8  # blocks per superblock (see _far_rows)

    def __init__(
        self, like: Tensor, coef_rev: Tensor, rows: int, block: int = DEFAULT_STREAM_BLOCK
    ) -> None:
        self.shapes = (like.shape,)
        self.rows, self.block = rows, block if block > 1 else max(rows, 1)
        block = self.block
        coef = torch.flip(coef_rev.detach(), dims=(0,))
        # Reversed kernel padded with zero lags, long enough for every strided view below
        # (lags beyond the coefficients only reach rows after the grid's end).
        length = rows + block
        padded = coef.new_zeros(length)
        padded[: min(coef.shape[0], length)] = coef[:length]
        self.rev = torch.flip(padded, dims=(0,))
        self._use(like.new_zeros((rows, like.numel())))
        self.adjoint: ExactStreamingHistory | None = None
        self.adjoint_top = self.adjoint_next = -1
        self.last = -1

    @classmethod
    def joined(cls, histories: list[ExactStreamingHistory]) -> ExactStreamingHistory | None:
        """One history for several components with the same kernel and row count."""
        first = histories[0]
        for h in histories[1:]:
            if h.buf.dtype != first.buf.dtype or h.buf.device != first.buf.device:
                return None
            if h.rows != first.rows or h.block != first.block or not torch.equal(h.rev, first.rev):
                return None
        joined = copy.copy(first)
        joined.shapes = tuple(shape for h in histories for shape in h.shapes)
        joined._use(first.buf.new_zeros((first.rows, sum(h.buf.shape[1] for h in histories))))
        return joined

    def _use(self, buf: Tensor) -> None:
        self.buf = buf  # [rows, features]: one flat row per step
        self.buf_t = buf.t()
        self.sizes = [math.prod(shape) for shape in self.shapes]
        self.far: Tensor | None = None  # the older rows' sums for the current block
        self.far_begin = -1
        self.super: Tensor | None = None  # the same for the current superblock
        self.super_begin = -1

    def _adjoint_for(self, n: int, sign: float) -> ExactStreamingHistory:
        """The adjoint history for the backward of step ``n`` (fresh for a new pass)."""
        if self.adjoint is None or n != self.adjoint_next:
            adj = copy.copy(self)
            # No backward reads the forward rows (the kernel needs no gradient), so the
            # adjoint takes over their buffer: training keeps one buffer, not two.
            adj._use(self.buf.zero_())
            adj.adjoint = None
            if sign != 1.0:
                adj.rev = sign * self.rev
            self.adjoint, self.adjoint_top = adj, n
        self.adjoint_next = n - 1
        return self.adjoint

    def _toeplitz(self, count: int, size: int) -> Tensor:
        """``[size, count]`` with ``[size - 1 - i, r] = c_{count + i - r}``: times ``count``
        consecutive rows, the sums they send to the ``size`` steps that follow them
        (latest step first)."""
        rev = self.rev
        return rev.as_strided((size, count), (1, 1), rev.shape[0] - count - size)

    def _far_rows(self, begin: int) -> Tensor:
        """``far[size - 1 - i] = sum_{r < begin} c_{begin + i - r} row[r]`` for the
        ``size = min(block, rows - begin)`` steps ``begin + i`` of the block.

        Two levels: the rows before the current superblock (``SUPER`` blocks) reach all
        its steps through one tall product when it starts; a block then adds only the
        rows since the superblock began. The multiply-adds are the same, but most of them
        run in products of ``SUPER * block`` rows, which a BLAS runs faster than many
        products of ``block`` rows."""
        if self.far_begin != begin:
            size = min(self.block, self.rows - begin)
            span = self.block * self.SUPER
            start = (begin // span) * span
            if start and self.super_begin != start:
                tall = min(span, self.rows - start)
                self.super = self._toeplitz(start, tall) @ self.buf[:start]
                self.super_begin = start
            count = begin - start  # rows of this superblock before the block
            near, rows = self._toeplitz(count, size), self.buf[start:begin]
            if not start:
                self.far = near @ rows
            else:
                assert self.super is not None
                stop = self.super.shape[0] - count
                base = self.super[stop - size : stop]
                self.far = base if count == 0 else torch.addmm(base, near, rows)
            self.far_begin = begin
        assert self.far is not None
        return self.far

    def _sum(self, last: int, sign: float) -> Tensor:
        """``sign * sum_{lag} c_lag row[last - lag]`` as one flat tensor."""
        begin = (last // self.block) * self.block
        count = last - begin + 1
        stop = self.rev.shape[0]
        w = self.rev[stop - count : stop]
        rows = self.buf_t[:, begin : last + 1]
        if begin == 0:
            return torch.mv(rows, w) if sign > 0 else torch.mv(rows, -w)
        far = self._far_rows(begin)
        return torch.addmv(far[far.shape[0] - count], rows, w, beta=sign, alpha=sign)

    def lagged_sum(self, coef_rev: Tensor | None, last: int, count: int) -> tuple[Tensor, ...]:
        """``sum_{lag >= 0} c_lag * row[last - lag]`` over all rows, one tensor per
        component (the arguments but ``last`` are those of the buffered history)."""
        return split_rows(self._sum(last, 1.0), self.sizes, self.shapes)

    def advance(self, last: int, f: tuple[Tensor, ...], scale: float) -> tuple[Tensor, ...]:
        """``z = scale * f - lagged_sum(last)`` of every component, stored as row ``last + 1``."""
        neg = split_rows(self._sum(last, -1.0), self.sizes, self.shapes)
        z = tuple(torch.add(h, fi, alpha=scale) for h, fi in zip(neg, f))
        self.write(last + 1, z)
        return z

    def write(self, k: int, values: tuple[Tensor, ...]) -> None:
        """Store row ``k`` (one value per component)."""
        self.last = k
        row = self.buf[k]
        if len(values) == 1:
            row.copy_(values[0].reshape(-1))
            return
        for part, value in zip(torch.split_with_sizes(row, self.sizes), values):
            part.copy_(value.reshape(-1))

    def release(self) -> None:
        """Nothing refers back to this object (no autograd nodes)."""


#: The history classes whose steps stream (a solve streams when all its components' do).
STREAMING = (StreamingHistory, ExactStreamingHistory)
