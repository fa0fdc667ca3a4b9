"""Argument checking for the interpolation entry points.

Every public entry point calls exactly one ``check_*`` function from this module before
doing any work. Checks on tensor *values* (finite, strictly increasing ``x_time``) need a
host synchronisation, so they live here and run once, at construction; the query path
(:meth:`spikede_interp.Interpolator.__call__`) only inspects metadata (shape, dtype,
device), which costs nothing on a GPU and traces cleanly under ``torch.compile``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

#: Accepted interpolation methods, in documentation order.
METHODS: tuple[str, ...] = ("linear", "nearest", "previous", "cubic", "akima")

#: Fewest samples each method accepts. With one sample, the piecewise-constant and
#: linear interpolants are the constant ``x[0]``.
MIN_POINTS: dict[str, int] = {
    "linear": 1,
    "nearest": 1,
    "previous": 1,
    "cubic": 4,
    "akima": 5,
}


class CheckedGrid(NamedTuple):
    """Normalised sample grid returned by :func:`check_samples`.

    Attributes:
        x_time: The sample times, either ``[T]`` (shared by the batch) or ``[B, T]``.
        shared: Whether ``x_time`` is shared by every batch element.
    """

    x_time: torch.Tensor
    shared: bool


def _check_method(method: object) -> str:
    if not isinstance(method, str):
        raise TypeError(
            f"method must be a str, one of {list(METHODS)}; got {type(method).__name__} "
            f"{method!r}"
        )
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}; got {method!r}")
    return method


def _check_x(x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"x must be a torch.Tensor of shape [T, B, ...]; got {type(x).__name__}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"x must be a real floating-point tensor (float16, bfloat16, float32 or "
            f"float64); got dtype {x.dtype}. Cast it first, e.g. x.to(torch.float32)"
        )
    if x.dim() < 2:
        raise ValueError(
            f"x must have shape [T, B, ...] (at least 2 dimensions); got shape "
            f"{tuple(x.shape)}"
        )
    return x


def _check_x_time_meta(x: torch.Tensor, x_time: object) -> CheckedGrid:
    t_len, batch = x.shape[0], x.shape[1]
    if not isinstance(x_time, torch.Tensor):
        raise TypeError(
            f"x_time must be a torch.Tensor of shape [T], [B, T] or [T, B]; got "
            f"{type(x_time).__name__}"
        )
    if not x_time.is_floating_point():
        raise TypeError(
            f"x_time must be a real floating-point tensor with the dtype of x "
            f"({x.dtype}); got dtype {x_time.dtype}"
        )
    if x_time.dtype != x.dtype:
        raise TypeError(
            f"x_time must have the dtype of x ({x.dtype}); got dtype {x_time.dtype}"
        )
    if x_time.device != x.device:
        raise ValueError(
            f"x_time must be on the device of x ({x.device}); got device "
            f"{x_time.device}"
        )
    shape = tuple(x_time.shape)
    if x_time.dim() == 1:
        if shape[0] != t_len:
            raise ValueError(
                f"x_time of shape {shape} must have length T = {t_len} (x.shape[0]); "
                f"got length {shape[0]}"
            )
        return CheckedGrid(x_time, True)
    if x_time.dim() == 2:
        if shape == (batch, t_len):
            return CheckedGrid(x_time, False)
        if shape == (t_len, batch):
            return CheckedGrid(x_time.transpose(0, 1), False)
        raise ValueError(
            f"x_time must have shape [T] = ({t_len},), [B, T] = ({batch}, {t_len}) or "
            f"[T, B] = ({t_len}, {batch}) for x of shape {tuple(x.shape)}; got shape "
            f"{shape}"
        )
    raise ValueError(
        f"x_time must have shape [T], [B, T] or [T, B] (1 or 2 dimensions); got shape "
        f"{shape}"
    )


def _check_x_time_values(grid: CheckedGrid) -> None:
    # One host synchronisation each, at construction only.
    times = grid.x_time
    finite = torch.isfinite(times)
    if not bool(finite.all()):
        where = tuple(int(i) for i in (~finite).nonzero()[0])
        raise ValueError(
            f"x_time must be finite; got {float(times[where])} at index {where}"
        )
    if times.shape[-1] >= 2:
        steps = times[..., 1:] - times[..., :-1]
        increasing = steps > 0
        if not bool(increasing.all()):
            where = tuple(int(i) for i in (~increasing).nonzero()[0])
            prev = where[:-1] + (where[-1],)
            nxt = where[:-1] + (where[-1] + 1,)
            layout = "[T]" if grid.shared else "[B, T]"
            raise ValueError(
                f"x_time must be strictly increasing along T; got x_time{list(nxt)} = "
                f"{float(times[nxt])} <= x_time{list(prev)} = {float(times[prev])} "
                f"(indices in the {layout} layout)"
            )


def check_samples(
    x: object, x_time: object, method: object
) -> tuple[torch.Tensor, CheckedGrid, str]:
    """Check the arguments of :class:`spikede_interp.Interpolator`.

    Args:
        x: Samples, expected ``[T, B, ...]`` real floating point.
        x_time: Sample times, expected ``[T]``, ``[B, T]`` or ``[T, B]``.
        method: Interpolation method name.

    Returns:
        ``(x, grid, method)`` with the grid normalised to ``[T]`` or ``[B, T]``.

    Raises:
        TypeError: A wrong type or dtype.
        ValueError: A wrong shape, device, method, or non-increasing/non-finite times.
    """
    method = _check_method(method)
    x = _check_x(x)
    grid = _check_x_time_meta(x, x_time)
    if x.shape[0] < MIN_POINTS[method]:
        raise ValueError(
            f"method {method!r} needs at least {MIN_POINTS[method]} samples along T; got "
            f"x with T = {x.shape[0]} (minimum per method: {MIN_POINTS})"
        )
    _check_x_time_values(grid)
    return x, grid, method


def check_query(
    t: object, batch: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """Check a query time and turn it into a tensor with the samples' dtype and device.

    Only metadata is inspected (no host synchronisation).

    Args:
        t: A Python float/int, a 0-d tensor or a ``[B]`` tensor.
        batch: The batch size ``B``.
        dtype: The dtype of the samples; a floating ``t`` is cast to it.
        device: The device of the samples.

    Returns:
        ``t`` as a 0-d or ``[B]`` tensor of ``dtype`` on ``device``.

    Raises:
        TypeError: ``t`` is a bool, an integer tensor or not a number/tensor.
        ValueError: ``t`` has a wrong shape, lives on another device, or is a
            non-finite Python number (tensor values are not inspected).
    """
    if isinstance(t, bool):
        raise TypeError(
            f"t must be a float, a 0-d tensor or a [B] tensor; got bool {t}"
        )
    if isinstance(t, (int, float)):
        if not math.isfinite(t):
            raise ValueError(f"t must be a finite time; got {t!r}")
        # a fill kernel, not a host-to-device copy
        return torch.full((), float(t), dtype=dtype, device=device)
    if not isinstance(t, torch.Tensor):
        raise TypeError(
            f"t must be a float, a 0-d tensor or a [B] tensor; got {type(t).__name__}"
        )
    if not t.is_floating_point():
        raise TypeError(f"t must be a real floating-point tensor; got dtype {t.dtype}")
    if t.device != device:
        raise ValueError(
            f"t must be on the device of x ({device}); got device {t.device}"
        )
    if not (t.dim() == 0 or (t.dim() == 1 and t.shape[0] == batch)):
        raise ValueError(
            f"t must be a float, a 0-d tensor or a tensor of shape [B] = ({batch},); got "
            f"shape {tuple(t.shape)}"
        )
    return t.to(dtype)


def check_times(times: object, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Check the query times of :meth:`Interpolator.at`: a ``[N]`` floating tensor.

    Args:
        times: The query times.
        dtype: The dtype of the samples; ``times`` is cast to it.
        device: The device of the samples.

    Returns:
        ``times`` as a contiguous ``[N]`` tensor of ``dtype`` on ``device``.

    Raises:
        TypeError: ``times`` is not a real floating-point tensor.
        ValueError: ``times`` is not 1-d or lives on another device.
    """
    if not isinstance(times, torch.Tensor):
        raise TypeError(f"times must be a 1-d floating tensor [N]; got {type(times).__name__}")
    if not times.is_floating_point():
        raise TypeError(f"times must be a real floating-point tensor; got dtype {times.dtype}")
    if times.dim() != 1:
        raise ValueError(f"times must be a 1-d tensor [N]; got shape {tuple(times.shape)}")
    if times.device != device:
        raise ValueError(
            f"times must be on the device of x ({device}); got device {times.device}"
        )
    return times.to(dtype).contiguous()


