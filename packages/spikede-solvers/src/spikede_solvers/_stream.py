"""Streaming fast history for solves without gradients (inference).

With ``history="soe"`` (see :mod:`spikede_solvers._soe`) a step needs only the last
``window`` rows exactly and ``K + 1`` running exponential sums for the older past. When
no gradient is recorded, nothing else is ever read again, so this history keeps just
``K + 1`` running sums, ``block + 1`` rows of their contributions, and a ring of
``window + block`` slots holding the last rows, in one work tensor. A row that leaves
the window waits in the ring (its tail coefficient in the mixing vector) until ``block``
of them join the sums in one product; the contributions of the sums to the next
``block`` steps are then computed in one more. The sums, which every step would
otherwise read (and rewrite), are touched once per block: the history sum of a step is
one ``addmv``, the ring times a mixing vector (the coefficients rotated to the ring's
phase; the vectors of every phase are built once) plus one contribution row. Memory
does not grow with the number of steps.

Short memory (``memory=M``) streams the same way with no running sums: a ring of the last
``M`` rows.

It serves methods that read ``lagged_sum(coef, last=n, count=min(n + 1, window))`` and
then write row ``n + 1`` (the Grünwald–Letnikov family), or write row ``n`` and then read
the sum ending at it (``pred``, whose rows are the field values). Values equal those of the
buffered history up to rounding (the same terms, summed in one product).

Training streams too when the coefficients are fixed (no learnable order): each step is
one autograd function, :class:`StreamStep` (or :class:`SumStep` for ``pred``), whose
backward runs the same kernel backwards in time. The history sum at step ``m`` is
``sum_l c_l z_{m-l}``, so row ``r`` receives ``sum_l c_l mu_{r+l}`` from the sums'
adjoints ``mu_m``: the same lagged sum over the adjoints, read in decreasing ``m``.
Backward keeps its own rows of the same kind and stores nothing per step; the step's
output ``z_{m+1}`` is the next step's input, so autograd runs the steps' backwards in
order, latest first.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator

import torch
from torch import Tensor

from spikede_solvers._autograd import once_differentiable_fast as once_differentiable
from spikede_solvers._soe import SoeTail

__all__ = ["StreamStep", "StreamingHistory", "Streams", "SumStep", "join_streams"]


def records(*tensors: Tensor | None) -> bool:
    """Whether a streaming step must be recorded for autograd (as a :class:`StreamStep`
    or :class:`SumStep`): grad mode is on and one of the step's fields or the previous
    step's outputs (``None`` at the first step) requires grad."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def split_rows(flat: Tensor, sizes: list[int], shapes: tuple[torch.Size, ...]) -> tuple[Tensor, ...]:
    """A flat row (or a flat sum of rows) as one view per component."""
    if len(shapes) == 1:
        return (flat.view(shapes[0]),)
    # torch.split_with_sizes, not Tensor.split: the method's Python wrapper doubles the cost.
    return tuple(p.view(shape) for p, shape in zip(torch.split_with_sizes(flat, sizes), shapes))


def start_values(y0: tuple[Tensor, ...]) -> tuple[Tensor | None, ...]:
    """The initial values a streamed step adds to its result: ``None`` for a zero one
    that needs no gradient (the add is skipped), else the tensor."""
    return tuple(
        None if not y.requires_grad and not bool(torch.count_nonzero(y)) else y for y in y0
    )


def absorb_block(window: int, most: int) -> int:
    """The number of rows the running sums take in at once: the largest divisor of
    ``window`` that is at most ``most`` (a divisor, so that each block of the ring is
    contiguous and the mixing vectors repeat with the ring)."""
    return max(b for b in range(1, min(window, most) + 1) if window % b == 0)


