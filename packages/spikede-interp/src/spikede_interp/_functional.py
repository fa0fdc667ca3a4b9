"""One-shot functional forms: check, build an :class:`Interpolator`, query once."""

from __future__ import annotations

import torch

from spikede_interp._checks import check_batched, check_query, check_samples
from spikede_interp._interpolator import Interpolator


def interpolate(
    x: torch.Tensor,
    x_time: torch.Tensor,
    t: float | torch.Tensor,
    method: str = "linear",
) -> torch.Tensor:
    """Interpolate samples ``x [T, B, ...]`` taken at ``x_time`` at the time(s) ``t``.

    A one-shot call: it checks every argument, builds an :class:`Interpolator` and
    queries it once. The checks on the values of ``x_time`` synchronise with the host;
    to query the same samples many times (an ODE vector field at every solver step) or
    under ``torch.compile``, build an :class:`Interpolator` once and call it. See
    :class:`Interpolator` for the methods, the layout rule for a 2-d ``x_time``, the
    tie-breaking of ``nearest`` and the end conditions of ``cubic``.

    Args:
        x: Samples ``[T, B, ...]``, real floating point.
        x_time: Sample times, strictly increasing, with the dtype and device of ``x``:
            ``[T]``, ``[B, T]`` or ``[T, B]`` (``[B, T]`` when ``T == B``).
        t: Query time: a Python float, a 0-d tensor or a ``[B]`` tensor. Times outside
            ``[x_time[0], x_time[-1]]`` clamp to the end values.
        method: ``"linear"``, ``"nearest"``, ``"previous"`` (zero-order hold),
            ``"cubic"`` (Catmull-Rom, ``T >= 4``) or ``"akima"`` (``T >= 5``).

    Returns:
        The interpolated values ``[B, ...]`` with the dtype and device of ``x``.

    Raises:
        TypeError: A non-tensor or non-floating ``x``/``x_time``/``t``, mismatched
            dtypes of ``x`` and ``x_time``, or a non-string ``method``.
        ValueError: Wrong ranks or shapes, mismatched devices, non-finite or
            non-increasing ``x_time``, too few samples for the method, an unknown
            method, or a ``t`` batch that does not match ``B``.

    Example:
        >>> import torch
        >>> from spikede_interp import interpolate
        >>> x = torch.tensor([[0.0, 0.0], [1.0, 2.0], [4.0, 4.0]])  # T = 3, B = 2
        >>> interpolate(x, torch.tensor([0.0, 1.0, 2.0]), 0.5)
        tensor([0.5000, 1.0000])
        >>> interpolate(x, torch.tensor([0.0, 1.0, 2.0]), 0.5, method="nearest")
        tensor([0., 0.])
    """
    x, grid, method = check_samples(x, x_time, method)
    t = check_query(t, x.shape[1], x.dtype, x.device)
    return Interpolator._from_checked(x, grid, method)(t)


def _batched(
    name: str, method: str, x: object, x_time: object, t: object
) -> torch.Tensor:
    x, grid, t = check_batched(name, x, x_time, t, method)
    return Interpolator._from_checked(x, grid, method)(t)


