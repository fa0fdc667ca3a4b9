"""Spiking neuron layers: integrate-and-fire and leaky integrate-and-fire variants.

Each neuron is a :class:`spikede_fx.BaseNeuron`: ``step(v, current)`` returns the right-hand
side ``dv_dt`` of the membrane equation and the spikes. Spikes and resets happen inside one
solver step of size ``h = self.dt``: the neuron looks at the potential the step would
reach without a spike, ``u = v + h r`` (``r`` the charging rate), fires ``s = H(u - theta)``
and expresses the reset as an impulse spread over that step. With explicit Euler, a unit
step and ``alpha = 1`` this reproduces the usual discrete-time neuron spike for spike; with
other steps the dynamics scale with ``h`` (``tau`` is measured in the units of the time
grid, never in a hidden unit of time).
"""

from __future__ import annotations

import math
from numbers import Real

import torch
from torch import nn

from spikede._surrogate import Surrogate, get_surrogate
from spikede_fx import BaseNeuron

__all__ = ["HardResetLIFNeuron", "IFNeuron", "LIFNeuron", "NoisyLIFNeuron"]

_UNSET = object()  # marks a constructor argument that the neuron type does not have


def _check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float after checking it is a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(
            f"{name} must be a positive real number; got {value!r} of type {type(value).__name__}"
        )
    if not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def _check_bool(name: str, value: object) -> bool:
    """Return ``value`` after checking it is a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return value


def _check_neuron_args(
    *,
    threshold: object,
    surrogate: object,
    sharpness: object,
    detach_reset: object,
    tau: object = _UNSET,
    learn_tau: object = False,
    v_reset: object = _UNSET,
    noise_std: object = _UNSET,
) -> tuple[float, Surrogate, float | None]:
    """Validate every constructor argument of a neuron before building anything.

    Returns:
        ``(threshold, surrogate module, tau)`` with ``tau`` ``None`` for IF neurons.
    """
    threshold_value = _check_positive("threshold", threshold)
    surrogate_module = get_surrogate(surrogate, sharpness)  # raises for bad name/sharpness
    _check_bool("detach_reset", detach_reset)
    _check_bool("learn_tau", learn_tau)
    tau_value = None if tau is _UNSET else _check_positive("tau", tau)
    if v_reset is not _UNSET:
        if isinstance(v_reset, bool) or not isinstance(v_reset, Real):
            raise TypeError(f"v_reset must be a real number; got {v_reset!r}")
        if not math.isfinite(float(v_reset)) or float(v_reset) >= threshold_value:
            raise ValueError(
                f"v_reset must be finite and below threshold={threshold_value}; got {v_reset!r}"
            )
    if noise_std is not _UNSET:
        if isinstance(noise_std, bool) or not isinstance(noise_std, Real):
            raise TypeError(f"noise_std must be a real number >= 0; got {noise_std!r}")
        if not math.isfinite(float(noise_std)) or float(noise_std) < 0:
            raise ValueError(f"noise_std must be a finite number >= 0; got {noise_std!r}")
    return threshold_value, surrogate_module, tau_value


class _ThresholdNeuron(BaseNeuron):
    """Shared machinery: threshold, surrogate spike function, optional (learnable) tau.

    The constructor takes the user's arguments as given, checks all of them (including a
    variant's own ``variant_args``, e.g. ``v_reset``) in one :func:`_check_neuron_args`
    pass before building anything, then stores them.
    """

    def __init__(
        self,
        threshold: object,
        surrogate: object,
        sharpness: object,
        detach_reset: object,
        tau: object = _UNSET,
        learn_tau: object = False,
        **variant_args: object,
    ) -> None:
        theta, module, tau_value = _check_neuron_args(
            threshold=threshold,
            surrogate=surrogate,
            sharpness=sharpness,
            detach_reset=detach_reset,
            tau=tau,
            learn_tau=learn_tau,
            **variant_args,
        )
        super().__init__()
        self.threshold: float = theta
        self.surrogate: Surrogate = module
        self.detach_reset: bool = bool(detach_reset)
        self.learn_tau: bool = bool(learn_tau)
        self._tau_value: float | None = tau_value
        if self.learn_tau and tau_value is not None:
            self.log_tau = nn.Parameter(torch.tensor(math.log(tau_value)))

    @property
    def tau(self) -> float | torch.Tensor:
        """Membrane time constant: a float, or a positive 0-d tensor when learnable."""
        if self.learn_tau:
            return self.log_tau.exp()
        if self._tau_value is None:
            raise AttributeError(f"{type(self).__name__} has no time constant")
        return self._tau_value

    def _fire(
        self, v: torch.Tensor, rate: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Charge ``v`` at ``rate`` over one step and fire.

        Returns:
            ``(u, spike, reset)``: the charged potential ``u = v + h rate``, the spikes
            ``H(u - theta)`` and the spikes used in the reset (detached if asked).
        """
        u = v + self.dt * rate
        spike = self.surrogate(u - self.threshold)
        return u, spike, (spike.detach() if self.detach_reset else spike)

    def _soft_reset_step(
        self, v: torch.Tensor, rate: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rate - theta s / h, s)``: charging at ``rate`` with reset by subtraction."""
        _, spike, reset = self._fire(v, rate)
        return rate - self.threshold * reset / self.dt, spike

    def extra_repr(self) -> str:
        """Summarise the configuration in the module's repr."""
        parts = []
        if self._tau_value is not None:
            tau = self.log_tau.detach().exp().item() if self.learn_tau else self._tau_value
            parts.append(f"tau={tau:.4g}, learn_tau={self.learn_tau}")
        parts.append(f"threshold={self.threshold}, detach_reset={self.detach_reset}")
        return ", ".join(parts)