class StreamingHistory:
    """A streamed solve's history (see module doc): ``K + 1`` running sums, ``block + 1``
    rows of their contributions, then a ring of ``window + block`` slots.

    The ring holds the ``window`` most recent rows (exact coefficients) and up to
    ``block`` older rows that have left the window but not yet joined the running sums
    (their tail coefficients ``sum_k b_k d_k^m`` are in the mixing vector). Every
    ``block`` steps the oldest ``block`` rows join the sums at once,
    ``H <- d^block H + D rows`` (one matrix product), instead of one ``H <- d H + row``
    per step, and the sums' contributions to the next steps, ``C_j = sum_k b_k d_k^j H_k``
    for ``j = 0 .. block``, are computed in one more: a step then reads the ring and one
    row ``C_j`` (``j`` rows waiting), not the ``K + 1`` sums. The mixing vector of a step
    depends on the ring's phase only.

    Args:
        like: A state row (shape, dtype, device).
        coef_rev: The method's coefficients by lag, reversed, 1-d (one order).
        tail: The fitted SOE tail of those coefficients, or ``None`` for short memory:
            only the last ``window`` lags count (``memory=window``) and ``K + 1 = 0``.
        window: The number of exact lags when ``tail`` is ``None``.
    """

    #: Most rows the running sums take in at once (see :func:`absorb_block`).
    ABSORB = 8

    def __init__(
        self, like: Tensor, coef_rev: Tensor, tail: SoeTail | None, window: int = 0
    ) -> None:
        if tail is not None:
            window = tail.window
        window = min(window, coef_rev.shape[0])
        self.window = window
        self.shapes = (like.shape,)
        self.by_lag = torch.flip(coef_rev.detach(), dims=(0,))[:window].to(like.dtype)
        self._set_tail(tail)
        self._use(like.new_zeros((self.terms + self.near_rows + self.slots, like.numel())))
        # Row r is in slot (r - base) % slots: 0 unless the history continues a saved one.
        self.base = 0
        # Backward (StreamStep): the adjoint history, and the step it expects next.
        self.adjoint: StreamingHistory | None = None
        self.adjoint_top = self.adjoint_next = -1
        self.last = -1  # the last row written (a continued solve's history starts there)

    def _set_tail(self, tail: SoeTail | None) -> None:
        """Fix the running sums' decays and amplitudes, the block, and the mixing
        vectors of every phase (built once; a step indexes them without an op)."""
        dtype, device = self.by_lag.dtype, self.by_lag.device
        if tail is None:
            self.terms, self.block, self.near_rows = 0, 0, 0
            self.decays = None
            amplitudes = decays = torch.zeros(0, dtype=torch.float64, device=device)
        else:
            decays = tail.decays.detach().reshape(-1).to(dtype)
            amplitudes = tail.amplitudes.detach().reshape(-1).to(dtype)
            self.terms, self.block = decays.shape[0], absorb_block(self.window, self.ABSORB)
            self.near_rows = self.block + 1
            self.decays = decays.reshape(-1, 1)
            amplitudes, decays = amplitudes.double(), decays.double()
        self.amplitudes = amplitudes.to(dtype)
        window, block = self.window, self.block
        self.slots = slots = window + block
        # Phase n (the row index less base): n < window, then window + (n - window) % slots.
        # At phase n the sums hold the rows up to n - window - j, j = (n - window) % block
        # + 1 (0 before the first block), so they enter as C_j, and the j rows after them
        # (lags window .. window + j - 1) with the tail's coefficients.
        powers = torch.arange(block + 1, dtype=torch.float64, device=device)
        tail_coef = (amplitudes[None, :] * decays[None, :] ** powers[:block, None]).sum(1)
        # All phases at once ([phases, slots]); a trailing zero pads each coefficient table.
        zero = torch.zeros(1, dtype=torch.float64, device=device)
        by_lag = torch.cat([self.by_lag.double(), zero])
        tail_coef = torch.cat([tail_coef, zero])
        phases = torch.arange(window + slots, device=device)
        j = (phases - window) % block + 1 if block else torch.zeros_like(phases)
        j = torch.where(phases < window, 0, j)
        lag = (phases[:, None] - torch.arange(slots, device=device)) % slots
        exact = lag < window
        pending = ~exact & (lag - window < j[:, None])
        mix = torch.where(exact, by_lag[lag.clamp(max=window)], 0.0)
        mix = torch.where(pending, tail_coef[(lag - window).clamp(0, block)], mix).to(dtype)
        self.mix = mix.unbind(0)  # one row per phase, indexed without an op
        self.neg_mix = (-mix).unbind(0)  # advance subtracts the sum
        if block:
            # H <- d^block H + D rows, D[k, i] = d_k^(block - 1 - i) for the block's row i.
            self.decay_block = (decays**block).to(dtype).reshape(-1, 1)
            self.absorb = (decays[:, None] ** (block - 1 - powers[None, :block])).to(dtype)
            # C = P H, P[j, k] = b_k d_k^j: the sums' part of the next steps' history sums.
            self.near_mix = (amplitudes[None, :] * decays[None, :] ** powers[:, None]).to(dtype)

    def phase(self, n: int) -> tuple[int, int]:
        """``(p, j)`` of the sum ending at row ``n``: its mixing vector ``mix[p]`` and
        contribution row ``C_j`` (``j`` rows wait outside the window)."""
        n -= self.base
        window = self.window
        if n < window:
            return n, 0
        n -= window
        return window + n % self.slots, n % self.block + 1 if self.block else 0

    @classmethod
    def joined(cls, histories: list[StreamingHistory]) -> StreamingHistory | None:
        """One history for several components with the same coefficients (one order):
        each row holds every component, so a step does one product and one running-sum
        update for all of them. ``None`` when their coefficients or dtypes differ."""
        first = histories[0]
        for h in histories[1:]:
            if h.work.dtype != first.work.dtype or h.work.device != first.work.device:
                return None
            if h.window != first.window or h.terms != first.terms or h.base != first.base:
                return None
            if not torch.equal(torch.stack(h.mix), torch.stack(first.mix)):
                return None
            if h.terms and not torch.equal(h.near_mix, first.near_mix):
                return None
        joined = copy.copy(first)
        joined.shapes = tuple(shape for h in histories for shape in h.shapes)
        joined._use(first.work.new_zeros((first.work.shape[0], sum(h.work.shape[1] for h in histories))))
        return joined

    def _use(self, work: Tensor) -> None:
        """Keep ``work`` (running sums, their contributions, then the ring; one flat row
        per step) and the views the steps read: each slot's row, split into the
        components' shapes."""
        self.work = work
        self.soe = work[: self.terms]
        self.near = work[self.terms : self.terms + self.near_rows]
        # Without sums, one zero contribution row (outside the work tensor): a step's
        # product is the same addmv as with a tail.
        self.near_row = self.near.unbind(0) if self.near_rows else (work.new_zeros(work.shape[1]),)
        self.near_next = self.near[1:]
        ring = work[self.terms + self.near_rows :]
        self.ring_t = ring.t()
        sizes = [math.prod(shape) for shape in self.shapes]
        self.sizes = sizes
        self.ring = [(row, split_rows(row, sizes, self.shapes)) for row in ring.unbind(0)]
        # The block of slots that joins the sums when the slot it starts at is written.
        block = self.block
        self.blocks = {s: ring[s : s + block] for s in range(0, self.slots, block)} if block else {}
        self.sums = work.new_empty(work.shape[1])  # advance's history sum, reused
        self.sum_parts = split_rows(self.sums, sizes, self.shapes)

    def _adjoint_for(self, n: int, sign: float) -> StreamingHistory:
        """The adjoint history for the backward of step ``n`` (fresh for a new pass); its
        sums carry the coefficients times ``sign``."""
        if self.adjoint is None or n != self.adjoint_next:
            adj = copy.copy(self)  # same window, coefficients and decays; own zeroed rows
            adj._use(torch.zeros_like(self.work))
            adj.adjoint, adj.base = None, 0
            if sign != 1.0:
                adj.mix = (sign * torch.stack(self.mix)).unbind(0)
                if self.terms:
                    adj.near_mix = sign * self.near_mix
            self.adjoint, self.adjoint_top = adj, n
        self.adjoint_next = n - 1
        return self.adjoint

    def lagged_sum(self, coef_rev: Tensor | None, last: int, count: int) -> tuple[Tensor, ...]:
        """``sum_{lag >= 0} c_lag * row[last - lag]`` (exact window plus SOE tail), one
        new tensor per component."""
        p, j = self.phase(last)
        flat = torch.addmv(self.near_row[j], self.ring_t, self.mix[p])
        return split_rows(flat, self.sizes, self.shapes)

    def advance(self, last: int, f: tuple[Tensor, ...], scale: float) -> tuple[Tensor, ...]:
        """The Grünwald–Letnikov update ``z = scale * f - lagged_sum(last)`` of every
        component, stored as row ``last + 1``: one product for the sums, one ``add``
        per component, then the ring write."""
        p, j = self.phase(last)
        torch.addmv(self.near_row[j], self.ring_t, self.neg_mix[p], beta=-1.0, out=self.sums)
        z = tuple(torch.add(h, fi, alpha=scale) for h, fi in zip(self.sum_parts, f))
        self.write(last + 1, z)
        return z

    def write(self, k: int, values: tuple[Tensor, ...]) -> None:
        """Store row ``k`` (one value per component). When its slot starts a block of
        rows that have left the window, the block first joins the running sums, and
        their contributions to the next steps are updated."""
        self.last = k
        k -= self.base
        slot = k % self.slots
        if self.block and k >= self.slots and k % self.block == 0:
            self.soe.mul_(self.decay_block).addmm_(self.absorb, self.blocks[slot])
            # C_1 .. C_block: the phases until the next block (C_0 serves only a restored
            # history's first step, whose sums need no decay).
            torch.mm(self.near_mix[1:], self.soe, out=self.near_next)
        for part, value in zip(self.ring[slot][1], values):
            part.copy_(value)

    # Saving and continuing (spikede_solvers._resume): rows and sums in the buffered
    # history's form, whatever the ring's phase.
    def saved(self) -> tuple[Tensor, int, Tensor | None, SoeTail | None]:
        """``(rows, first, sums, tail)``: the last ``window`` rows (flat, a copy) from row
        ``first``, and with an SOE tail the running sums over all older rows (``None``
        while no row has left the window) and the tail."""
        last, window = self.last, self.window
        first = max(0, last - window + 1)
        rows = self._rows(first, last)
        if not self.terms or last < window:
            return rows, first, None, None
        j = self.phase(last)[1]
        sums = self.soe.clone()
        for r in range(last - window - j + 1, last - window + 1):  # the pending rows
            sums = torch.addcmul(self._rows(r, r)[0], sums, self.decays)
        tail = SoeTail(window, self.decays.reshape(-1), self.amplitudes.clone())
        return rows, first, sums, tail

    def _rows(self, lo: int, hi: int) -> Tensor:
        slots = (torch.arange(lo, hi + 1, device=self.work.device) - self.base) % self.slots
        return self.ring_t.t()[slots].clone()

    def restore(self, rows: Tensor, first: int, sums: Tensor | None, tail: SoeTail | None) -> None:
        """Continue from saved rows ``first ..`` (flat) and, with an SOE tail, the sums
        over the rows before them (:meth:`saved`'s form); the saved tail replaces this
        one (a continued solve reuses it, whatever ``soe_tol`` would choose now)."""
        rows = rows.to(self.work.dtype)
        if sums is not None:
            assert tail is not None
            self._set_tail(tail)
            self._use(self.work.new_zeros((self.terms + self.near_rows + self.slots, self.work.shape[1])))
            sums = sums.to(self.work.dtype)
        count = rows.shape[0]
        last = first + count - 1
        keep = min(count, self.window)
        if count > keep and self.terms:  # rows beyond the window join the sums here
            sums = self.soe.new_zeros(self.soe.shape) if sums is None else sums
            for row in rows[: count - keep]:
                sums = torch.addcmul(row, sums, self.decays)
        rows, first = rows[count - keep :], last - keep + 1
        self.base = max(0, last - self.window + 1)
        self.work.zero_()
        if sums is not None:
            self.soe.copy_(sums)
            torch.mm(self.near_mix, self.soe, out=self.near)
        if keep:
            slots = (torch.arange(first, last + 1, device=self.work.device) - self.base) % self.slots
            self.ring_t.t()[slots] = rows
        self.last = max(self.last, last)

    def release(self) -> None:
        """Nothing refers back to this object (no autograd nodes)."""


