"""``spikede.State``: where a forward call ended, so that the next call continues it.

Also the per-call helpers of ``SNNWrapper.forward`` for ``initial_state``,
``return_state`` and ``output_time`` (the wrapper stays a thin caller of these).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from spikede_solvers import SOLVERS, History

__all__ = ["State"]


@dataclass(frozen=True, eq=False)
class State:
    """The end of a forward call: final membranes and what the method needs to continue.

    ``snn(x, return_state=True)`` returns ``(output, state)``; ``snn(x_next,
    initial_state=state)`` continues the run: running ``x[:k]`` and then ``x[k:]`` with
    the returned state gives the rows of one run over ``x``, concatenated (to rounding
    for the full history, ``memory=M`` and ``odeint``; within the fit's error for
    ``history="soe"``). The next chunk's ``x_time`` starts where the last one ended: its
    first sample lies after :attr:`time` (by default one unit after the last sample,
    like ``arange``). The state keeps the last input sample(s), so the step from the end
    of one chunk to the first sample of the next interpolates as one run would (exactly
    for ``linear``, ``nearest`` and ``previous``; ``cubic`` and ``akima`` see only the
    samples of the chunk and the kept ones, so they differ near the boundary).

    A fractional neuron's state is its history: the full history is kept whole (it
    grows with the run), ``memory=M`` keeps the last ``M`` rows and ``history="soe"``
    keeps the exact window and the running exponential sums, so with these the cost of
    a chunk does not depend on how many came before.

    Attributes:
        history: The solver's :class:`spikede_solvers.History` (membranes, history rows,
            method, orders).
        samples: The kept input samples ``[S, B, ...]``.
        sample_times: Their times ``[S]``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from spikede import SNNWrapper, LIFNeuron
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> snn = SNNWrapper(nn.Sequential(nn.Linear(3, 4), LIFNeuron()), alpha=0.6)
        >>> x = torch.rand(10, 2, 3)
        >>> with torch.no_grad():
        ...     whole = snn(x)
        ...     first, state = snn(x[:6], return_state=True)
        ...     rest = snn(x[6:], initial_state=state)
        >>> torch.allclose(torch.cat([first, rest]), whole, atol=1e-6)
        True
        >>> [tuple(v.shape) for v in state.membranes], float(state.time)
        ([(2, 4)], 5.0)
    """

    history: History
    samples: Tensor
    sample_times: Tensor

    @property
    def membranes(self) -> tuple[Tensor, ...]:
        """The membrane potential of every neuron layer at :attr:`time`, each ``[B, ...]``."""
        return tuple(self.history.y)

    @property
    def time(self) -> Tensor:
        """The time the state belongs to (the last grid point of the call), 0-d."""
        return self.history.end_time

    @property
    def method(self) -> str:
        """The solver method that made it."""
        return self.history.method

    def to(self, *args: Any, **kwargs: Any) -> State:
        """A copy with every tensor converted by ``Tensor.to(*args, **kwargs)`` (device or
        dtype, as for the model).

        Example:
            >>> import torch
            >>> from torch import nn
            >>> from spikede import SNNWrapper, LIFNeuron
            >>> snn = SNNWrapper(nn.Sequential(nn.Linear(3, 4), LIFNeuron()))
            >>> _, state = snn(torch.rand(5, 2, 3), return_state=True)
            >>> state.to(torch.float64).membranes[0].dtype
            torch.float64
        """
        return State(
            self.history.to(*args, **kwargs),
            self.samples.to(*args, **kwargs),
            self.sample_times.to(*args, **kwargs),
        )

    def detach(self) -> State:
        """A copy detached from the autograd graph: truncated backpropagation through
        time (the next chunk's gradient stops at this state).

        Example:
            >>> import torch
            >>> from torch import nn
            >>> from spikede import SNNWrapper, LIFNeuron
            >>> snn = SNNWrapper(nn.Sequential(nn.Linear(3, 4), LIFNeuron()))
            >>> _, state = snn(torch.rand(5, 2, 3), return_state=True)
            >>> state.membranes[0].requires_grad, state.detach().membranes[0].requires_grad
            (True, False)
        """
        return State(self.history.detach(), self.samples.detach(), self.sample_times.detach())

    def _requires_grad(self) -> bool:
        return self.history._requires_grad() or self.samples.requires_grad


# ---------------------------------------------------------------- per-call helpers
def check_membranes(
    value: Any, shapes: list[torch.Size], batch: int, like: Tensor
) -> tuple[Tensor, ...]:
    """Check ``initial_state`` given as a tuple of membranes; return it as a tuple."""
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, Tensor) for v in value):
        raise TypeError(
            f"initial_state must be a spikede.State, a tuple of {len(shapes)} membrane tensors "
            f"[B, ...] (one per neuron layer) or None; got {type(value).__name__}"
        )
    if len(value) != len(shapes):
        raise ValueError(
            f"initial_state holds {len(value)} membrane tensor(s); the network has "
            f"{len(shapes)} neuron layer(s)"
        )
    for i, (v, s) in enumerate(zip(value, shapes)):
        want = (batch, *s)
        if tuple(v.shape) != want:
            raise ValueError(f"initial_state[{i}] has shape {tuple(v.shape)}; expected {want} (layer {i})")
        if v.dtype != like.dtype or v.device != like.device:
            raise ValueError(
                f"initial_state[{i}] is {v.dtype} on {v.device}; x is {like.dtype} on {like.device}"
            )
    return tuple(value)


def check_state(state: State, shapes: list[torch.Size], x: Tensor, method: str, fractional: bool) -> None:
    """Refuse a :class:`State` that does not fit this call (the solver checks the rest:
    orders, memory and history options)."""
    if state.method != method:
        raise ValueError(
            f"initial_state was made by method {state.method!r}; this call runs {method!r} "
            f"(continue with the same integrator and method)"
        )
    check_membranes(state.membranes, shapes, x.shape[1], x)
    if tuple(state.samples.shape[1:]) != tuple(x.shape[1:]) or state.samples.dtype != x.dtype:
        raise ValueError(
            f"initial_state's input samples are {tuple(state.samples.shape[1:])} {state.samples.dtype}; "
            f"x's are {tuple(x.shape[1:])} {x.dtype}"
        )
    if fractional and torch.is_grad_enabled() and state._requires_grad():
        raise ValueError(
            "initial_state requires grad: a fractional method's saved history carries no "
            "gradient, so it would stop part-way; pass state.detach() (truncated "
            "backpropagation through time) or run under torch.no_grad()"
        )


def default_times(state: State, x: Tensor) -> Tensor:
    """A continued chunk's default ``x_time``: one unit apart, from one unit after the
    last kept sample (so chunks of ``arange`` times make one ``arange``)."""
    last = state.sample_times[-1].to(dtype=x.dtype, device=x.device)
    return last + 1 + torch.arange(x.shape[0], dtype=x.dtype, device=x.device)


def continued_inputs(state: State, x: Tensor, x_time: Tensor) -> tuple[Tensor, Tensor]:
    """The chunk's samples with the state's kept ones in front, and their times."""
    end = max(float(state.time), float(state.sample_times[-1]))
    if float(x_time[0]) <= end:
        raise ValueError(
            f"x_time[0]={float(x_time[0])!r} must come after initial_state's end, {end!r}: the "
            f"next chunk's x_time starts where the last one ended"
        )
    samples = torch.cat([state.samples.to(x), x])
    times = torch.cat([state.sample_times.to(x_time), x_time])
    return samples, times


def kept_samples(x: Tensor, x_time: Tensor, end: Tensor) -> tuple[Tensor, Tensor]:
    """The samples the next chunk needs: from the last one at or before ``end`` on."""
    j = int(torch.searchsorted(x_time.detach(), end.detach().reshape(1), right=True)[0]) - 1
    j = max(j, 0)
    return x[j:], x_time[j:]


def check_output_time(value: Any, like: Tensor, start: float) -> Tensor:
    """Check ``output_time``: 1-d, floating, finite, strictly increasing, ``>= start``."""
    if not isinstance(value, Tensor):
        raise TypeError(f"output_time must be a 1-d tensor of times or None; got {type(value).__name__}")
    if not value.is_floating_point() or value.dim() != 1 or value.shape[0] < 1:
        raise ValueError(
            f"output_time must be a non-empty 1-d floating tensor; got {value.dtype} of shape {tuple(value.shape)}"
        )
    t = value.detach().to(dtype=like.dtype, device=like.device)
    if not bool(torch.isfinite(t).all()):
        raise ValueError("output_time contains NaN or infinite values")
    if not bool((t[1:] > t[:-1]).all()):
        raise ValueError("output_time must be strictly increasing")
    if float(t[0]) < start:
        raise ValueError(
            f"output_time[0]={float(t[0])!r} lies before the start of the run, {start!r}"
        )
    return t


def output_grid(grid: Tensor, t_out: Tensor, method: str) -> tuple[Tensor, Tensor]:
    """The solver grid extended to and through the output times, and their indices in it.

    Beyond the grid's last point it continues with the grid's mean step (uniform grids)
    or with the output times themselves; output times between grid points are inserted,
    which a method that needs a uniform grid refuses.
    """
    n = grid.shape[0]
    h = float(grid[-1] - grid[0]) / max(n - 1, 1)
    eps = torch.finfo(grid.dtype).eps
    scale = max(1.0, float(grid.abs().max()), float(t_out.abs().max()))
    tol = 1e-9 * h + 64 * eps * scale
    steps = grid[1:] - grid[:-1]
    uniform = bool(((steps - h).abs() <= 1e-6 * h + 16 * eps * scale).all())
    last = float(grid[-1])
    beyond = t_out[t_out > last + tol]
    if beyond.numel():
        if uniform:
            m = int(torch.ceil((beyond[-1] - grid[-1]) / h - tol / h).item())
            ext = grid[-1] + h * torch.arange(1, m + 1, dtype=grid.dtype, device=grid.device)
        else:
            ext = beyond
        grid = torch.cat([grid, ext])
    pos = torch.searchsorted(grid, t_out).clamp(max=grid.shape[0] - 1)
    near = torch.minimum(
        (grid[pos] - t_out).abs(), (grid[(pos - 1).clamp(min=0)] - t_out).abs()
    )
    off = near > tol
    if bool(off.any()):
        solver = SOLVERS[method]
        if solver.uniform_only:
            i = int(torch.nonzero(off)[0, 0])
            accepting = sorted(m for m, s in SOLVERS.items() if not s.uniform_only and not getattr(s, "adaptive", False))
            raise ValueError(
                f"output_time[{i}]={float(t_out[i])!r} is not a point of the solver grid, and method "
                f"{method!r} needs a uniform grid; choose options={{'step_size': h}} so that every "
                f"output time is a grid point, or a method that accepts a non-uniform grid "
                f"({', '.join(accepting)})"
            )
        grid = torch.unique(torch.cat([grid, t_out[off]]))  # sorted
    index = torch.argmin((grid[None, :] - t_out[:, None]).abs(), dim=1)
    return grid, index
