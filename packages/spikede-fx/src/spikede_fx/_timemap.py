"""Apply a per-time-step function to tensors stacked over time."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils import _pytree as pytree

__all__ = ["TimeMapper", "loop_over_time", "needs_loop"]

_log = logging.getLogger(__name__)


def _stack_steps(outputs: list[Any]) -> Any:
    """Stack a list of per-step outputs (same structure) along a new leading time axis."""
    flat = [pytree.tree_flatten(out) for out in outputs]
    spec = flat[0][1]
    columns = zip(*[leaves for leaves, _ in flat], strict=True)
    stacked = [
        torch.stack(list(col)) if isinstance(col[0], torch.Tensor) else col[0]
        for col in columns
    ]
    return pytree.tree_unflatten(stacked, spec)


def loop_over_time(fn: Callable[..., Any], stacked: Sequence[torch.Tensor]) -> Any:
    """Call ``fn(*[s[t] for s in stacked])`` for every time step and stack the results."""
    steps = stacked[0].shape[0]
    return _stack_steps([fn(*[s[i] for s in stacked]) for i in range(steps)])


def needs_loop(modules: Sequence[nn.Module]) -> bool:
    """Modules whose per-step call mutates state in a way vmap cannot express."""
    for m in modules:
        if (
            isinstance(m, nn.modules.batchnorm._BatchNorm)
            and m.training
            and m.track_running_stats
        ):
            return True
        if isinstance(m, nn.modules.instancenorm._InstanceNorm) and m.training:
            return True
    return False


class TimeMapper:
    """Maps a per-step function over the leading (time) axis of its tensor arguments.

    Uses :func:`torch.func.vmap` (each call of ``fn`` sees one step's ``[B, ...]``
    tensors, so shapes, reductions and reshapes mean what they mean in the per-step
    model, while the kernels run batched over time). Falls back to a Python loop over
    time steps, with a warning the first time, when vmap cannot run ``fn``; modules known
    to update running statistics in training mode (batch and instance normalisation) use
    the loop directly.
    """

    def __init__(self) -> None:
        self._vmap_failed = False

    def __call__(
        self,
        fn: Callable[..., Any],
        stacked: Sequence[torch.Tensor],
        modules: Sequence[nn.Module],
    ) -> Any:
        if self._vmap_failed or needs_loop(modules):
            return loop_over_time(fn, stacked)
        try:
            return torch.func.vmap(fn, in_dims=0, out_dims=0, randomness="different")(
                *stacked
            )
        except Exception as exc:
            self._vmap_failed = True
            warnings.warn(
                f"the post-neuron module cannot be vectorised over time with torch.func.vmap "
                f"({type(exc).__name__}: {exc}); using a loop over time steps instead",
                RuntimeWarning,
                stacklevel=3,
            )
            _log.debug("vmap over time failed", exc_info=exc)
            return loop_over_time(fn, stacked)