def join_streams(
    histories: list[StreamingHistory], scales: list[float]
) -> tuple[tuple[StreamingHistory, ...], tuple[float, ...]]:
    """The histories a streamed step runs, with their scales: one joined history
    (:meth:`StreamingHistory.joined`) when every component has the same coefficients
    and scale, else one per component. Components are taken in order."""
    kind = type(histories[0])
    if len(histories) > 1 and len(set(scales)) == 1 and all(type(h) is kind for h in histories):
        joined = kind.joined(histories)
        if joined is not None:
            return (joined,), (scales[0],)
    return tuple(histories), tuple(scales)


def _spans(
    histories: tuple[StreamingHistory, ...], values: tuple
) -> Iterator[tuple[StreamingHistory, tuple]]:
    """Each history with its components' part of ``values``: a history serves the next
    ``len(history.shapes)`` components."""
    start = 0
    for history in histories:
        stop = start + len(history.shapes)
        yield history, values[start:stop]
        start = stop


def advance_streams(
    histories: tuple[StreamingHistory, ...],
    scales: tuple[float, ...],
    n: int,
    f: tuple[Tensor, ...],
) -> tuple[Tensor, ...]:
    """Step ``n`` of a Grünwald–Letnikov-type method on every history
    (:meth:`StreamingHistory.advance`): the components' ``z_{n+1}``."""
    out: list[Tensor] = []
    for (history, part), scale in zip(_spans(histories, f), scales):
        out.extend(history.advance(n, part, scale))
    return tuple(out)


