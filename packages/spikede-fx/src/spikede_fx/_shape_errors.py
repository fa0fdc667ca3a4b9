"""Readable errors for a layer that gets an input of the wrong shape in the first dry run.

PyTorch reports such a mismatch from deep inside the layer (``mat1 and mat2 shapes cannot
be multiplied (480x30 and 16x10)``). :func:`layer_shape_error` says which layer of the
user's model it was, the shape it received and the shape it expects, and, for the most
common cause (a ``Linear`` fed straight from a convolution), what to add.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["layer_shape_error"]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_BATCHNORM = {nn.BatchNorm1d: (2, 3), nn.BatchNorm2d: (4,), nn.BatchNorm3d: (5,)}


def _dims(d: int) -> str:
    return "[B, " + ", ".join(["C", "L"] if d == 1 else ["C", "H", "W"] if d == 2 else ["C", "D", "H", "W"]) + "]"


def _expectation(module: nn.Module, shape: tuple[int, ...]) -> tuple[str, str] | None:
    """``(what the layer expects, a hint)`` when ``shape`` does not fit ``module``, else ``None``."""
    if isinstance(module, nn.Linear):
        if shape and shape[-1] == module.in_features:
            return None
        expected = f"[..., {module.in_features}] (last dimension in_features={module.in_features})"
        hint = ""
        if len(shape) >= 3:
            features = math.prod(shape[1:])
            fits = (
                f"flattened, one sample has {features} features, exactly in_features"
                if features == module.in_features
                else f"flattened, one sample has {features} features, so set in_features={features}"
            )
            hint = (
                f"; it received a {len(shape)}-d input, as a convolution or pooling layer gives: "
                f"add nn.Flatten() (or x.flatten(1)) before this Linear ({fits})"
            )
        return expected, hint
    if isinstance(module, _CONV):
        d = len(module.kernel_size)
        if len(shape) in (d + 1, d + 2) and shape[-d - 1] == module.in_channels:
            return None
        return f"{_dims(d)} with C = in_channels = {module.in_channels}", ""
    for kind, ranks in _BATCHNORM.items():
        if type(module) is kind:
            if len(shape) in ranks and shape[1] == module.num_features:
                return None
            ranks_text = " or ".join(f"{r}-d" for r in ranks)
            return f"a {ranks_text} input with dimension 1 = num_features = {module.num_features}", ""
    if isinstance(module, nn.LayerNorm):
        tail = tuple(module.normalized_shape)
        if len(shape) >= len(tail) and tuple(shape[len(shape) - len(tail) :]) == tail:
            return None
        return f"[..., {', '.join(map(str, tail))}] (trailing dimensions normalized_shape={list(tail)})", ""
    return None


def layer_shape_error(name: str, module: nn.Module, inputs: tuple, error: Exception) -> ValueError | None:
    """A ``ValueError`` naming ``name`` when ``error`` comes from an input shape ``module`` cannot take.

    Args:
        name: The layer's module name in the user's model (``model.named_modules()``).
        module: The layer.
        inputs: The positional inputs it was called with.
        error: What it raised.

    Returns:
        The error to raise instead (chain it to ``error``), or ``None`` when the first
        input's shape fits the layer (the failure is something else: re-raise ``error``).
    """
    if not inputs or not isinstance(inputs[0], torch.Tensor):
        return None
    shape = tuple(inputs[0].shape)
    found = _expectation(module, shape)
    if found is None:
        return None
    expected, hint = found
    return ValueError(
        f"layer {name!r} ({module}) received an input of shape {shape} (batch first) but "
        f"expects {expected}{hint}. PyTorch said: {error}"
    )
