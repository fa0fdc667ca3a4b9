"""Calling the field directly: inputs kept by ``set_inputs``, evaluated by ``forward``.

A convenience layer of :class:`~spikede_fx.ODEFuncFromFX` for users who drive the field
themselves; solvers pass :class:`~spikede_fx.FieldArgs` instead, and nothing of this is
used by :class:`spikede.SNNWrapper`.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence
from typing import Any

import torch

from spikede_fx._field import FieldArgs, network_field
from spikede_fx._inputs import build_table

__all__ = ["DirectCalls", "check_step_size"]


def check_step_size(h: object) -> float | torch.Tensor:
    """``h`` as a positive float or 0-d tensor; ``TypeError``/``ValueError`` otherwise."""
    if isinstance(h, torch.Tensor):
        if h.dim() != 0:
            raise TypeError(f"h must be a number or a 0-d tensor; got shape {tuple(h.shape)}")
        positive = bool(h > 0)
    elif isinstance(h, numbers.Real) and not isinstance(h, bool):
        h = float(h)
        positive = h > 0
    else:
        raise TypeError(f"h must be a positive real number; got {type(h).__name__} {h!r}")
    if not positive:
        raise ValueError(f"h must be positive; got {h!r}")
    return h


class DirectCalls:
    """``set_inputs``/``forward``/``precompute`` of :class:`~spikede_fx.ODEFuncFromFX`."""

    _args: FieldArgs | None
    _dt: float | torch.Tensor
    neuron_count: int
    neuron_names: list[str]
    nfe: int

    @property
    def x(self) -> torch.Tensor | None:
        """The input given to the last :meth:`set_inputs` (``None`` before)."""
        return None if self._args is None else self._args.x

    @property
    def x_time(self) -> torch.Tensor | None:
        """The sample times given with it."""
        return None if self._args is None else self._args.x_time

    def set_inputs(
        self, x: torch.Tensor, x_time: torch.Tensor, *extra_args: Any, **extra_kwargs: Any
    ) -> None:
        """Keep the input sequence and extra inputs for :meth:`forward` and :meth:`post`.

        A convenience for calling the field directly; solvers should pass
        :meth:`field_args` instead (nothing is then stored on this module).

        Args:
            x: Input samples ``[T, B, ...]``.
            x_time: Their times, ``[T]`` (or per sample, ``[B, T]``), strictly increasing.
            *extra_args: Further positional inputs of the backbone's ``forward`` (masks,
                adjacency matrices), passed unchanged to every evaluation.
            **extra_kwargs: Further keyword inputs of the backbone's ``forward``.

        Raises:
            TypeError: If the extra inputs do not match the backbone's ``forward``, or
                ``x``/``x_time`` are not floating-point tensors.
            ValueError: If ``x``/``x_time`` have incompatible shapes or ``x_time`` is not
                strictly increasing (checked by :class:`spikede_interp.Interpolator`).
        """
        self._args = self.field_args(x, x_time, *extra_args, **extra_kwargs)

    def clear_inputs(self) -> None:
        """Forget what :meth:`set_inputs` kept."""
        self._args = None

    def set_step_size(self, h: float | torch.Tensor) -> None:
        """Set the step size that :meth:`forward` passes to the neurons (default 1).

        Args:
            h: Positive step size (a number or a 0-d tensor).

        Raises:
            TypeError: If ``h`` is neither a real number nor a 0-d tensor.
            ValueError: If ``h`` is not positive.
        """
        self._dt = check_step_size(h)

    def precompute(self, times: torch.Tensor) -> bool:
        """Compute the input-driven part for every time of ``times`` at once.

        Later :meth:`forward` calls at exactly one of ``times`` reuse it (see
        :meth:`field_args` with ``grid``, which solvers use instead).

        Args:
            times: The evaluation times ``[N]``, on the device of the input.

        Returns:
            ``True`` when the input-driven layers were precomputed, ``False`` when only
            the interpolated input was.

        Raises:
            RuntimeError: If :meth:`set_inputs` was not called.
            TypeError: If ``times`` is not a floating-point tensor.
            ValueError: If ``times`` is not 1-d or on another device.
        """
        args = self._args
        if args is None:
            raise RuntimeError("call set_inputs(x, x_time) before precompute(times)")
        table = build_table(args.network, args.interpolator, args.x, times, args.extras)
        self._args = dataclasses.replace(args, table=table)
        return table.split

    def forward(
        self, t: float | torch.Tensor, v_mems: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, ...]:
        """Evaluate the field at time ``t`` and membranes ``v_mems`` (inputs of :meth:`set_inputs`).

        Args:
            t: Time (float, 0-d tensor, or ``[B]`` per-sample times).
            v_mems: One membrane tensor per neuron call, shaped as
                :meth:`infer_state_shapes` reports.

        Returns:
            ``(dv_1, ..., dv_N, boundary_1, ..., boundary_K)``.

        Raises:
            RuntimeError: If :meth:`set_inputs` was not called.
            ValueError: If ``v_mems`` does not hold :attr:`neuron_count` tensors.
        """
        args = self._args
        if args is None:
            raise RuntimeError("call set_inputs(x, x_time) before evaluating the vector field")
        if len(v_mems) != self.neuron_count:
            raise ValueError(
                f"v_mems must hold {self.neuron_count} membrane tensors (one per neuron "
                f"call {self.neuron_names}); got {len(v_mems)}"
            )
        self.nfe += 1
        index = None
        if args.table is not None and (not isinstance(t, torch.Tensor) or t.dim() == 0):
            index = args.table.index_of(float(t))
        return network_field(t, tuple(v_mems), args, self._dt, index)  # type: ignore[arg-type]

