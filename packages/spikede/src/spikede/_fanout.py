"""Fan-out of every input position of a convolution or pooling layer: how many of the
layer's outputs (per output channel of the input's group) read it.

The count factors over the spatial dimensions, so it is built as the outer product of one
count per dimension, each from the layer's own windows (stride, padding, dilation, ceiling
mode and adaptive windows as PyTorch lays them out, with the output length taken from the
actual output).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = ["adaptive_counts", "outer", "window_counts"]


def window_counts(size: int, out: int, kernel: int, stride: int, pad_left: int, dilation: int = 1) -> list[int]:
    """For each of ``size`` input positions, the number of (output, kernel tap) pairs that
    read it: output ``o`` reads ``o * stride - pad_left + j * dilation`` for ``j < kernel``
    (positions outside ``[0, size)`` are padding and read nothing)."""
    counts = [0] * size
    for o in range(out):
        for j in range(kernel):
            p = o * stride - pad_left + j * dilation
            if 0 <= p < size:
                counts[p] += 1
    return counts


def adaptive_counts(size: int, out: int) -> list[int]:
    """Per input position, the number of adaptive pooling windows that hold it (window
    ``o`` spans ``[floor(o * size / out), ceil((o + 1) * size / out))``)."""
    counts = [0] * size
    for o in range(out):
        for p in range((o * size) // out, math.ceil((o + 1) * size / out)):
            counts[p] += 1
    return counts


def outer(per_dim: Sequence[Sequence[int]], like: torch.Tensor) -> torch.Tensor:
    """The fan-out map over the spatial dimensions: the product of the per-dimension counts."""
    result = torch.ones((), dtype=torch.float64, device=like.device)
    for counts in per_dim:
        c = torch.tensor(counts, dtype=torch.float64, device=like.device)
        result = result.unsqueeze(-1) * c
    return result
