"""Surrogate gradients: a Heaviside spike forward, a smooth pseudo-derivative backward.

Every surrogate here shares one meaning of its ``sharpness`` argument ``k``: the
pseudo-derivative ``h(x)`` that replaces the Dirac delta in the backward pass is a
probability density (unit area, ``integral h(x) dx = 1``) whose peak is ``h(0) = k``.
Larger ``k`` means a narrower, taller window around the threshold; ``k = 1`` is a broad
window of roughly unit width. The forward pass is always the Heaviside step
``H(x) = 1[x >= 0]`` (a membrane exactly at threshold, ``x = 0``, spikes), except for the
noisy threshold in training mode.

The gradient is implemented with the straight-through identity
``p(x) - p(x).detach() + H(x)``, where ``p`` is the primitive of ``h`` (a smooth, relaxed
spike). Its value is exactly ``H(x)`` (``p - p`` is exactly zero in floating point) and its
derivative is exactly ``h(x)``; it needs no custom ``autograd.Function``, so it traces,
compiles and differentiates twice like any other PyTorch expression.
"""

from __future__ import annotations

import math
from numbers import Real

import torch
from torch import nn

__all__ = [
    "ArctanSurrogate",
    "GaussianSurrogate",
    "NoisyThresholdSurrogate",
    "SigmoidSurrogate",
    "Surrogate",
    "TriangleSurrogate",
    "get_surrogate",
    "heaviside",
]


_is_functorch_wrapped = torch._C._functorch.is_functorch_wrapped_tensor


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """The spike function ``H(x) = 1[x >= 0]`` in the dtype of ``x``.

    ``H(0) = 1``: a membrane potential that reaches the threshold exactly emits a spike.

    Args:
        x: Membrane potential minus threshold.

    Returns:
        A tensor of zeros and ones with the shape, dtype and device of ``x``.

    Example:
        >>> import torch
        >>> heaviside(torch.tensor([-0.5, 0.0, 0.5]))
        tensor([0., 1., 1.])
    """
    return (x >= 0).to(x.dtype)


def _check_sharpness(sharpness: object) -> float:
    """Validate a sharpness value and return it as a float."""
    if isinstance(sharpness, bool) or not isinstance(sharpness, Real):
        raise TypeError(
            f"sharpness must be a positive real number; got {sharpness!r} "
            f"of type {type(sharpness).__name__}"
        )
    value = float(sharpness)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"sharpness must be a finite number > 0; got {sharpness!r}")
    return value


