"""The leaky integrator: a non-spiking readout neuron whose output is its membrane."""

from __future__ import annotations

import torch

from spikede._checks import check_bool, check_positive
from spikede._time_constant import _TimeConstant

__all__ = ["LINeuron"]


def leaky_integrator_step(
    v: torch.Tensor, current: torch.Tensor, tau: float | torch.Tensor, dt: float | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(dv_dt, u)`` of ``tau dv/dt = I - v``, with ``u = v + dt dv/dt`` the readout.

    Args:
        v: Membrane potential.
        current: Input current, same shape as ``v``.
        tau: Membrane time constant, in units of the time grid.
        dt: Step size of the solve.

    Returns:
        The rate ``(I - v) / tau`` and the potential one step later without any reset.
    """
    rate = (current - v) / tau
    return rate, v + dt * rate


class LINeuron(_TimeConstant):
    """Leaky integrator (no threshold, no spikes): a readout whose output is its membrane.

    With ``h`` the solver's step and ``tau`` the time constant (in units of the time grid)::

        dv/dt = (I - v) / tau
        out   = v + h dv/dt          (the potential the step reaches)

    The output plays the role of the spikes of the spiking neurons, which fire on the same
    charged potential ``u = v + h r``: with explicit Euler it is the next membrane value,
    so at ``alpha = 1`` the readout at step ``n`` already contains the input of step ``n``
    (the convention of discrete-time leaky readouts). It is NIR's ``LI`` node with
    ``R = 1`` and ``v_leak = 0`` (see :mod:`spikede.nir`).

    Args:
        tau: Membrane time constant ``tau > 0``.
        learn_tau: Make ``tau`` trainable, stored as ``log_tau`` (positive by construction).

    Raises:
        TypeError: If ``tau`` is not a real number or ``learn_tau`` not a bool.
        ValueError: If ``tau`` is not a finite positive number.

    Example:
        >>> import torch
        >>> readout = LINeuron(tau=2.0)
        >>> [round(readout(torch.tensor([1.0])).item(), 4) for _ in range(3)]
        [0.5, 0.75, 0.875]
    """

    def __init__(self, tau: float = 2.0, learn_tau: bool = False) -> None:
        super().__init__(check_positive("tau", tau), check_bool("learn_tau", learn_tau))

    def step(
        self, v: torch.Tensor, current: torch.Tensor, dt: float | torch.Tensor = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dv_dt, out)`` of the leaky integrator at membrane ``v`` and input ``current``.

        Args:
            v: Membrane potential.
            current: Input current, same shape as ``v``.
            dt: Size ``h`` of the solver step.

        Returns:
            ``((I - v)/tau, v + h (I - v)/tau)``.
        """
        return leaky_integrator_step(v, current, self.tau, dt)

    def extra_repr(self) -> str:
        """Summarise the configuration in the module's repr."""
        return self._tau_repr()
