"""The :class:`Interpolator` object: checks and precomputes once, then answers queries."""

from __future__ import annotations

import math

import torch

from spikede_interp._checks import CheckedGrid, check_query, check_samples, check_times
from spikede_interp._coefficients import (
    akima_slopes,
    catmull_rom_slopes,
    hermite_coefficients,
    secant_slopes,
)

_POLYNOMIAL = ("linear", "cubic", "akima")


class Interpolator:
    """Continuous-time signal reconstructed from samples ``x [T, B, ...]`` at ``x_time``.

    Construction checks the arguments (including the values of ``x_time``, the only
    host synchronisation) and precomputes everything that does not depend on the query
    time: the slopes for ``linear`` (the samples themselves are read in place, so the
    object costs one extra copy of ``x``), per-interval polynomial coefficients for
    ``cubic`` and ``akima``, the midpoints for ``nearest``. A query, ``interp(t)``, is then one
    ``torch.searchsorted``, one gather and a Horner evaluation, with no host
    synchronisation and no Python branching on tensor values, so it runs under
    ``torch.compile(fullgraph=True)`` and on GPU without transfers. A shared ``[T]``
    grid with a scalar query selects a whole time slice (no per-sample indexing).

    Methods:

    - ``"linear"``: the broken line through the samples.
    - ``"nearest"``: the sample nearest in time. On a tie (a query exactly halfway
      between two sample times) the earlier sample wins, as in
      ``scipy.interpolate.interp1d(kind="nearest")``. This is *not* a zero-order hold:
      the value changes halfway between samples; use ``"previous"`` for a hold.
    - ``"previous"``: zero-order hold, the last sample at or before the query.
    - ``"cubic"``: Catmull-Rom spline, written as a cubic Hermite spline with the node
      tangents ``m[k] = (x[k+1] - x[k-1]) / (t[k+1] - t[k-1])``. This handles
      non-uniform grids and, when spacing is even, equals the uniform Catmull-Rom
      formula. End tangents are the one-sided differences
      ``(x[1] - x[0]) / (t[1] - t[0])`` and ``(x[-1] - x[-2]) / (t[-1] - t[-2])``
      (on an even grid: uniform Catmull-Rom with the reflected phantom points
      ``2 x[0] - x[1]`` and ``2 x[-1] - x[-2]``). Needs ``T >= 4``.
    - ``"akima"``: Akima (1970) spline, equal to
      ``scipy.interpolate.Akima1DInterpolator(x_time, x)`` (its default
      ``method="akima"``) applied to each series (one batch element and feature).
      Needs ``T >= 5``.

    ``linear``, ``nearest`` and ``previous`` accept a single sample (``T == 1``): the
    interpolant is then the constant ``x[0]``.

    Queries outside ``[x_time[0], x_time[-1]]`` clamp to the end values. Query times
    must be finite (not checked: that would need a host synchronisation).

    Gradients flow to ``x`` (through the precomputed coefficients, so one object can
    serve many queries inside one autograd graph) and, for ``linear``, ``cubic`` and
    ``akima``, to ``t`` inside the sampled range. When ``x`` requires grad, the
    precomputed coefficients belong to the autograd graph: a second backward through
    queries of the same object needs ``retain_graph=True`` on the first, or a fresh
    object per forward pass (cheap: one pass over ``x``).

    Args:
        x: Samples ``[T, B, ...]``, real floating point (integer tensors raise
            ``TypeError``; cast them first).
        x_time: Sample times, strictly increasing along T, with the dtype and device
            of ``x``: ``[T]`` (shared by the batch), ``[B, T]`` or ``[T, B]``. A 2-d
            ``x_time`` is read as ``[B, T]`` when its shape is ``(B, T)``, and as
            ``[T, B]`` only when its shape is ``(T, B)`` and that differs from
            ``(B, T)``; so when ``T == B`` it is ``[B, T]``.
        method: One of ``"linear"``, ``"nearest"``, ``"previous"``, ``"cubic"``,
            ``"akima"``.

    Raises:
        TypeError: ``x`` or ``x_time`` is not a real floating-point tensor, their dtypes
            differ, or ``method`` is not a string.
        ValueError: Wrong ranks or shapes, ``x`` and ``x_time`` on different devices,
            ``x_time`` not finite or not strictly increasing, too few samples for the
            method, or an unknown method.

    Example:
        >>> import torch
        >>> from spikede_interp import Interpolator
        >>> x = torch.tensor([[0.0], [2.0], [4.0]])  # T = 3, B = 1
        >>> interp = Interpolator(x, torch.tensor([0.0, 1.0, 2.0]), method="linear")
        >>> interp(0.25)
        tensor([0.5000])
        >>> interp(torch.tensor([1.5]))
        tensor([3.])
        >>> interp(10.0)  # clamped to the last sample
        tensor([4.])
    """

    def __init__(
        self, x: torch.Tensor, x_time: torch.Tensor, method: str = "linear"
    ) -> None:
        x, grid, method = check_samples(x, x_time, method)
        self._build(x, grid, method)

    @classmethod
    def _from_checked(
        cls, x: torch.Tensor, grid: CheckedGrid, method: str
    ) -> Interpolator:
        obj = cls.__new__(cls)
        obj._build(x, grid, method)
        return obj

    def _build(self, x: torch.Tensor, grid: CheckedGrid, method: str) -> None:
        t_len, batch = x.shape[0], x.shape[1]
        self._method = method
        self._feature_shape = tuple(x.shape[2:])
        self._batch = batch
        self._t_len = t_len
        self._shared = grid.shared
        self._dtype = x.dtype
        self._device = x.device
        features = math.prod(self._feature_shape)
        self._features = features
        flat = x.reshape(t_len, batch, features)
        times = grid.x_time  # [T] or [B, T]
        self._x_time = times
        if self._shared:
            knots = times.reshape(t_len, 1, 1)
        else:
            knots = times.transpose(0, 1).reshape(t_len, batch, 1)
        self._arange = torch.arange(batch, device=x.device)
        self._lo = times[..., 0]
        self._hi = times[..., -1]
        if method == "linear" and t_len == 1:
            method = "previous"  # a single sample: the constant x[0]
        self._kind = method
        if method == "nearest":
            self._search = (0.5 * (times[..., 1:] + times[..., :-1])).contiguous()
            self._set_values(flat)
            return
        if method == "previous":
            self._search = times[..., 1:].contiguous()
            self._set_values(flat)
            return
        h = knots[1:] - knots[:-1]
        self._search = times[..., 1:-1].contiguous()
        if self._shared:
            self._left = times[:-1]
        else:
            self._left = times[:, :-1].transpose(0, 1).reshape(-1)
        if method == "linear":
            # Memory-lean: the samples themselves (no copy) and one tensor of slopes,
            # as two row views each (time slice / (interval, element) rows).
            slopes = secant_slopes(flat, h)
            self._set_values(flat)
            self._slopes = slopes.reshape(t_len - 1, batch * features)
            self._slope_rows = slopes.reshape((t_len - 1) * batch, features)
            return
        if method == "cubic":
            coef = hermite_coefficients(flat, catmull_rom_slopes(flat, knots, h), h)
        else:
            coef = hermite_coefficients(flat, akima_slopes(flat, h), h)
        self._order = coef.shape[2]
        # Two views of one tensor: [T - 1, B * n * F] to select a time slice, and
        # [(T - 1) * B, n * F] where interval k of batch element b sits in row k * B + b.
        self._coef = coef.reshape(t_len - 1, batch * self._order * features)
        self._coef_rows = coef.reshape((t_len - 1) * batch, self._order * features)

    def _set_values(self, flat: torch.Tensor) -> None:
        t_len, batch, features = flat.shape
        self._values = flat.reshape(t_len, batch * features)
        self._value_rows = flat.reshape(t_len * batch, features)

    @property
    def method(self) -> str:
        """The interpolation method this object was built with."""
        return self._method

    @property
    def x_time(self) -> torch.Tensor:
        """The sample times, ``[T]`` when shared by the batch, else ``[B, T]``."""
        return self._x_time

    @property
    def shared_grid(self) -> bool:
        """Whether all batch elements share one ``[T]`` grid of sample times."""
        return self._shared

    def __repr__(self) -> str:
        grid = "shared [T]" if self._shared else "per-sample [B, T]"
        return (
            f"Interpolator(method={self._method!r}, T={self._t_len}, B={self._batch}, "
            f"features={self._feature_shape}, x_time={grid}, dtype={self._dtype}, "
            f"device={self._device})"
        )

    def __call__(self, t: float | torch.Tensor) -> torch.Tensor:
        """Evaluate the interpolant at the query time(s) ``t``.

        Args:
            t: A Python float, a 0-d tensor (one time for the whole batch) or a ``[B]``
                tensor (one time per batch element), on the device of ``x``. A floating
                tensor of another dtype is cast to the dtype of ``x``.

        Returns:
            The interpolated values, ``[B, ...]`` (the shape of ``x[0]``), with the
            dtype and device of ``x``.

        Raises:
            TypeError: ``t`` is a bool, an integer tensor, or neither a number nor a
                tensor.
            ValueError: ``t`` has a shape other than ``()`` or ``[B]``, or lives on
                another device.

        Example:
            >>> import torch
            >>> from spikede_interp import Interpolator
            >>> x = torch.tensor([[1.0, 10.0], [3.0, 30.0]])  # T = 2, B = 2
            >>> hold = Interpolator(x, torch.tensor([0.0, 1.0]), method="previous")
            >>> hold(torch.tensor([0.5, 1.0]))
            tensor([ 1., 30.])
        """
        t = check_query(t, self._batch, self._dtype, self._device)
        out_shape = (self._batch, *self._feature_shape)
        batch = self._batch
        if self._shared and t.dim() == 0:
            # One time for a shared grid: select a whole [B, ...] time slice.
            q = t.reshape(1)
            if self._kind == "linear":
                k = torch.searchsorted(self._search, q, right=True)
                s = torch.clamp(q, self._lo, self._hi) - self._left.index_select(0, k)
                return torch.addcmul(
                    self._values.index_select(0, k), self._slopes.index_select(0, k), s
                ).reshape(out_shape)
            if self._kind in _POLYNOMIAL:
                k = torch.searchsorted(self._search, q, right=True)
                c = self._coef.index_select(0, k).reshape(
                    batch, self._order, self._features
                )
                s = torch.clamp(q, self._lo, self._hi) - self._left.index_select(0, k)
                return _horner(c, s).reshape(out_shape)
            right = self._kind == "previous"
            k = torch.searchsorted(self._search, q, right=right)
            return self._values.index_select(0, k).reshape(out_shape)
        if t.dim() == 0:
            t = t.expand(batch)
        if self._kind == "linear":
            k = self._locate(t, right=True)
            rows = k * batch + self._arange
            left = self._left.index_select(0, k if self._shared else rows)
            s = (torch.clamp(t, self._lo, self._hi) - left).reshape(batch, 1)
            return torch.addcmul(
                self._value_rows.index_select(0, rows), self._slope_rows.index_select(0, rows), s
            ).reshape(out_shape)
        if self._kind in _POLYNOMIAL:
            k = self._locate(t, right=True)
            rows = k * batch + self._arange  # interval k of element b: row k * B + b
            c = self._coef_rows.index_select(0, rows).reshape(
                batch, self._order, self._features
            )
            left = self._left.index_select(0, k if self._shared else rows)
            s = torch.clamp(t, self._lo, self._hi) - left
            return _horner(c, s.reshape(batch, 1)).reshape(out_shape)
        k = self._locate(t, right=self._kind == "previous")
        rows = k * batch + self._arange
        return self._value_rows.index_select(0, rows).reshape(out_shape)

    def at(self, times: torch.Tensor) -> torch.Tensor:
        """Evaluate the interpolant at each of ``N`` times at once (shared by the batch).

        ``at(times)[n]`` equals ``self(times[n])`` exactly; on a shared ``[T]`` grid the
        ``N`` queries cost one search, one gather and one Horner evaluation in all (an
        ODE solver on a fixed grid can thus read the whole input sequence up front).

        Args:
            times: Query times ``[N]``, floating point, on the device of ``x`` (cast to
                its dtype).

        Returns:
            ``[N, B, ...]``: the interpolated input at every query time.

        Raises:
            TypeError: ``times`` is not a real floating-point tensor.
            ValueError: ``times`` is not 1-d or lives on another device.

        Example:
            >>> import torch
            >>> from spikede_interp import Interpolator
            >>> x = torch.tensor([[0.0], [2.0], [4.0]])  # T = 3, B = 1
            >>> Interpolator(x, torch.tensor([0.0, 1.0, 2.0])).at(torch.tensor([0.5, 1.5]))
            tensor([[1.],
                    [3.]])
        """
        t = check_times(times, self._dtype, self._device)
        n, batch = t.shape[0], self._batch
        out_shape = (n, batch, *self._feature_shape)
        if not self._shared:
            if n == 0:
                return torch.empty(out_shape, dtype=self._dtype, device=self._device)
            return torch.stack([self(q) for q in t.unbind(0)])
        if self._kind == "linear":
            k = torch.searchsorted(self._search, t, right=True)
            s = torch.clamp(t, self._lo, self._hi) - self._left.index_select(0, k)
            return torch.addcmul(
                self._values.index_select(0, k), self._slopes.index_select(0, k), s[:, None]
            ).reshape(out_shape)
        if self._kind in _POLYNOMIAL:
            k = torch.searchsorted(self._search, t, right=True)
            c = self._coef.index_select(0, k).reshape(n * batch, self._order, self._features)
            s = torch.clamp(t, self._lo, self._hi) - self._left.index_select(0, k)
            s = s.repeat_interleave(batch).reshape(n * batch, 1)
            return _horner(c, s).reshape(out_shape)
        k = torch.searchsorted(self._search, t, right=self._kind == "previous")
        return self._values.index_select(0, k).reshape(out_shape)

    def _locate(self, t: torch.Tensor, right: bool) -> torch.Tensor:
        """Return ``[B]`` indices of ``t [B]`` in the precomputed search boundaries."""
        if self._shared:
            return torch.searchsorted(self._search, t.contiguous(), right=right)
        q = t.reshape(self._batch, 1).contiguous()
        return torch.searchsorted(self._search, q, right=right).reshape(self._batch)


def _horner(c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Evaluate ``sum_j c[:, j] * s**j`` for coefficients ``c [B, n, F]``."""
    order = c.shape[1]
    y = c[:, order - 1]
    for j in range(order - 2, -1, -1):
        y = torch.addcmul(c[:, j], y, s)
    return y