class Surrogate(nn.Module):
    """Base class of the surrogate spike functions.

    A surrogate is a parameter-free module: ``surrogate(x)`` returns the spikes ``H(x)``
    for ``x = u - threshold`` in the dtype of ``x``, and its gradient with respect to
    ``x`` is the pseudo-derivative :meth:`derivative`. Subclasses implement
    :meth:`primitive` (a smooth function ``p`` with ``p' = h``; autograd differentiates it)
    and :meth:`derivative` (``h`` in closed form, used for documentation and tests).
    Being a module, a surrogate follows its owner's ``train()``/``eval()`` mode, which
    matters for :class:`NoisyThresholdSurrogate`.

    Args:
        sharpness: ``k > 0``, the peak ``h(0)`` of the unit-area pseudo-derivative.

    Raises:
        TypeError: If ``sharpness`` is not a real number.
        ValueError: If ``sharpness`` is not finite and positive.

    Attributes:
        sharpness: The peak ``k`` of the pseudo-derivative.
        name: Short name under which :func:`get_surrogate` finds the class.

    Example:
        >>> import torch
        >>> class Rectangle(Surrogate):
        ...     name = "rectangle"
        ...     def primitive(self, x):
        ...         return (self.sharpness * x + 0.5).clamp(0.0, 1.0)
        ...     def derivative(self, x):
        ...         return self.sharpness * (x.abs() < 0.5 / self.sharpness).to(x.dtype)
        >>> x = torch.tensor([-1.0, 0.1], requires_grad=True)
        >>> s = Rectangle(2.0)(x)
        >>> s.sum().backward()
        >>> s.detach(), x.grad
        (tensor([0., 1.]), tensor([0., 2.]))
    """

    name: str = "surrogate"

    def __init__(self, sharpness: float = 1.0) -> None:
        super().__init__()
        self.sharpness: float = _check_sharpness(sharpness)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        """The smooth relaxed spike ``p(x)``, whose derivative is :meth:`derivative`.

        Args:
            x: Membrane potential minus threshold.

        Returns:
            ``p(x)``, increasing from 0 to 1, same shape and dtype as ``x``.
        """
        raise NotImplementedError

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """The pseudo-derivative ``h(x)`` used in place of the Dirac delta.

        Args:
            x: Membrane potential minus threshold.

        Returns:
            ``h(x) >= 0`` with unit area and ``h(0) = sharpness``, same shape and dtype
            as ``x``.
        """
        raise NotImplementedError

    def spike_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The forward value of the spike (``H(x)`` unless a subclass adds noise).

        Args:
            x: Membrane potential minus threshold.

        Returns:
            Zeros and ones in the dtype of ``x``.
        """
        return heaviside(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes ``H(x)`` forward, gradient ``h(x)`` backward.

        Args:
            x: Membrane potential minus threshold (any shape, floating point).

        Returns:
            Spikes of the shape, dtype and device of ``x``.
        """
        spikes = self.spike_forward(x)
        if not (x.requires_grad and torch.is_grad_enabled()):
            return spikes
        relaxed = self.primitive(x)
        return relaxed - relaxed.detach() + spikes

    def _spike_above(self, u: torch.Tensor, threshold: float | torch.Tensor) -> torch.Tensor:
        """``self(u - threshold)`` with fewer tensor operations (the neurons' hot path).

        For a surrogate whose :meth:`forward` and :meth:`spike_forward` are the base
        class's (the Heaviside forward) and that has no forward hooks, the spikes are
        ``1[u >= threshold]`` (the same comparison as ``u - threshold >= 0`` in floating
        point), and ``u - threshold`` is only formed when a gradient is needed. Any other
        surrogate is called as a module on ``u - threshold``. Values and gradients are
        those of ``self(u - threshold)``.

        Args:
            u: Charged membrane potential.
            threshold: The threshold, a Python float or a 0-d tensor of ``u``'s dtype.

        Returns:
            Spikes of the shape, dtype and device of ``u``.
        """
        if not self._heaviside_forward or self._forward_hooks or self._forward_pre_hooks:
            return self(u - threshold)
        if torch.compiler.is_compiling() or _is_functorch_wrapped(u):
            # compiled, or vmap/grad transforms (no out= batching rule): the plain form
            spikes = torch.ge(u, threshold).to(u.dtype)
        else:  # the comparison written as floats directly: one kernel, not two
            spikes = torch.ge(u, threshold, out=torch.empty_like(u))
        needs_grad = u.requires_grad or (isinstance(threshold, torch.Tensor) and threshold.requires_grad)
        if not (needs_grad and torch.is_grad_enabled()):
            return spikes
        relaxed = self._relaxed_above(u, threshold)
        return relaxed - relaxed.detach() + spikes

    def _relaxed_above(self, u: torch.Tensor, threshold: float | torch.Tensor) -> torch.Tensor:
        """``self.primitive(u - threshold)``; a subclass may compute it in fewer
        operations (``_spike_above``'s gradient path)."""
        return self.primitive(u - threshold)

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Record whether the subclass keeps the Heaviside forward (see ``_spike_above``)."""
        super().__init_subclass__(**kwargs)
        cls._heaviside_forward = (
            cls.forward is Surrogate.forward and cls.spike_forward is Surrogate.spike_forward
        )

    def extra_repr(self) -> str:
        """Show the sharpness in the module's repr."""
        return f"sharpness={self.sharpness}"


Surrogate._heaviside_forward = True


class SigmoidSurrogate(Surrogate):
    """Logistic surrogate: ``h(x) = 4k s(4kx) (1 - s(4kx))`` with ``s`` the sigmoid.

    Primitive ``p(x) = s(4kx)``. Unit area, ``h(0) = k``; tails decay like
    ``exp(-4k|x|)``. ``k = 1`` is the common ``sigmoid(4x)`` surrogate.

    Args:
        sharpness: ``k > 0``, the peak ``h(0)``.

    Example:
        >>> import torch
        >>> SigmoidSurrogate(2.0).derivative(torch.tensor([0.0]))
        tensor([2.])
    """

    name = "sigmoid"

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        """``p(x) = sigmoid(4 k x)``.

        Args:
            x: Membrane potential minus threshold.

        Returns:
            ``p(x)``.
        """
        return torch.sigmoid((4.0 * self.sharpness) * x)

    def _relaxed_above(self, u: torch.Tensor, threshold: float | torch.Tensor) -> torch.Tensor:
        """``sigmoid(4k (u - threshold))`` as ``sigmoid(b + 4k u)``, ``b = -4k threshold``:
        one affine operation instead of a subtraction and a product. ``b`` is a 0-d
        tensor of ``u``'s dtype, kept until the threshold, dtype or device changes; a
        threshold that is a parameter (learnable, or frozen but changeable in place) takes
        the plain form."""
        # A parameter may change in place (or need a gradient): never cached.
        live = isinstance(threshold, nn.Parameter) or (
            isinstance(threshold, torch.Tensor) and threshold.requires_grad
        )
        if live or torch.compiler.is_compiling():
            return self.primitive(u - threshold)
        a = 4.0 * self.sharpness
        key = (threshold, a, u.dtype, u.device)
        cached = self.__dict__.get("_offset")
        if cached is None or cached[0] != key:
            b = torch.as_tensor(threshold, dtype=u.dtype, device=u.device) * -a
            cached = self.__dict__["_offset"] = (key, b.detach())
        return torch.sigmoid(torch.add(cached[1], u, alpha=a))

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """``h(x) = 4k s(4kx) (1 - s(4kx))``.

        Args:
            x: Membrane potential minus threshold.

        Returns:
            ``h(x)``.
        """
        z = self.primitive(x)
        return (4.0 * self.sharpness) * z * (1.0 - z)