def sum_streams(
    histories: tuple[StreamingHistory, ...], n: int, f: tuple[Tensor, ...]
) -> tuple[Tensor, ...]:
    """Step ``n`` of a method whose rows are the field values: store ``f_n`` as row ``n``
    of every history and return the components' ``sum_l c_l f_{n-l}``."""
    out: list[Tensor] = []
    for history, part in _spans(histories, f):
        history.write(n, part)
        out.extend(history.lagged_sum(None, n, 0))
    return tuple(out)


class Streams:
    """The streamed steps of a solve in which every component streams: the components'
    histories (joined where :func:`join_streams` can), the initial values to add, and the
    previous step's outputs, which link a recorded step to the one before it.

    Args:
        histories: One streaming history per component.
        y0: The components' initial values.
        scales: Per component, the factor of ``f_n`` in a Grünwald–Letnikov-type step
            (:class:`StreamStep`); ``None`` for a method whose rows are the field values
            (:class:`SumStep`).
    """

    def __init__(
        self,
        histories: list[StreamingHistory],
        y0: tuple[Tensor, ...],
        scales: list[float] | None = None,
    ) -> None:
        self.sums_only = scales is None
        self.histories, self.scales = join_streams(histories, scales or [1.0] * len(histories))
        # The factors of the field's gradients in backward, as 0-d tensors of each
        # history's dtype (a product with a Python float wraps it into a tensor on every
        # call, twice the cost); None for a unit scale.
        firsts = [part[0] for _, part in _spans(self.histories, tuple(y0))]
        self.grad_scales = tuple(
            None if s == 1.0 else y.new_tensor(s) for y, s in zip(firsts, self.scales)
        )
        self.start = start_values(y0)
        self.link: tuple[Tensor | None, ...] = (None,) * len(y0)
        # The common inference case, one joined history and zero initial values, skips
        # the per-step bookkeeping of spans and start values (a few microseconds a step).
        self.single = not self.sums_only and len(self.histories) == 1
        self.no_start = all(v is None for v in self.start)

    def step(self, n: int, f: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """Step ``n`` of every component from its field ``f_n``: the solution at step
        ``n + 1``, recorded as one autograd function when a gradient is needed."""
        if records(*f, *self.link):
            if self.sums_only:
                out = SumStep.apply(self.histories, n, *f, *self.link)
            else:
                out = StreamStep.apply(self.histories, self.scales, self.grad_scales, n, *f, *self.link)
        elif self.sums_only:
            out = sum_streams(self.histories, n, f)
        elif self.single:
            out = self.histories[0].advance(n, f, self.scales[0])
        else:
            out = advance_streams(self.histories, self.scales, n, f)
        self.link = out
        if self.no_start:
            return out
        return tuple(v if y0 is None else y0 + v for y0, v in zip(self.start, out))


class StreamStep(torch.autograd.Function):
    """One recorded streaming step of every component ``i``:
    ``z_{n+1} = scale * f_n - sum_l c_l z_{n-l}``.

    ``forward(histories, scales, grad_scales, n, *f, *z_prev)`` returns the components'
    ``z_{n+1}``; each history serves the next ``len(history.shapes)`` components
    (``grad_scales``: the scales as 0-d tensors for backward, ``None`` for 1). ``z_prev``
    (``z_n``, ``None`` at ``n = 0``) is not read (its value is in the history); it links
    the steps so that backward runs them latest first and returns the gradient the
    history sums send to ``z_n``. One function per step, whatever the number of
    components.
    """

    @staticmethod
    def forward(ctx, histories: tuple[StreamingHistory, ...], scales: tuple[float, ...], grad_scales: tuple[Tensor | None, ...], n: int, *tensors: Tensor | None) -> tuple[Tensor, ...]:  # type: ignore[override]
        ctx.histories, ctx.grad_scales, ctx.n = histories, grad_scales, n
        return advance_streams(histories, scales, n, tensors)

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads: Tensor):  # type: ignore[override]
        wants = ctx.needs_input_grad[4 + len(grads) :]
        grad_f: list[Tensor] = []
        grad_prev: list[Tensor | None] = []
        spans = zip(_spans(ctx.histories, grads), _spans(ctx.histories, wants), ctx.grad_scales)
        for (history, g), (_, want), factor in spans:
            grad_prev.extend(_adjoint_step(history, ctx.n, -1.0, g, want))
            grad_f.extend(g if factor is None else (x.mul(factor) for x in g))
        return None, None, None, None, *grad_f, *grad_prev