def linear_interpolate_batched(
    x: torch.Tensor, x_time: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """Linear interpolation with per-sample times: ``x [T, B, ...]``, ``x_time [B, T]``.

    Args:
        x: Samples ``[T, B, ...]``, real floating point.
        x_time: Per-sample times ``[B, T]``, strictly increasing along T, with the
            dtype and device of ``x``.
        t: Query times ``[B]``, one per batch element, floating point on the device of
            ``x``; clamped to each element's sampled range.

    Returns:
        ``[B, ...]``: element ``b`` is the broken line through ``x[:, b]`` at ``t[b]``.

    Raises:
        TypeError: A non-tensor or non-floating argument, or mismatched dtypes.
        ValueError: Shapes other than ``[T, B, ...]``, ``[B, T]``, ``[B]``, mismatched
            devices, or non-finite or non-increasing ``x_time``.

    Example:
        >>> import torch
        >>> from spikede_interp import linear_interpolate_batched
        >>> x = torch.tensor([[0.0, 0.0], [1.0, 10.0]])  # T = 2, B = 2
        >>> x_time = torch.tensor([[0.0, 1.0], [0.0, 2.0]])
        >>> linear_interpolate_batched(x, x_time, torch.tensor([0.5, 0.5]))
        tensor([0.5000, 2.5000])
    """
    return _batched("linear_interpolate_batched", "linear", x, x_time, t)


def nearest_interpolate_batched(
    x: torch.Tensor, x_time: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """Nearest-sample interpolation with per-sample times (ties pick the earlier sample).

    Not a zero-order hold: the value switches halfway between sample times (use
    :class:`Interpolator` with ``method="previous"`` for a hold).

    Args:
        x: Samples ``[T, B, ...]``, real floating point.
        x_time: Per-sample times ``[B, T]``, strictly increasing along T, with the
            dtype and device of ``x``.
        t: Query times ``[B]``, floating point on the device of ``x``.

    Returns:
        ``[B, ...]``: element ``b`` is the sample of ``x[:, b]`` nearest to ``t[b]``.

    Raises:
        TypeError: A non-tensor or non-floating argument, or mismatched dtypes.
        ValueError: Shapes other than ``[T, B, ...]``, ``[B, T]``, ``[B]``, mismatched
            devices, or non-finite or non-increasing ``x_time``.

    Example:
        >>> import torch
        >>> from spikede_interp import nearest_interpolate_batched
        >>> x = torch.tensor([[0.0, 0.0], [1.0, 10.0]])
        >>> x_time = torch.tensor([[0.0, 1.0], [0.0, 2.0]])
        >>> nearest_interpolate_batched(x, x_time, torch.tensor([0.5, 1.5]))
        tensor([ 0., 10.])
    """
    return _batched("nearest_interpolate_batched", "nearest", x, x_time, t)


def cubic_interpolate_batched(
    x: torch.Tensor, x_time: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """Catmull-Rom cubic interpolation with per-sample times (needs ``T >= 4``).

    Node tangents are ``(x[k+1] - x[k-1]) / (t[k+1] - t[k-1])`` (one-sided at the
    ends), in cubic Hermite form; see :class:`Interpolator`.

    Args:
        x: Samples ``[T, B, ...]``, real floating point.
        x_time: Per-sample times ``[B, T]``, strictly increasing along T, with the
            dtype and device of ``x``.
        t: Query times ``[B]``, floating point on the device of ``x``.

    Returns:
        ``[B, ...]`` interpolated values.

    Raises:
        TypeError: A non-tensor or non-floating argument, or mismatched dtypes.
        ValueError: Shapes other than ``[T, B, ...]``, ``[B, T]``, ``[B]``, mismatched
            devices, non-finite or non-increasing ``x_time``, or ``T < 4``.

    Example:
        >>> import torch
        >>> from spikede_interp import cubic_interpolate_batched
        >>> x = torch.tensor([0.0, 1.0, 8.0, 27.0]).reshape(4, 1)
        >>> x_time = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
        >>> cubic_interpolate_batched(x, x_time, torch.tensor([1.5]))
        tensor([3.3750])
    """
    return _batched("cubic_interpolate_batched", "cubic", x, x_time, t)


def akima_interpolate_batched(
    x: torch.Tensor, x_time: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """Akima (1970) spline interpolation with per-sample times (needs ``T >= 5``).

    Equal to ``scipy.interpolate.Akima1DInterpolator`` on each series; see
    :class:`Interpolator`.

    Args:
        x: Samples ``[T, B, ...]``, real floating point.
        x_time: Per-sample times ``[B, T]``, strictly increasing along T, with the
            dtype and device of ``x``.
        t: Query times ``[B]``, floating point on the device of ``x``.

    Returns:
        ``[B, ...]`` interpolated values.

    Raises:
        TypeError: A non-tensor or non-floating argument, or mismatched dtypes.
        ValueError: Shapes other than ``[T, B, ...]``, ``[B, T]``, ``[B]``, mismatched
            devices, non-finite or non-increasing ``x_time``, or ``T < 5``.

    Example:
        >>> import torch
        >>> from spikede_interp import akima_interpolate_batched
        >>> x = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0]).reshape(5, 1)  # a straight line
        >>> x_time = torch.tensor([[0.0, 1.0, 2.0, 3.0, 4.0]])
        >>> akima_interpolate_batched(x, x_time, torch.tensor([2.5]))
        tensor([2.5000])
    """
    return _batched("akima_interpolate_batched", "akima", x, x_time, t)