def check_batched(
    name: str, x: object, x_time: object, t: object, method: str
) -> tuple[torch.Tensor, CheckedGrid, torch.Tensor]:
    """Check the arguments of one of the ``*_interpolate_batched`` functions.

    These take the strict layout ``x [T, B, ...]``, ``x_time [B, T]``, ``t [B]``.

    Args:
        name: The public function's name, for messages.
        x: Samples ``[T, B, ...]``.
        x_time: Per-sample times ``[B, T]``.
        t: Query times ``[B]``.
        method: The method the function implements.

    Returns:
        ``(x, grid, t)`` checked, ``t`` cast to the dtype of ``x``.

    Raises:
        TypeError: A wrong type or dtype.
        ValueError: A wrong shape, device, or non-increasing/non-finite times.
    """
    x = _check_x(x)
    t_len, batch = x.shape[0], x.shape[1]
    if isinstance(x_time, torch.Tensor) and tuple(x_time.shape) != (batch, t_len):
        raise ValueError(
            f"{name}: x_time must have shape [B, T] = ({batch}, {t_len}) for x of shape "
            f"{tuple(x.shape)}; got shape {tuple(x_time.shape)}"
        )
    if isinstance(t, torch.Tensor) and tuple(t.shape) != (batch,):
        raise ValueError(
            f"{name}: t must have shape [B] = ({batch},); got shape {tuple(t.shape)}"
        )
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: t must be a [B] tensor; got {type(t).__name__}")
    x, grid, method = check_samples(x, x_time, method)
    t = check_query(t, batch, x.dtype, x.device)
    return x, grid, t
