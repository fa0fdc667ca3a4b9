"""The input-driven part of the field, computed for a block of grid times at once.

On a fixed grid the solver evaluates the field at known times. The input is interpolated
at all of them in one call, and the layers that see only the input (the first ``Linear``
or ``Conv2d``) run vectorised over time with :func:`torch.func.vmap`; an evaluation at
grid point ``k`` then runs only the state-driven rest on row ``k``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import torch

from spikede_fx._network import Network
from spikede_fx._timemap import needs_loop

__all__ = ["INPUT_BLOCK", "InputTable", "build_table"]

_log = logging.getLogger(__name__)

#: Grid times per block of the table.
INPUT_BLOCK = 128


class InputTable:
    """Per grid index ``k``, the inputs of an evaluation at ``times[k]``.

    Block ``b`` covers indices ``b * size .. (b + 1) * size - 1``; its rows ``(x(t_k),
    *frontier(t_k))`` are computed in one vectorised call when a step first needs them,
    and the two most recent blocks are kept (memory O(block), not O(T)). Rows are
    ``unbind`` views: backward gathers their gradients in one node per block, where
    indexing would allocate a block-sized gradient per step. The table belongs to one
    call (nothing in it is shared between calls).

    Attributes:
        times: The grid.
        split: Whether rows hold the frontier too (evaluations run the state graph).
    """

    def __init__(
        self,
        times: torch.Tensor,
        split: bool,
        compute: Callable[[int, int], list[torch.Tensor]],
        size: int = INPUT_BLOCK,
    ) -> None:
        self.times = times
        self.split = split
        self.compute = compute  # compute(start, stop) -> list of [stop - start, ...] columns
        self.size = size
        self.blocks: dict[int, list[tuple[torch.Tensor, ...]]] = {}
        self.columns: dict[int, list[torch.Tensor]] = {}  # the blocks' columns, rows' base
        self._chunks: dict[tuple[int, int], list[tuple[torch.Tensor, ...]]] = {}
        self._index: dict[float, int] | None = None

    def row(self, k: int) -> tuple[torch.Tensor, ...]:
        """The inputs at grid index ``k``."""
        b, i = divmod(k, self.size)
        rows = self.blocks.get(b)
        if rows is None:
            stop = min((b + 1) * self.size, self.times.shape[0])
            rows = self.put(b, self.compute(b * self.size, stop))
        return rows[i]

    def chunk(self, start: int, length: int) -> tuple[torch.Tensor, ...]:
        """The inputs of grid indices ``start .. start + length - 1`` stacked, one
        ``[length, ...]`` tensor per column (``length`` divides the table's block size
        and ``start``; the last chunk may be shorter). A block is split once, so its
        gradients gather in one node, as the rows' do."""
        b, i = divmod(start, self.size)
        key = (b, length)
        chunks = self._chunks.get(key)
        if chunks is None:
            if b not in self.columns:
                self.row(start)
            chunks = list(zip(*[c.split(length) for c in self.columns[b]]))
            self._chunks = {k: v for k, v in self._chunks.items() if k[0] == b - 1}
            self._chunks[key] = chunks
        return chunks[i // length]

    def put(self, b: int, columns: list[torch.Tensor]) -> list[tuple[torch.Tensor, ...]]:
        """Store block ``b`` from its ``[n, ...]`` columns, dropping all but the newest block."""
        rows = list(zip(*[c.unbind(0) for c in columns]))
        if len(self.blocks) >= 2:
            old = min(self.blocks)
            del self.blocks[old]
            self.columns.pop(old, None)
        self.blocks[b] = rows
        self.columns[b] = columns
        return rows

    def index_of(self, t: float) -> int | None:
        """The grid index of the time value ``t``, or ``None`` (for callers without one)."""
        if self._index is None:
            self._index = {v: k for k, v in enumerate(self.times.tolist())}
        return self._index.get(t)


def build_table(
    network: Network,
    interpolator: Any,
    x: torch.Tensor,
    times: torch.Tensor,
    extras: tuple[Any, ...],
    hoist: bool = True,
) -> InputTable:
    """The :class:`InputTable` of one call on the grid ``times``.

    With ``hoist`` the input-driven layers are precomputed as well as the interpolated
    input, unless a layer there updates running statistics in training mode (batch
    normalisation: it keeps its per-evaluation updates), autocast is on (vmap'ed layers
    would escape its precision), or vmap cannot run that part (a warning says so).
    """
    interpolator.at(times[:0])  # checks times
    knots = interpolator.x_time
    on_knots = (
        interpolator.shared_grid
        and times.shape == knots.shape
        and bool(torch.equal(times.to(knots.dtype), knots))
    )

    def input_at(start: int, stop: int) -> torch.Tensor:
        # On the sample times the interpolant reproduces the samples (all but the last
        # exactly): use them, so the first layer saves views of x, not a copy.
        if not on_knots:
            return interpolator.at(times[start:stop])
        last = x.shape[0] - 1
        if stop <= last:
            return x[start:stop]
        return torch.cat([x[start:last], interpolator.at(times[last:stop])])

    x_first = input_at(0, INPUT_BLOCK)
    part = network.input_part
    split = (
        hoist
        and part is not None
        and not network.input_vmap_failed
        and not needs_loop(network.modules_of(part.input_gm))
        and not torch.is_autocast_enabled(x_first.device.type)
    )
    frontier: tuple[torch.Tensor, ...] = ()
    if split:
        assert part is not None
        frontier_of = torch.func.vmap(
            part.input_gm, in_dims=(0, *[None] * len(extras)), randomness="different"
        )
        try:
            frontier = tuple(frontier_of(x_first, *extras))
            if not all(isinstance(f, torch.Tensor) for f in frontier):
                raise TypeError("an input-driven value is not a tensor")
        except Exception as exc:
            split = False
            network.input_vmap_failed = True  # warn once: later calls skip the attempt
            warnings.warn(
                f"the input-driven layers cannot be vectorised over time with "
                f"torch.func.vmap ({type(exc).__name__}: {exc}); they run at every "
                "evaluation instead",
                RuntimeWarning,
                stacklevel=3,
            )
            _log.debug("vmap of the input part failed", exc_info=exc)

    def compute(start: int, stop: int) -> list[torch.Tensor]:
        block = input_at(start, stop)
        return [block, *frontier_of(block, *extras)] if split else [block]

    table = InputTable(times, split, compute)
    table.put(0, [x_first, *frontier] if split else [x_first])  # block 0 served as the check
    return table