class ArctanSurrogate(Surrogate):
    """Arctangent (Cauchy) surrogate: ``h(x) = k / (1 + (pi k x)^2)``.

    Primitive ``p(x) = 1/2 + arctan(pi k x) / pi``. Unit area, ``h(0) = k``; heavy tails
    decaying like ``1 / x^2``, so far-from-threshold neurons still get some gradient.

    Args:
        sharpness: ``k > 0``, the peak ``h(0)``.

    Example:
        >>> import torch
        >>> ArctanSurrogate(1.0).derivative(torch.tensor([0.0]))
        tensor([1.])
    """

    name = "arctan"

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        """``p(x) = 1/2 + arctan(pi k x) / pi``.

        Args:
            x: Membrane potential minus threshold.

        Returns:
            ``p(x)``.
        """
        return 0.5 + torch.atan((math.pi * self.sharpness) * x) / math.pi

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """``h(x) = k / (1 + (pi k x)^2)``.

        Args:
            x: Membrane potential minus threshold.

        Returns:
            ``h(x)``.
        """
        return self.sharpness / (1.0 + ((math.pi * self.sharpness) * x) ** 2)


class TriangleSurrogate(Surrogate):
    """Piecewise-linear (triangle) surrogate: ``h(x) = k max(0, 1 - k|x|)``.

    Support ``|x| < 1/k``, unit area, ``h(0) = k``; exactly zero gradient outside the
    window. Primitive, with ``y = clamp(kx, -1, 1)``: ``p(x) = 1/2 + y - y|y|/2``.

    Args:
        sharpness: ``k > 0``, the peak ``h(0)``.

    Example:
        >>> import torch
        >>> TriangleSurrogate(2.0).derivative(torch.tensor([0.0, 0.25, 1.0]))
        tensor([2., 1., 0.])
    """

    name = "triangle"

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        """``p(x) = 1/2 + y - y|y|/2`` with ``y = clamp(kx, -1, 1)``.

        Args:
            x: Membrane potential minus threshold.

        Returns:
            ``p(x)``.
        """
        y = (self.sharpness * x).clamp(-1.0, 1.0)
        return 0.5 + y - 0.5 * y * y.abs()

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """``h(x) = k max(0, 1 - k|x|)``.

        Args:
            x: Membrane potential minus threshold.

        Returns:
            ``h(x)``.
        """
        return self.sharpness * (1.0 - self.sharpness * x.abs()).clamp(min=0.0)


class GaussianSurrogate(Surrogate):
    """Gaussian surrogate: ``h(x) = k exp(-pi (k x)^2)``.

    The normal density with standard deviation ``sigma = 1 / (k sqrt(2 pi))``: unit area,
    ``h(0) = k``. Primitive ``p(x) = (1 + erf(sqrt(pi) k x)) / 2``.

    Args:
        sharpness: ``k > 0``, the peak ``h(0)``.

    Example:
        >>> import torch
        >>> GaussianSurrogate(3.0).derivative(torch.tensor([0.0]))
        tensor([3.])
    """

    name = "gaussian"

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        """``p(x) = (1 + erf(sqrt(pi) k x)) / 2``.

        Args:
            x: Membrane potential minus threshold.

        Returns:
            ``p(x)``.
        """
        return 0.5 * (1.0 + torch.erf((math.sqrt(math.pi) * self.sharpness) * x))

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """``h(x) = k exp(-pi (k x)^2)``.

        Args:
            x: Membrane potential minus threshold.

        Returns:
            ``h(x)``.
        """
        return self.sharpness * torch.exp(-math.pi * (self.sharpness * x) ** 2)


