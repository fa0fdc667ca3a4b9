"""Integrate-and-fire neuron with a hard reset to ``v_reset`` (NIR's ``IF`` node)."""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real

import torch

from spikede._surrogate import Surrogate, get_surrogate
from spikede_fx import BaseNeuron

__all__ = ["HardResetIFNeuron"]


def hard_reset_if_step(
    v: torch.Tensor,
    current: torch.Tensor,
    threshold: float,
    v_reset: float,
    spike_fn: Callable[[torch.Tensor], torch.Tensor],
    dt: float | torch.Tensor,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(dv_dt, spike)`` of ``dv/dt = I`` with a reset to ``v_reset`` on firing.

    Args:
        v: Membrane potential.
        current: Input current, same shape as ``v``.
        threshold: Firing threshold.
        v_reset: Potential after a spike.
        spike_fn: The spike function of ``u - threshold`` (a surrogate).
        dt: Step size of the solve.
        detach_reset: Detach the spikes in the reset term.

    Returns:
        ``(I + s (v_reset - u) / h, s)`` with ``u = v + h I`` and ``s = H(u - threshold)``:
        one Euler step gives ``v <- u (1 - s) + v_reset s``.
    """
    u = v + dt * current
    spike = spike_fn(u - threshold)
    reset = spike.detach() if detach_reset else spike
    return current + reset * (v_reset - u) / dt, spike


def _check_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise TypeError(f"{name} must be a finite real number; got {value!r}")
    return float(value)


class HardResetIFNeuron(BaseNeuron):
    """Integrate-and-fire neuron with hard reset to ``v_reset``.

    With ``h`` the solver's step and ``theta`` the threshold::

        u      = v + h I                    (pure integration)
        s      = H(u - theta)               (Heaviside forward, surrogate backward)
        dv/dt  = I + s (v_reset - u) / h    (the reset as an impulse over the step)

    so one explicit Euler step gives ``v <- u (1 - s) + v_reset s``. Unlike
    :class:`spikede.IFNeuron` (reset by subtracting the threshold) the charge above the
    threshold is lost at a spike; this is NIR's ``IF`` node (see :mod:`spikede.nir`).

    Args:
        threshold: Firing threshold ``theta > 0``.
        v_reset: Reset potential, below ``threshold``.
        surrogate: Surrogate name (see :func:`spikede.get_surrogate`) or instance.
        sharpness: Peak of the surrogate's pseudo-derivative (``None``: the default).
        detach_reset: Detach the spikes in the reset term from the graph.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``threshold`` is not positive, ``v_reset`` is not below it, or the
            surrogate name is unknown.

    Example:
        >>> import torch
        >>> neuron = HardResetIFNeuron(threshold=1.0)
        >>> [neuron(torch.tensor([0.6])).item() for _ in range(4)]
        [0.0, 1.0, 0.0, 1.0]
    """

    def __init__(
        self,
        threshold: float = 1.0,
        v_reset: float = 0.0,
        surrogate: str | Surrogate = "sigmoid",
        sharpness: float | None = None,
        detach_reset: bool = False,
    ) -> None:
        theta = _check_real("threshold", threshold)
        if theta <= 0:
            raise ValueError(f"threshold must be a finite number > 0; got {threshold!r}")
        reset = _check_real("v_reset", v_reset)
        if reset >= theta:
            raise ValueError(f"v_reset must be below threshold={theta}; got {v_reset!r}")
        module = get_surrogate(surrogate, sharpness)
        if not isinstance(detach_reset, bool):
            raise TypeError(f"detach_reset must be True or False; got {detach_reset!r}")
        super().__init__()
        self.threshold: float = theta
        self.v_reset: float = reset
        self.surrogate: Surrogate = module
        self.detach_reset: bool = detach_reset

    def step(
        self, v: torch.Tensor, current: torch.Tensor, dt: float | torch.Tensor = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dv_dt, spike)`` of the hard-reset IF dynamics.

        Args:
            v: Membrane potential.
            current: Input current, same shape as ``v``.

        Returns:
            ``(I + s (v_reset - u) / h, s)``.
        """
        return hard_reset_if_step(
            v, current, self.threshold, self.v_reset, self.surrogate, dt, self.detach_reset
        )

    def extra_repr(self) -> str:
        """Summarise the configuration in the module's repr."""
        return (
            f"threshold={self.threshold}, v_reset={self.v_reset}, detach_reset={self.detach_reset}"
        )
