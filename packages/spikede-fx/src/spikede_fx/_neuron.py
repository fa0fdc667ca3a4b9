"""The neuron contract that the tracer and the ODE rewrite rely on."""

from __future__ import annotations

import abc

import torch
from torch import nn

__all__ = ["BaseNeuron"]


class BaseNeuron(nn.Module, abc.ABC):
    """Base class of every spiking neuron layer that spikeDE can integrate.

    A neuron is a leaf module. Inside the user's discrete-time model it is called as
    ``neuron(current)``; after the model is rewritten into a vector field it is called as
    ``neuron(v, current)`` and returns ``(dv_dt, spike)``, where ``v`` is the membrane
    potential (the integrated state, same shape as ``current``), ``dv_dt`` its time
    derivative (or the right-hand side ``f`` of ``D^alpha v = f`` for fractional orders)
    and ``spike`` the emitted spikes, which flow on to the next layer.

    Subclasses implement :meth:`step`, a pure function of ``(v, current)`` that may read
    the step size :attr:`dt` of the solve in progress (set by the solver driver through
    :meth:`spikede_fx.ODEFuncFromFX.set_step_size`; ``1.0`` by default). A neuron whose
    reset is an impulse uses ``dt`` so that the dynamics scale with the step instead of a
    hidden unit of time.

    Called with one argument, ``neuron(current)``, the module runs one explicit Euler step
    of its own dynamics on an internal state (reset with :meth:`reset_state`), so that the
    user's model still runs as an ordinary discrete-time SNN, one time step per call.

    Attributes:
        dt: Step size of the current solve, used by :meth:`step`.

    Example:
        >>> import torch
        >>> from spikede_fx import BaseNeuron
        >>> class Leaky(BaseNeuron):
        ...     def step(self, v, current):
        ...         u = v + self.dt * (current - v)
        ...         spike = (u >= 1.0).to(current.dtype)
        ...         return current - v - spike / self.dt, spike
        >>> neuron = Leaky()
        >>> dv, s = neuron(torch.zeros(2), torch.tensor([0.5, 2.0]))
        >>> s
        tensor([0., 1.])
    """

    def __init__(self) -> None:
        super().__init__()
        self.dt: float = 1.0
        self._discrete_state: torch.Tensor | None = None

    @abc.abstractmethod
    def step(
        self, v: torch.Tensor, current: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Evaluate the neuron's dynamics at membrane ``v`` driven by ``current``.

        Args:
            v: Membrane potential, same shape as ``current``.
            current: Input current from the previous layer.

        Returns:
            ``(dv_dt, spike)``: the right-hand side of the membrane equation and the spikes.
        """

    def forward(
        self, *args: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Call as ``neuron(v, current)`` (vector field) or ``neuron(current)`` (discrete).

        Args:
            *args: Either ``(v, current)``, giving ``(dv_dt, spike)``, or ``(current,)``,
                giving the spikes of one Euler step of size :attr:`dt` on the internal state.

        Returns:
            ``(dv_dt, spike)`` for two arguments, the spike tensor for one.

        Raises:
            TypeError: When called with another number of arguments.
        """
        if len(args) == 2:
            return self.step(args[0], args[1])
        if len(args) == 1:
            current = args[0]
            v = self._discrete_state
            if v is None or v.shape != current.shape:
                v = torch.zeros_like(current)
            dv, spike = self.step(v, current)
            self._discrete_state = v + self.dt * dv
            return spike
        raise TypeError(
            f"{type(self).__name__} takes (current) or (v, current); got {len(args)} arguments"
        )

    def reset_state(self) -> None:
        """Forget the internal state used by the one-argument (discrete-time) call."""
        self._discrete_state = None
