"""The post-neuron part of a network, applied to boundaries stacked over time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from spikede_fx._network import Network
from spikede_fx._timemap import TimeMapper

__all__ = ["apply_post"]


def apply_post(
    network: Network, mapper: TimeMapper, boundaries: Sequence[torch.Tensor], extras: tuple[Any, ...]
) -> Any:
    """``network.post`` on every time step of ``boundaries`` (``[T, B, ...]`` each).

    Raises:
        TypeError: If a boundary is not a tensor ``[T, ...]``.
        ValueError: If ``boundaries`` has the wrong length or inconsistent time axes.
    """
    names = network.boundary_names
    if isinstance(boundaries, torch.Tensor):
        if len(names) != 1:
            raise TypeError(
                f"boundaries must be a sequence of {len(names)} tensors {names}; got a single tensor"
            )
        boundaries = [boundaries]
    if len(boundaries) != len(names):
        raise ValueError(f"boundaries must hold {len(names)} tensors {names}; got {len(boundaries)}")
    for i, b in enumerate(boundaries):
        if not isinstance(b, torch.Tensor) or b.dim() < 1:
            raise TypeError(f"boundaries[{i}] must be a tensor [T, ...]; got {type(b).__name__}")
    steps = {b.shape[0] for b in boundaries}
    if len(steps) != 1:
        raise ValueError(f"boundaries must share their time length; got lengths {steps}")
    post = network.post

    def one_step(*step_boundaries: torch.Tensor) -> Any:
        return post(*step_boundaries, *extras)

    return mapper(one_step, list(boundaries), network.modules_of(post))
