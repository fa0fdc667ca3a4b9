"""Spiking neuron layers: integrate-and-fire and leaky integrate-and-fire variants.

Each neuron is a :class:`spikede_fx.BaseNeuron`: ``step(v, current, dt)`` returns the
right-hand side ``dv_dt`` of the membrane equation and the spikes. Spikes and resets happen
inside one solver step of size ``h = dt`` (passed by the solver with every evaluation): the neuron looks at the potential the step would
reach without a spike, ``u = v + h r`` (``r`` the charging rate), fires ``s = H(u - theta)``
and expresses the reset as an impulse spread over that step. With explicit Euler, a unit
step and ``alpha = 1`` this reproduces the usual discrete-time neuron spike for spike; with
other steps the dynamics scale with ``h`` (``tau`` is measured in the units of the time
grid, never in a hidden unit of time).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

import torch
from torch import nn

from spikede import _compat
from spikede._checks import check_bool, check_positive
from spikede._surrogate import Surrogate, get_surrogate
from spikede._time_constant import _TimeConstant

__all__ = ["HardResetLIFNeuron", "IFNeuron", "LIFNeuron", "NoisyLIFNeuron"]

_UNSET = object()  # marks a constructor argument that the neuron type does not have


def _check_threshold(threshold: object, learn_threshold: object) -> tuple[float, nn.Parameter | None]:
    """``(value, parameter)``: the threshold's value, and the parameter that holds it if learnable.

    An ``nn.Parameter`` is used as is (a 0-d floating-point tensor with a positive value);
    a number is made one with ``learn_threshold=True``.
    """
    check_bool("learn_threshold", learn_threshold)
    if isinstance(threshold, nn.Parameter):
        if threshold.dim() != 0 or not threshold.is_floating_point():
            raise TypeError(
                f"threshold as an nn.Parameter must be 0-d floating point; got shape "
                f"{tuple(threshold.shape)}, dtype {threshold.dtype}"
            )
        value = float(threshold.detach())
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"threshold must be a finite number > 0; got the parameter's value {value!r}")
        return value, threshold
    if isinstance(threshold, torch.Tensor):
        raise TypeError(
            "threshold must be a positive real number or an nn.Parameter (learnable); got a plain "
            "tensor: pass float(threshold), nn.Parameter(threshold) or learn_threshold=True"
        )
    value = check_positive("threshold", threshold)
    return value, (nn.Parameter(torch.tensor(value)) if learn_threshold else None)


def _check_neuron_args(
    *,
    threshold: object,
    surrogate: object,
    sharpness: object,
    detach_reset: object,
    tau: object = _UNSET,
    learn_tau: object = False,
    learn_threshold: object = False,
    v_reset: object = _UNSET,
    noise_std: object = _UNSET,
) -> tuple[float, nn.Parameter | None, Surrogate, float | None]:
    """Validate every constructor argument of a neuron before building anything.

    Returns:
        ``(threshold value, threshold parameter or None, surrogate module, tau)`` with
        ``tau`` ``None`` for IF neurons.
    """
    threshold_value, threshold_param = _check_threshold(threshold, learn_threshold)
    surrogate_module = get_surrogate(surrogate, sharpness)  # raises for bad name/sharpness
    check_bool("detach_reset", detach_reset)
    check_bool("learn_tau", learn_tau)
    tau_value = None if tau is _UNSET else check_positive("tau", tau)
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
    return threshold_value, threshold_param, surrogate_module, tau_value


_FAST_DTYPES = (torch.float32, torch.float64)


def _fast_constants(
    like: torch.Tensor, dt: float, threshold: float, tau: float | None, v_reset: float | None
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, float, torch.Tensor | None]:
    """Build the fast-form constants of :meth:`_ThresholdNeuron._constants`.

    They are built outside inference mode: cached tensors made under
    ``torch.inference_mode()`` could not be saved for backward by later training steps.
    """

    def const(value: float) -> torch.Tensor:
        with torch.inference_mode(False):
            return torch.tensor(value, dtype=like.dtype, device=like.device)

    theta, step = const(threshold), const(dt)
    return (
        theta,
        None if tau is None else const(tau),
        None if dt == 1.0 else step,
        (theta / step).item(),
        None if v_reset is None else const(v_reset),
    )


def _soft_reset(
    rate: torch.Tensor,
    reset: torch.Tensor,
    theta: float | torch.Tensor,
    dt: float | torch.Tensor | None,
    scale: float | None,
) -> torch.Tensor:
    """``rate - theta reset / h`` in one operation when ``scale = theta / h`` is known."""
    if scale is not None:
        return torch.sub(rate, reset, alpha=scale)
    return rate - theta * reset / dt


class _ThresholdNeuron(_TimeConstant):
    """Shared machinery: threshold, surrogate spike function, optional (learnable) tau.

    The constructor takes the user's arguments as given, translates the reference
    library's names (``reference_args``, see :mod:`spikede._compat`), checks all of them
    (including a variant's own ``variant_args``, e.g. ``v_reset``) in one
    :func:`_check_neuron_args` pass before building anything, then stores them.

    The threshold is a float, or an ``nn.Parameter`` (given, or made by
    ``learn_threshold=True``) that receives gradients through the surrogate and the reset.
    """

    def __init__(
        self,
        threshold: object,
        surrogate: object,
        sharpness: object,
        detach_reset: object,
        tau: object = _UNSET,
        learn_tau: object = False,
        learn_threshold: object = False,
        reference_args: Mapping[str, object] | None = None,
        **variant_args: object,
    ) -> None:
        if reference_args or isinstance(surrogate, Real):
            surrogate, sharpness, tau, learn_tau = _compat.neuron_arguments(
                type(self).__name__,
                reference_args or {},
                surrogate=surrogate,
                sharpness=sharpness,
                tau=tau,
                learn_tau=learn_tau,
                has_tau=tau is not _UNSET,
            )
        theta, theta_param, module, tau_value = _check_neuron_args(
            threshold=threshold,
            surrogate=surrogate,
            sharpness=sharpness,
            detach_reset=detach_reset,
            tau=tau,
            learn_tau=learn_tau,
            learn_threshold=learn_threshold,
            **variant_args,
        )
        super().__init__(tau_value, bool(learn_tau))
        self.threshold: float | nn.Parameter = theta if theta_param is None else theta_param
        self.surrogate: Surrogate = module
        self.detach_reset: bool = bool(detach_reset)
        self._constants_cache: dict[tuple, tuple] = {}  # see _constants

    def _constants(
        self, like: torch.Tensor, current: torch.Tensor, dt: float | torch.Tensor
    ) -> tuple[
        float | torch.Tensor,
        float | torch.Tensor | None,
        float | torch.Tensor | None,
        float | None,
        float | torch.Tensor | None,
    ]:
        """The step's constants ``(threshold, tau, dt, reset_scale, v_reset)`` for ``like``.

        Fast form (eager mode, ``like`` float32/float64 and ``current`` of the same dtype,
        ``dt`` a Python float): the constants are 0-d tensors of ``like``'s dtype and
        device (a tensor operand costs less per operation than a Python scalar, with
        bitwise the same result), ``dt`` is ``None`` when it is 1 (the multiply is
        skipped; ``1 * r`` is exact) and ``reset_scale`` is ``threshold / dt`` rounded in
        ``like``'s dtype, as a float (so ``rate - reset_scale * s`` equals ``rate -
        threshold * s / dt`` bitwise for ``s`` in {0, 1}). They are cached per key (one
        dict entry per dtype, device and step size: reads and writes of one entry are
        atomic, so concurrent solves with other steps do not mix them up).

        Plain form (otherwise, e.g. under ``torch.compile`` or with a tensor ``dt``): the
        Python numbers as stored (``dt`` possibly a tensor) and ``reset_scale`` ``None``.
        ``tau`` and ``v_reset`` are ``None`` for neurons without them.
        """
        v_reset = self.__dict__.get("v_reset")
        if (
            type(dt) is not float
            or "threshold" in self._parameters  # learnable: the parameter itself, in the graph
            or like.dtype not in _FAST_DTYPES
            or current.dtype != like.dtype
            or torch.compiler.is_compiling()
        ):
            return self.threshold, self._tau_value, dt, None, v_reset
        key = (like.dtype, like.device, dt, self.threshold, self._tau_value, v_reset)
        cache = self._constants_cache
        value = cache.get(key)
        if value is None:
            if len(cache) >= 64:  # a non-uniform grid: keep the cache bounded
                cache.clear()
            value = cache[key] = _fast_constants(like, dt, self.threshold, self._tau_value, v_reset)
        return value

    def _rate(
        self, v: torch.Tensor, current: torch.Tensor, tau: float | torch.Tensor | None
    ) -> torch.Tensor:
        """The charging rate ``r``: the input current (pure integration; leaky ones override)."""
        return current

    def _fire(
        self,
        v: torch.Tensor,
        rate: torch.Tensor,
        theta: float | torch.Tensor,
        dt: float | torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Charge ``v`` at ``rate`` over one step and fire.

        Returns:
            ``(u, spike, reset)``: the charged potential ``u = v + h rate`` (``dt`` from
            :meth:`_constants`, ``None`` meaning 1), the spikes ``H(u - theta)`` and the
            spikes used in the reset (detached if asked).
        """
        u = v + rate if dt is None else v + dt * rate
        spike = self.surrogate._spike_above(u, theta)
        return u, spike, (spike.detach() if self.detach_reset else spike)

    @property
    def learn_threshold(self) -> bool:
        """Whether the threshold is an ``nn.Parameter``."""
        return "threshold" in self._parameters

    # Event interface (adaptive methods place spikes at located threshold crossings).
    def subthreshold(self, v: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """``dv/dt`` between spikes: the charging rate ``r`` (no reset impulse)."""
        return self._rate(v, current, self._tau_value)

    def event_threshold(self) -> float | torch.Tensor:
        """The firing threshold ``theta``."""
        return self.threshold

    def event_spike(self, v: torch.Tensor) -> torch.Tensor:
        """``H(v - theta)`` forward, the neuron's surrogate derivative backward."""
        return self.surrogate._spike_above(v, self.event_threshold())

    def event_reset(self, v: torch.Tensor, spike: torch.Tensor) -> torch.Tensor:
        """Soft reset: ``v - theta * spike`` (``spike`` detached with ``detach_reset``)."""
        return v - self.event_threshold() * (spike.detach() if self.detach_reset else spike)

    def extra_repr(self) -> str:
        """Summarise the configuration in the module's repr."""
        parts = [] if self._tau_value is None else [self._tau_repr()]
        theta = round(float(self.threshold.detach()), 6) if self.learn_threshold else self.threshold
        learn = ", learn_threshold=True" if self.learn_threshold else ""
        parts.append(f"threshold={theta}{learn}, detach_reset={self.detach_reset}")
        return ", ".join(parts)


class IFNeuron(_ThresholdNeuron):
    """Integrate-and-fire neuron with soft reset (reset by subtraction).

    With ``h = dt`` the solver's step and ``theta`` the threshold::

        r      = I                          (pure integration)
        u      = v + h r                    (charged potential)
        s      = H(u - theta)               (Heaviside forward, surrogate backward)
        dv/dt  = r - theta s / h            (the reset as an impulse over the step)

    so one explicit Euler step gives ``v <- u - theta s``.

    Args:
        threshold: Firing threshold ``theta > 0``: a number, or an ``nn.Parameter`` (0-d).
        surrogate: Surrogate name (see :func:`spikede.get_surrogate`) or instance.
        sharpness: Peak ``k`` of the surrogate's pseudo-derivative (``None``: default 1,
            or the instance's own).
        detach_reset: Detach the spikes in the reset term from the graph (gradients flow
            only through the charging and the emitted spikes).
        learn_threshold: Make ``threshold`` a trainable ``nn.Parameter`` (a ``threshold``
            given as an ``nn.Parameter`` is used as is). It receives gradients through the
            surrogate and the reset; it is not kept positive.
        **reference_args: The reference spikeDE's names ``surrogate_grad_scale`` and
            ``surrogate_opt``, accepted with a ``DeprecationWarning`` that states the
            conversion (see the migration guide); other names raise ``TypeError``.

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
        threshold: float | nn.Parameter = 1.0,
        surrogate: str | Surrogate = "sigmoid",
        sharpness: float | None = None,
        detach_reset: bool = False,
        learn_threshold: bool = False,
        **reference_args: Any,
    ) -> None:
        super().__init__(
            threshold,
            surrogate,
            sharpness,
            detach_reset,
            learn_threshold=learn_threshold,
            reference_args=reference_args,
        )

    def step(
        self, v: torch.Tensor, current: torch.Tensor, dt: float | torch.Tensor = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dv_dt, spike)`` of the IF dynamics at membrane ``v`` and input ``current``.

        Args:
            v: Membrane potential.
            current: Input current, same shape as ``v``.
            dt: Size ``h`` of the solver step.

        Returns:
            ``(I - theta s / h, s)``.
        """
        theta, _, dt, scale, _ = self._constants(v, current, dt)
        _, spike, reset = self._fire(v, current, theta, dt)
        return _soft_reset(current, reset, theta, dt, scale), spike


class LIFNeuron(_ThresholdNeuron):
    """Leaky integrate-and-fire neuron with soft reset (reset by subtraction).

    With ``h = dt`` the solver's step, ``tau`` the membrane time constant (in units
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
        threshold: Firing threshold ``theta > 0``: a number, or an ``nn.Parameter`` (0-d).
        surrogate: Surrogate name (see :func:`spikede.get_surrogate`) or instance.
        sharpness: Peak ``k`` of the surrogate's pseudo-derivative (``None``: default 1,
            or the instance's own).
        learn_tau: Make ``tau`` a trainable parameter, stored as ``log_tau`` so that it
            stays positive by construction.
        detach_reset: Detach the spikes in the reset term from the graph.
        learn_threshold: Make ``threshold`` a trainable ``nn.Parameter`` (one given as an
            ``nn.Parameter`` is used as is); not kept positive.
        **reference_args: The reference spikeDE's names ``surrogate_grad_scale``,
            ``surrogate_opt`` and ``tau_learnable``, accepted with a ``DeprecationWarning``
            that states the conversion (see the migration guide); other names raise
            ``TypeError``.

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
        threshold: float | nn.Parameter = 1.0,
        surrogate: str | Surrogate = "sigmoid",
        sharpness: float | None = None,
        learn_tau: bool = False,
        detach_reset: bool = False,
        learn_threshold: bool = False,
        **reference_args: Any,
    ) -> None:
        super().__init__(
            threshold,
            surrogate,
            sharpness,
            detach_reset,
            tau,
            learn_tau,
            learn_threshold=learn_threshold,
            reference_args=reference_args,
        )

    def _input_current(self, current: torch.Tensor) -> torch.Tensor:
        """The current that drives the membrane (a hook for noisy variants)."""
        return current

    def _rate(
        self, v: torch.Tensor, current: torch.Tensor, tau: float | torch.Tensor | None
    ) -> torch.Tensor:
        """The leaky charging rate ``r = (I - v) / tau`` (``tau`` from :meth:`_constants`)."""
        if self.learn_tau:
            tau = self.log_tau.exp()
        return (self._input_current(current) - v) / tau

    def step(
        self, v: torch.Tensor, current: torch.Tensor, dt: float | torch.Tensor = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dv_dt, spike)`` of the LIF dynamics at membrane ``v`` and input ``current``.

        Args:
            v: Membrane potential.
            current: Input current, same shape as ``v``.
            dt: Size ``h`` of the solver step.

        Returns:
            ``((I - v)/tau - theta s / h, s)``.
        """
        theta, tau, dt, scale, _ = self._constants(v, current, dt)
        rate = self._rate(v, current, tau)
        _, spike, reset = self._fire(v, rate, theta, dt)
        return _soft_reset(rate, reset, theta, dt, scale), spike


class _HardResetNeuron(_ThresholdNeuron):
    """Shared by the hard-reset neurons: after a spike the potential is set to ``v_reset``.

    With ``r`` the charging rate of the variant (:meth:`_rate`: ``I`` for integrate-and-fire,
    ``(I - v)/tau`` for leaky), ``u = v + h r`` and ``s = H(u - theta)``::

        dv/dt = r + s (v_reset - u) / h

    so one explicit Euler step gives ``v <- u (1 - s) + v_reset s``.
    """

    def __init__(
        self,
        threshold: object,
        surrogate: object,
        sharpness: object,
        detach_reset: object,
        v_reset: object,
        tau: object = _UNSET,
        learn_tau: object = False,
        learn_threshold: object = False,
        reference_args: Mapping[str, object] | None = None,
    ) -> None:
        # Called directly by subclasses whose other base (LIFNeuron) has no v_reset: the
        # checks of every argument still happen in one pass before anything is built.
        _ThresholdNeuron.__init__(
            self,
            threshold,
            surrogate,
            sharpness,
            detach_reset,
            tau,
            learn_tau,
            learn_threshold=learn_threshold,
            reference_args=reference_args,
            v_reset=v_reset,
        )
        self.v_reset: float = float(v_reset)

    def step(
        self, v: torch.Tensor, current: torch.Tensor, dt: float | torch.Tensor = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dv_dt, spike)`` of the hard-reset dynamics at membrane ``v`` and input ``current``.

        Args:
            v: Membrane potential.
            current: Input current, same shape as ``v``.
            dt: Size ``h`` of the solver step.

        Returns:
            ``(r + s (v_reset - u) / h, s)`` with ``r`` the neuron's charging rate.
        """
        theta, tau, dt, scale, v_reset = self._constants(v, current, dt)
        rate = self._rate(v, current, tau)
        u, spike, reset = self._fire(v, rate, theta, dt)
        if scale is None:  # plain form: dt a number or tensor, v_reset a number
            return rate + reset * (v_reset - u) / dt, spike
        jump = v_reset - u  # exact products below: reset is 0 or 1
        return torch.addcmul(rate, reset, jump if dt is None else jump / dt), spike

    def event_reset(self, v: torch.Tensor, spike: torch.Tensor) -> torch.Tensor:
        """Hard reset: ``v + spike * (v_reset - v)``, i.e. ``v_reset`` where a neuron fires."""
        return v + (spike.detach() if self.detach_reset else spike) * (self.v_reset - v)

    def extra_repr(self) -> str:
        """Summarise the configuration in the module's repr."""
        return f"{super().extra_repr()}, v_reset={self.v_reset}"


class HardResetLIFNeuron(_HardResetNeuron, LIFNeuron):
    """Leaky integrate-and-fire neuron with hard reset to ``v_reset``.

    Same charging and firing as :class:`LIFNeuron` (``r = (I - v)/tau``, ``u = v + h r``,
    ``s = H(u - theta)``); the reset sets the potential to ``v_reset`` instead of
    subtracting the threshold::

        dv/dt = r + s (v_reset - u) / h

    so one explicit Euler step gives ``v <- u (1 - s) + v_reset s``.

    Args:
        tau: Membrane time constant ``tau > 0``.
        threshold: Firing threshold ``theta > 0``: a number, or an ``nn.Parameter`` (0-d).
        v_reset: Reset potential, below ``threshold``.
        surrogate: Surrogate name (see :func:`spikede.get_surrogate`) or instance.
        sharpness: Peak ``k`` of the surrogate's pseudo-derivative (``None``: default 1,
            or the instance's own).
        learn_tau: Make ``tau`` trainable (stored as ``log_tau``, positive by construction).
        detach_reset: Detach the spikes in the reset term from the graph.
        learn_threshold: Make ``threshold`` a trainable ``nn.Parameter`` (one given as an
            ``nn.Parameter`` is used as is); not kept positive.
        **reference_args: The reference spikeDE's names ``surrogate_grad_scale``,
            ``surrogate_opt`` and ``tau_learnable``, accepted with a ``DeprecationWarning``
            that states the conversion (see the migration guide); other names raise
            ``TypeError``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``tau`` or ``threshold`` is not positive, ``v_reset`` is not below
            ``threshold``, or the surrogate name is unknown.

    Example:
        >>> import torch
        >>> neuron = HardResetLIFNeuron(tau=1.0, threshold=1.0, v_reset=-0.5)
        >>> dv, s = neuron(torch.zeros(1), torch.tensor([2.0]))
        >>> (torch.zeros(1) + 1.0 * dv).item(), s.item()
        (-0.5, 1.0)
    """

    def __init__(
        self,
        tau: float = 2.0,
        threshold: float | nn.Parameter = 1.0,
        v_reset: float = 0.0,
        surrogate: str | Surrogate = "sigmoid",
        sharpness: float | None = None,
        learn_tau: bool = False,
        detach_reset: bool = False,
        learn_threshold: bool = False,
        **reference_args: Any,
    ) -> None:
        _HardResetNeuron.__init__(
            self,
            threshold,
            surrogate,
            sharpness,
            detach_reset,
            v_reset,
            tau,
            learn_tau,
            learn_threshold=learn_threshold,
            reference_args=reference_args,
        )


class NoisyLIFNeuron(LIFNeuron):
    """LIF neuron (soft reset) with Gaussian input-current noise while training.

    In training mode every evaluation of :meth:`step` uses ``I + noise_std * xi`` with
    ``xi ~ N(0, 1)`` drawn independently per element and per call (so a multi-stage solver
    such as ``rk4`` sees fresh noise at each stage; this is a regulariser, not a
    discretised Wiener process, and it does not scale with ``h``). In ``eval()`` mode the
    neuron is deterministic and identical to :class:`LIFNeuron` with the same arguments.

    Args:
        tau: Membrane time constant ``tau > 0``.
        threshold: Firing threshold ``theta > 0``: a number, or an ``nn.Parameter`` (0-d).
        noise_std: Standard deviation of the current noise, ``>= 0``.
        surrogate: Surrogate name (see :func:`spikede.get_surrogate`) or instance.
        sharpness: Peak ``k`` of the surrogate's pseudo-derivative (``None``: default 1,
            or the instance's own).
        learn_tau: Make ``tau`` trainable (stored as ``log_tau``, positive by construction).
        detach_reset: Detach the spikes in the reset term from the graph.
        learn_threshold: Make ``threshold`` a trainable ``nn.Parameter`` (one given as an
            ``nn.Parameter`` is used as is); not kept positive.
        **reference_args: The reference spikeDE's names ``surrogate_grad_scale``,
            ``surrogate_opt`` and ``tau_learnable``, accepted with a ``DeprecationWarning``
            that states the conversion (see the migration guide); other names raise
            ``TypeError``.

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
        threshold: float | nn.Parameter = 1.0,
        noise_std: float = 0.1,
        surrogate: str | Surrogate = "sigmoid",
        sharpness: float | None = None,
        learn_tau: bool = False,
        detach_reset: bool = False,
        learn_threshold: bool = False,
        **reference_args: Any,
    ) -> None:
        # LIFNeuron.__init__ has no noise_std: check it with the others in one pass.
        _ThresholdNeuron.__init__(
            self,
            threshold,
            surrogate,
            sharpness,
            detach_reset,
            tau,
            learn_tau,
            learn_threshold=learn_threshold,
            reference_args=reference_args,
            noise_std=noise_std,
        )
        self.noise_std: float = float(noise_std)

    def events_unsupported(self) -> str | None:
        """Training noise is drawn per evaluation, which an adaptive method cannot integrate."""
        if self.training and self.noise_std > 0:
            return (
                "its current noise is drawn anew at every evaluation in training mode, which an "
                "adaptive method cannot integrate (use .eval() or noise_std=0, or a grid method)"
            )
        return super().events_unsupported()

    def _input_current(self, current: torch.Tensor) -> torch.Tensor:
        """The input current plus Gaussian noise in training mode."""
        if self.training and self.noise_std > 0:
            return current + self.noise_std * torch.randn_like(current)
        return current

    def extra_repr(self) -> str:
        """Summarise the configuration in the module's repr."""
        return f"{super().extra_repr()}, noise_std={self.noise_std}"