class NoisyThresholdSurrogate(GaussianSurrogate):
    """Noisy threshold: spikes ``H(x + eps)`` with ``eps ~ N(0, sigma^2)`` while training.

    ``sigma = 1 / (k sqrt(2 pi))``. The expected spike is ``E[H(x + eps)] = Phi(x / sigma)``
    (``Phi`` the standard normal CDF), whose derivative, the normal density
    ``h(x) = k exp(-pi (k x)^2)`` (unit area, ``h(0) = k``), is the backward pass: the
    gradient of the expected spike. Noise is drawn independently per element and per
    call, only when the module is in training mode and ``stochastic`` is true; in
    ``eval()`` mode (or with ``stochastic=False``) the forward is the deterministic
    ``H(x)`` and the module equals :class:`GaussianSurrogate`.

    Args:
        sharpness: ``k > 0``, the peak ``h(0)``; fixes the noise level ``sigma``.
        stochastic: Whether to add threshold noise in training mode.

    Raises:
        TypeError: If ``stochastic`` is not a bool.

    Example:
        >>> import torch
        >>> surrogate = NoisyThresholdSurrogate(2.0).eval()
        >>> surrogate(torch.tensor([-0.1, 0.1]))
        tensor([0., 1.])
        >>> round(surrogate.noise_std, 4)
        0.1995
    """

    name = "noisy_threshold"

    def __init__(self, sharpness: float = 1.0, stochastic: bool = True) -> None:
        if not isinstance(stochastic, bool):
            raise TypeError(f"stochastic must be a bool; got {stochastic!r}")
        super().__init__(sharpness)
        self.stochastic = stochastic

    @property
    def noise_std(self) -> float:
        """The threshold noise's standard deviation ``sigma = 1 / (k sqrt(2 pi))``."""
        return 1.0 / (self.sharpness * math.sqrt(2.0 * math.pi))

    def spike_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``H(x + eps)`` in training mode with ``stochastic=True``, else ``H(x)``.

        Args:
            x: Membrane potential minus threshold.

        Returns:
            Zeros and ones in the dtype of ``x``.
        """
        if self.training and self.stochastic:
            return heaviside(x.detach() + self.noise_std * torch.randn_like(x))
        return super().spike_forward(x)

    def extra_repr(self) -> str:
        """Show the sharpness and the noise switch in the module's repr."""
        return f"sharpness={self.sharpness}, stochastic={self.stochastic}"


_REGISTRY: dict[str, type[Surrogate]] = {
    "sigmoid": SigmoidSurrogate,
    "arctan": ArctanSurrogate,
    "atan": ArctanSurrogate,
    "triangle": TriangleSurrogate,
    "piecewise_linear": TriangleSurrogate,
    "gaussian": GaussianSurrogate,
    "noisy_threshold": NoisyThresholdSurrogate,
}


def _check_get_surrogate_args(name_or_instance: object, sharpness: object) -> None:
    """Validate the arguments of :func:`get_surrogate`."""
    if isinstance(name_or_instance, Surrogate):
        if sharpness is not None:
            raise ValueError(
                f"sharpness={sharpness!r} given together with a Surrogate instance "
                f"({name_or_instance!r}); set the sharpness on the instance instead"
            )
        return
    if not isinstance(name_or_instance, str):
        raise TypeError(
            f"surrogate must be a name (one of {sorted(_REGISTRY)}) or a Surrogate "
            f"instance; got {name_or_instance!r} of type {type(name_or_instance).__name__}"
        )
    if name_or_instance.lower() not in _REGISTRY:
        raise ValueError(
            f"unknown surrogate {name_or_instance!r}; accepted names: {sorted(_REGISTRY)}"
        )
    if sharpness is not None:
        _check_sharpness(sharpness)


def get_surrogate(name_or_instance: str | Surrogate, sharpness: float | None = None) -> Surrogate:
    """Build a surrogate from its name, or pass an instance through.

    Names (case-insensitive): ``"sigmoid"``, ``"arctan"`` (alias ``"atan"``),
    ``"triangle"`` (alias ``"piecewise_linear"``), ``"gaussian"``, ``"noisy_threshold"``.

    Args:
        name_or_instance: A surrogate name or a :class:`Surrogate` instance (returned
            unchanged).
        sharpness: The peak ``k`` of the pseudo-derivative for a named surrogate;
            ``None`` uses the default ``k = 1``. Must be ``None`` with an instance.

    Returns:
        The surrogate module.

    Raises:
        TypeError: If ``name_or_instance`` is neither a string nor a Surrogate, or
            ``sharpness`` is not a real number.
        ValueError: If the name is unknown (the message lists the accepted names), if
            ``sharpness`` is not positive and finite, or if ``sharpness`` is given
            together with an instance.

    Example:
        >>> get_surrogate("arctan", sharpness=2.0)
        ArctanSurrogate(sharpness=2.0)
    """
    _check_get_surrogate_args(name_or_instance, sharpness)
    if isinstance(name_or_instance, Surrogate):
        return name_or_instance
    cls = _REGISTRY[name_or_instance.lower()]
    return cls() if sharpness is None else cls(sharpness)