def _adjoint_step(
    history: StreamingHistory, n: int, sign: float, grads: tuple[Tensor, ...], wants: tuple[bool, ...]
) -> list[Tensor | None]:
    """Backward of step ``n`` on ``history``'s adjoint: store the step's gradients as its
    next row and return the adjoint sums ``sum_l sign * c_l g_{n+l}`` (where wanted)."""
    adj = history._adjoint_for(n, sign)
    k = history.adjoint_top - n  # adjoint rows run backwards in time
    adj.write(k, grads)
    if not any(wants):
        return [None] * len(grads)
    sums = adj.lagged_sum(None, k, 0)
    return [x if want else None for x, want in zip(sums, wants)]


class SumStep(torch.autograd.Function):
    """One recorded step of every component of a method whose history holds the field
    values (``pred``): store ``f_n`` as row ``n`` and return ``sum_l c_l f_{n-l}``.

    ``forward(histories, n, *f, *link)``: each history serves the next
    ``len(history.shapes)`` components. ``link`` (the previous step's outputs, ``None``
    at ``n = 0``) carries no value and gets no gradient; it orders backward, latest step
    first. Backward returns ``sum_l c_l g_{n+l}``, the gradient of ``f_n``.
    """

    @staticmethod
    def forward(ctx, histories: tuple[StreamingHistory, ...], n: int, *tensors: Tensor | None) -> tuple[Tensor, ...]:  # type: ignore[override]
        ctx.histories, ctx.n = histories, n
        return sum_streams(histories, n, tensors)

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads: Tensor):  # type: ignore[override]
        grad_f: list[Tensor | None] = []
        for history, g in _spans(ctx.histories, grads):
            grad_f.extend(_adjoint_step(history, ctx.n, 1.0, g, (True,) * len(g)))
        return None, None, *grad_f, *([None] * len(grads))
