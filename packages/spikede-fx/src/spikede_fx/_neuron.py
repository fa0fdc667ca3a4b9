"""The neuron contract that the tracer and the ODE rewrite rely on."""

from __future__ import annotations

import abc
import inspect
import warnings

import torch
from torch import nn

__all__ = ["BaseNeuron"]


def _takes_dt(step: object) -> bool:
    """Whether ``step`` accepts a third positional argument (the step size)."""
    try:
        params = list(inspect.signature(step).parameters.values())
    except (TypeError, ValueError):
        return True
    positional = [
        p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) >= 4 or any(p.kind is p.VAR_POSITIONAL for p in params)


class BaseNeuron(nn.Module, abc.ABC):
    """Base class of every spiking neuron layer that spikeDE can integrate.

    A neuron is a leaf module. Inside the user's discrete-time model it is called as
    ``neuron(current)``; after the model is rewritten into a vector field it is called as
    ``neuron(v, current, dt)`` and returns ``(dv_dt, spike)``, where ``v`` is the
    membrane potential (the integrated state, same shape as ``current``), ``dt`` the size
    of the solver step this evaluation belongs to, ``dv_dt`` the time derivative (or the
    right-hand side ``f`` of ``D^alpha v = f`` for fractional orders) and ``spike`` the
    emitted spikes, which flow on to the next layer.

    Subclasses implement :meth:`step`, a pure function of ``(v, current, dt)``. A neuron
    whose reset is an impulse uses ``dt`` so that the dynamics scale with the step
    instead of a hidden unit of time; the solver passes each step's own size, so a
    non-uniform grid is handled step by step. Nothing is written into the module while
    solving.

    Called with one argument, ``neuron(current)``, the module runs one explicit Euler step
    of size :attr:`dt` (``1.0`` unless you set it) of its own dynamics on an internal
    state (reset with :meth:`reset_state`), so that the user's model still runs as an
    ordinary discrete-time SNN, one time step per call.

    Optional event interface: :meth:`subthreshold` (``dv/dt`` without the reset),
    :meth:`event_threshold`, :meth:`event_reset` and :meth:`event_spike`. A neuron that
    implements it can also be integrated by the adaptive methods, which integrate the
    sub-threshold dynamics and place each spike at its threshold crossing in time.

    A subclass whose ``step`` takes only ``(v, current)`` (the contract before
    spikede-fx 0.2) still works, with a ``DeprecationWarning`` at class creation; it then
    sees no step size.

    Attributes:
        dt: The step size of calls that give none (``neuron(current)``, the discrete-time
            call, and ``neuron(v, current)``); ``1.0`` unless you set it. Solvers always
            pass their step and never change it.

    Example:
        >>> import torch
        >>> from spikede_fx import BaseNeuron
        >>> class Leaky(BaseNeuron):
        ...     def step(self, v, current, dt):
        ...         u = v + dt * (current - v)
        ...         spike = (u >= 1.0).to(current.dtype)
        ...         return current - v - spike / dt, spike
        >>> neuron = Leaky()
        >>> dv, s = neuron(torch.zeros(2), torch.tensor([0.5, 2.0]), 1.0)
        >>> s
        tensor([0., 1.])
    """

    _step_takes_dt: bool = True

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "__isabstractmethod__", False):
            cls._step_takes_dt = _takes_dt(step)
            if not cls._step_takes_dt:
                warnings.warn(
                    f"{cls.__qualname__}.step(v, current) takes no step size; define "
                    "step(v, current, dt) (the solver passes each step's size). The "
                    "two-argument form is deprecated and will be removed in spikede-fx 0.3.",
                    DeprecationWarning,
                    stacklevel=2,
                )

    def __init__(self) -> None:
        super().__init__()
        self.dt: float = 1.0
        self._discrete_state: torch.Tensor | None = None

    @abc.abstractmethod
    def step(
        self, v: torch.Tensor, current: torch.Tensor, dt: float | torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Evaluate the neuron's dynamics at membrane ``v`` driven by ``current``.

        Args:
            v: Membrane potential, same shape as ``current``.
            current: Input current from the previous layer.
            dt: Size of the solver step this evaluation belongs to.

        Returns:
            ``(dv_dt, spike)``: the right-hand side of the membrane equation and the spikes.
        """

    def _step(
        self, v: torch.Tensor, current: torch.Tensor, dt: float | torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self._step_takes_dt:
            return self.step(v, current, dt)
        return self.step(v, current)  # type: ignore[call-arg]

    def forward(
        self, *args: torch.Tensor | float
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Call as ``neuron(v, current, dt)`` (vector field) or ``neuron(current)`` (discrete).

        Args:
            *args: ``(v, current, dt)`` or ``(v, current)`` (at :attr:`dt`), giving
                ``(dv_dt, spike)``; or ``(current,)``, giving the spikes of one Euler
                step of size :attr:`dt` on the internal state.

        Returns:
            ``(dv_dt, spike)`` for two or three arguments, the spike tensor for one.

        Raises:
            TypeError: When called with another number of arguments.
        """
        if len(args) == 3:
            return self._step(args[0], args[1], args[2])  # type: ignore[arg-type]
        if len(args) == 2:
            return self._step(args[0], args[1], self.dt)  # type: ignore[arg-type]
        if len(args) == 1:
            current = args[0]
            assert isinstance(current, torch.Tensor)
            v = self._discrete_state
            if v is None or v.shape != current.shape:
                v = torch.zeros_like(current)
            dv, spike = self._step(v, current, self.dt)
            self._discrete_state = v + self.dt * dv
            return spike
        raise TypeError(
            f"{type(self).__name__} takes (current), (v, current) or (v, current, dt); "
            f"got {len(args)} arguments"
        )

    def reset_state(self) -> None:
        """Forget the internal state used by the one-argument (discrete-time) call."""
        self._discrete_state = None

    # ------------------------------------------------------------------ event interface
    # Optional: what the adaptive methods need to place spikes at threshold crossings
    # (``SNNWrapper(integrator="odeint", method="dopri5")``). Between spikes the membrane
    # follows ``subthreshold``; a crossing of ``event_threshold()`` from below is a spike,
    # located in time, after which ``event_reset`` maps the membrane.

    def subthreshold(self, v: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """``dv/dt`` between spikes: the membrane equation without the reset.

        Part of the optional event interface (with :meth:`event_threshold` and
        :meth:`event_reset`), which adaptive methods need.

        Args:
            v: Membrane potential.
            current: Input current, same shape as ``v``.

        Returns:
            The time derivative of ``v`` in the absence of spikes.

        Raises:
            NotImplementedError: When the neuron does not implement the event interface.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement subthreshold(v, current)")

    def event_threshold(self) -> float | torch.Tensor:
        """The threshold ``theta``: an upward crossing of ``v - theta`` through zero is a spike.

        Returns:
            A number, or a tensor broadcastable to the membrane (which may require grad).

        Raises:
            NotImplementedError: When the neuron does not implement the event interface.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement event_threshold()")

    def event_reset(self, v: torch.Tensor, spike: torch.Tensor) -> torch.Tensor:
        """The membrane after the spikes ``spike`` (1 where a neuron fires, else 0).

        Written so that it is the identity where ``spike`` is 0 (e.g. ``v - theta *
        spike`` for a soft reset); ``spike`` carries the surrogate gradient.

        Args:
            v: Membrane potential at the spike (at or above the threshold where it fires).
            spike: The spikes, same shape as ``v``.

        Returns:
            The membrane right after the spikes.

        Raises:
            NotImplementedError: When the neuron does not implement the event interface.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement event_reset(v, spike)")

    def event_spike(self, v: torch.Tensor) -> torch.Tensor:
        """``H(v - theta)`` in the forward pass, with the neuron's surrogate derivative.

        The default is the plain Heaviside step (no gradient); neurons with a surrogate
        override it so that spikes placed at events train like the grid methods' spikes.

        Args:
            v: Membrane potential.

        Returns:
            The spikes, in ``v``'s dtype.
        """
        return (v >= self.event_threshold()).to(v.dtype)

    def events_unsupported(self) -> str | None:
        """Why this neuron cannot run with spikes located as events, or ``None`` if it can.

        The default checks that the class implements :meth:`subthreshold`,
        :meth:`event_threshold` and :meth:`event_reset`; a subclass may add conditions
        (e.g. noise drawn per evaluation, which an adaptive method cannot integrate).

        Returns:
            ``None``, or a sentence saying what is missing.

        Example:
            >>> from spikede_fx import BaseNeuron
            >>> class Plain(BaseNeuron):
            ...     def step(self, v, current, dt):
            ...         return current, (v >= 1.0).to(v.dtype)
            >>> Plain().events_unsupported()
            'it does not implement subthreshold, event_threshold, event_reset'
        """
        missing = [
            name
            for name in ("subthreshold", "event_threshold", "event_reset")
            if getattr(type(self), name) is getattr(BaseNeuron, name)
        ]
        return f"it does not implement {', '.join(missing)}" if missing else None