class IFNeuron(_ThresholdNeuron):
    """Integrate-and-fire neuron with soft reset (reset by subtraction).

    With ``h = self.dt`` the solver's step and ``theta`` the threshold::

        r      = I                          (pure integration)
        u      = v + h r                    (charged potential)
        s      = H(u - theta)               (Heaviside forward, surrogate backward)
        dv/dt  = r - theta s / h            (the reset as an impulse over the step)

    so one explicit Euler step gives ``v <- u - theta s``.

    Args:
        threshold: Firing threshold ``theta > 0``.
        surrogate: Surrogate name (see :func:`spikede.get_surrogate`) or instance.
        sharpness: Peak ``k`` of the surrogate's pseudo-derivative (``None``: default 1,
            or the instance's own).
        detach_reset: Detach the spikes in the reset term from the graph (gradients flow
            only through the charging and the emitted spikes).

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``threshold`` is not positive or the surrogate name is unknown.

    Example:
        >>> import torch
        >>> neuron = IFNeuron(threshold=1.0)
        >>> [neuron(torch.tensor([0.5])).item() for _ in range(4)]
        [0.0, 1.0, 0.0, 1.0]
    """

    def __init__(
        self,
        threshold: float = 1.0,
        surrogate: str | Surrogate = "sigmoid",
        sharpness: float | None = None,
        detach_reset: bool = False,
    ) -> None:
        super().__init__(threshold, surrogate, sharpness, detach_reset)

    def step(self, v: torch.Tensor, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dv_dt, spike)`` of the IF dynamics at membrane ``v`` and input ``current``.

        Args:
            v: Membrane potential.
            current: Input current, same shape as ``v``.

        Returns:
            ``(I - theta s / h, s)``.
        """
        return self._soft_reset_step(v, current)


class LIFNeuron(_ThresholdNeuron):
    """Leaky integrate-and-fire neuron with soft reset (reset by subtraction).

    With ``h = self.dt`` the solver's step, ``tau`` the membrane time constant (in units
    of the time grid) and ``theta`` the threshold::

        r      = (I - v) / tau              (charging rate; the input enters with decay)
        u      = v + h r                    (charged potential)
        s      = H(u - theta)               (Heaviside forward, surrogate backward)
        dv/dt  = r - theta s / h            (the reset as an impulse over the step)

    One explicit Euler step gives ``u = v + (h/tau)(I - v)``, ``v <- u - theta s``: for
    ``h = 1`` this is the standard discrete-time LIF neuron with input decay and soft
    reset (SpikingJelly's ``LIFNode(decay_input=True, v_reset=None)``), and for another
    ``h`` the same loop with decay ``h/tau``.

    Args:
        tau: Membrane time constant ``tau > 0``.
        threshold: Firing threshold ``theta > 0``.
        surrogate: Surrogate name (see :func:`spikede.get_surrogate`) or instance.
        sharpness: Peak ``k`` of the surrogate's pseudo-derivative (``None``: default 1,
            or the instance's own).
        learn_tau: Make ``tau`` a trainable parameter, stored as ``log_tau`` so that it
            stays positive by construction.
        detach_reset: Detach the spikes in the reset term from the graph.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``tau`` or ``threshold`` is not positive or the surrogate name is
            unknown.

    Example:
        >>> import torch
        >>> neuron = LIFNeuron(tau=2.0, threshold=1.0)
        >>> [neuron(torch.tensor([1.5])).item() for _ in range(4)]
        [0.0, 1.0, 0.0, 1.0]
    """

    def __init__(
        self,
        tau: float = 2.0,
        threshold: float = 1.0,
        surrogate: str | Surrogate = "sigmoid",
        sharpness: float | None = None,
        learn_tau: bool = False,
        detach_reset: bool = False,
    ) -> None:
        super().__init__(threshold, surrogate, sharpness, detach_reset, tau, learn_tau)

    def _input_current(self, current: torch.Tensor) -> torch.Tensor:
        """The current that drives the membrane (a hook for noisy variants)."""
        return current

    def _rate(self, v: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """The leaky charging rate ``r = (I - v) / tau``."""
        return (self._input_current(current) - v) / self.tau

    def step(self, v: torch.Tensor, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dv_dt, spike)`` of the LIF dynamics at membrane ``v`` and input ``current``.

        Args:
            v: Membrane potential.
            current: Input current, same shape as ``v``.

        Returns:
            ``((I - v)/tau - theta s / h, s)``.
        """
        return self._soft_reset_step(v, self._rate(v, current))


class HardResetLIFNeuron(LIFNeuron):
    """Leaky integrate-and-fire neuron with hard reset to ``v_reset``.

    Same charging and firing as :class:`LIFNeuron` (``r = (I - v)/tau``, ``u = v + h r``,
    ``s = H(u - theta)``); the reset sets the potential to ``v_reset`` instead of
    subtracting the threshold::

        dv/dt = r + s (v_reset - u) / h

    so one explicit Euler step gives ``v <- u (1 - s) + v_reset s``.

    Args:
        tau: Membrane time constant ``tau > 0``.
        threshold: Firing threshold ``theta > 0``.
        v_reset: Reset potential, below ``threshold``.
        surrogate: Surrogate name (see :func:`spikede.get_surrogate`) or instance.
        sharpness: Peak ``k`` of the surrogate's pseudo-derivative (``None``: default 1,
            or the instance's own).
        learn_tau: Make ``tau`` trainable (stored as ``log_tau``, positive by construction).
        detach_reset: Detach the spikes in the reset term from the graph.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``tau`` or ``threshold`` is not positive, ``v_reset`` is not below
            ``threshold``, or the surrogate name is unknown.

    Example:
        >>> import torch
        >>> neuron = HardResetLIFNeuron(tau=1.0, threshold=1.0, v_reset=-0.5)
        >>> dv, s = neuron(torch.zeros(1), torch.tensor([2.0]))
        >>> (torch.zeros(1) + neuron.dt * dv).item(), s.item()
        (-0.5, 1.0)
    """

    def __init__(
        self,
        tau: float = 2.0,
        threshold: float = 1.0,
        v_reset: float = 0.0,
        surrogate: str | Surrogate = "sigmoid",
        sharpness: float | None = None,
        learn_tau: bool = False,
        detach_reset: bool = False,
    ) -> None:
        # LIFNeuron.__init__ has no v_reset: check it with the others in one pass.
        _ThresholdNeuron.__init__(
            self, threshold, surrogate, sharpness, detach_reset, tau, learn_tau, v_reset=v_reset
        )
        self.v_reset: float = float(v_reset)

    def step(self, v: torch.Tensor, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dv_dt, spike)`` of the hard-reset LIF dynamics.

        Args:
            v: Membrane potential.
            current: Input current, same shape as ``v``.

        Returns:
            ``((I - v)/tau + s (v_reset - u) / h, s)``.
        """
        rate = self._rate(v, current)
        u, spike, reset = self._fire(v, rate)
        return rate + reset * (self.v_reset - u) / self.dt, spike

    def extra_repr(self) -> str:
        """Summarise the configuration in the module's repr."""
        return f"{super().extra_repr()}, v_reset={self.v_reset}"


class NoisyLIFNeuron(LIFNeuron):
    """LIF neuron (soft reset) with Gaussian input-current noise while training.

    In training mode every evaluation of :meth:`step` uses ``I + noise_std * xi`` with
    ``xi ~ N(0, 1)`` drawn independently per element and per call (so a multi-stage solver
    such as ``rk4`` sees fresh noise at each stage; this is a regulariser, not a
    discretised Wiener process, and it does not scale with ``h``). In ``eval()`` mode the
    neuron is deterministic and identical to :class:`LIFNeuron` with the same arguments.

    Args:
        tau: Membrane time constant ``tau > 0``.
        threshold: Firing threshold ``theta > 0``.
        noise_std: Standard deviation of the current noise, ``>= 0``.
        surrogate: Surrogate name (see :func:`spikede.get_surrogate`) or instance.
        sharpness: Peak ``k`` of the surrogate's pseudo-derivative (``None``: default 1,
            or the instance's own).
        learn_tau: Make ``tau`` trainable (stored as ``log_tau``, positive by construction).
        detach_reset: Detach the spikes in the reset term from the graph.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``tau`` or ``threshold`` is not positive, ``noise_std`` is
            negative, or the surrogate name is unknown.

    Example:
        >>> import torch
        >>> neuron = NoisyLIFNeuron(tau=2.0, noise_std=0.5).eval()
        >>> [neuron(torch.tensor([1.5])).item() for _ in range(4)]
        [0.0, 1.0, 0.0, 1.0]
    """

    def __init__(
        self,
        tau: float = 2.0,
        threshold: float = 1.0,
        noise_std: float = 0.1,
        surrogate: str | Surrogate = "sigmoid",
        sharpness: float | None = None,
        learn_tau: bool = False,
        detach_reset: bool = False,
    ) -> None:
        # LIFNeuron.__init__ has no noise_std: check it with the others in one pass.
        _ThresholdNeuron.__init__(
            self, threshold, surrogate, sharpness, detach_reset, tau, learn_tau, noise_std=noise_std
        )
        self.noise_std: float = float(noise_std)

    def _input_current(self, current: torch.Tensor) -> torch.Tensor:
        """The input current plus Gaussian noise in training mode."""
        if self.training and self.noise_std > 0:
            return current + self.noise_std * torch.randn_like(current)
        return current

    def extra_repr(self) -> str:
        """Summarise the configuration in the module's repr."""
        return f"{super().extra_repr()}, noise_std={self.noise_std}"
