"""Parsing of the fractional-order configuration of a wrapped network."""

from __future__ import annotations

import math
import numbers
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["ALPHA_MODES", "PerLayerAlphaConfig"]

ALPHA_MODES = ("auto", "per_layer", "multiterm")


class _DefaultOrder(float):
    """The float 0.5 as the default ``alpha`` of :class:`spikede.SNNWrapper`.

    It is an ordinary 0.5 in every use; being a distinct object lets the wrapper tell the
    default from an ``alpha`` passed explicitly (``integrator="odeint"`` warns about the
    latter, which it does not use).
    """

    __slots__ = ()


#: The default order of :class:`spikede.SNNWrapper` (0.5).
DEFAULT_ALPHA = _DefaultOrder(0.5)


def _is_scalar(value: object) -> bool:
    if isinstance(value, torch.Tensor):
        return value.dim() == 0
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_sequence(value: object) -> bool:
    if isinstance(value, torch.Tensor):
        return value.dim() >= 1
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _refuse_grad(value: object, name: str) -> None:
    """A tensor that requires grad would be copied and never receive a gradient: refuse it."""
    if isinstance(value, torch.Tensor) and value.requires_grad:
        flag = "learn_coefficient" if name.startswith("multi_coefficient") else "learn_alpha"
        raise ValueError(
            f"{name} is a tensor that requires grad ({value!r}); SNNWrapper copies it into its own state, so "
            f"this tensor would never receive a gradient. To learn it, pass {flag}=True with a plain value "
            f"({name}=tensor.detach() or a float) and optimise the wrapper's parameters"
        )


def _to_floats(value: object, name: str) -> list[float]:
    """Turn a scalar or a flat sequence of scalars into a list of Python floats."""
    _refuse_grad(value, name)
    if isinstance(value, torch.Tensor):
        if value.dim() > 1:
            raise ValueError(f"{name} must be a scalar or a flat sequence; got a tensor of shape {tuple(value.shape)}")
        if not value.is_floating_point() and value.dtype not in (torch.int32, torch.int64):
            raise TypeError(f"{name} must hold real numbers; got dtype {value.dtype}")
        return [float(v) for v in value.detach().reshape(-1).tolist()]
    if _is_scalar(value):
        return [float(value)]  # type: ignore[arg-type]
    if _is_sequence(value):
        out = []
        for item in value:  # type: ignore[union-attr]
            _refuse_grad(item, f"{name}[{len(out)}]")
            if not _is_scalar(item):
                raise TypeError(f"{name} must hold real numbers; got element {item!r} of type {type(item).__name__}")
            out.append(float(item))
        return out
    raise TypeError(f"{name} must be a real number or a sequence of real numbers; got {type(value).__name__}")


def _check_orders(orders: list[float], name: str) -> None:
    if not orders:
        raise ValueError(f"{name} must not be empty")
    for a in orders:
        if not math.isfinite(a) or not (0.0 < a <= 1.0):
            raise ValueError(f"{name} must lie in (0, 1]; got {a!r} in {orders!r}")


def _check_coefficients(coefs: list[float], name: str) -> None:
    for c in coefs:
        if not math.isfinite(c) or c <= 0.0:
            raise ValueError(f"{name} must be positive finite numbers; got {c!r} in {coefs!r}")


def _any_flag(value: object) -> bool:
    return bool(value) if isinstance(value, bool) else any(bool(v) for v in value)  # type: ignore[union-attr]


def _per_layer_flags(value: object, n_layers: int, name: str) -> list[bool]:
    if isinstance(value, bool):
        return [value] * n_layers
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        flags = list(value)
        if len(flags) != n_layers or not all(isinstance(f, bool) for f in flags):
            raise ValueError(
                f"{name} must be a bool or a list of {n_layers} bools (one per neuron layer); got {value!r}"
            )
        return flags
    raise TypeError(f"{name} must be a bool or a list of bools; got {type(value).__name__}")


@dataclass(frozen=True)
class PerLayerAlphaConfig:
    """The fractional orders and term weights of every neuron layer, parsed and checked.

    Layer ``i`` obeys ``sum_j c_ij D^{a_ij} v_i = f_i`` with ``orders[i] = [a_i1, ...]`` and
    ``coefficients[i] = [c_i1, ...]``; a single-term layer has one order and coefficient 1.

    Build it with :meth:`from_spec`, which accepts the forms of
    :class:`spikede.SNNWrapper`'s ``alpha`` argument:

    * a scalar: every layer single-term with that order;
    * a flat list with ``alpha_mode="per_layer"``: one order per layer;
    * a flat list with ``alpha_mode="multiterm"``: the same terms in every layer, weighted
      by ``multi_coefficient`` (ones when omitted);
    * a nested list (one list of orders per layer): per-layer multi-term, detected in
      ``"auto"`` mode, weighted by a nested ``multi_coefficient`` (ones when omitted);
    * a flat list with ``alpha_mode="auto"`` is ambiguous: it warns, then reads it as
      per-layer when its length equals the layer count and as multi-term otherwise.

    Attributes:
        orders: One list of orders in (0, 1] per layer.
        coefficients: One list of positive weights per layer, the same lengths as ``orders``.
        learn_alpha: One flag per layer: are the orders learnable.
        learn_coefficient: One flag per layer: are the weights learnable.
        mode: The resolved mode: ``"scalar"``, ``"per_layer"``, ``"multiterm"`` or
            ``"per_layer_multiterm"``.

    Example:
        >>> cfg = PerLayerAlphaConfig.from_spec([[0.5, 0.9], [0.7]], n_layers=2)
        >>> cfg.mode, cfg.orders, cfg.coefficients
        ('per_layer_multiterm', [[0.5, 0.9], [0.7]], [[1.0, 1.0], [1.0]])
        >>> PerLayerAlphaConfig.from_spec(0.6, n_layers=3).orders
        [[0.6], [0.6], [0.6]]
    """

    orders: list[list[float]]
    coefficients: list[list[float]]
    learn_alpha: list[bool]
    learn_coefficient: list[bool]
    mode: str

    @property
    def n_layers(self) -> int:
        """Number of neuron layers."""
        return len(self.orders)

    @property
    def is_multiterm(self) -> bool:
        """True when any layer has more than one term."""
        return any(len(o) > 1 for o in self.orders)

    @classmethod
    def from_spec(
        cls,
        alpha: object,
        n_layers: int,
        *,
        alpha_mode: str = "auto",
        multi_coefficient: object = None,
        learn_alpha: bool | Sequence[bool] = False,
        learn_coefficient: bool | Sequence[bool] = False,
    ) -> PerLayerAlphaConfig:
        """Parse an ``alpha`` specification for a network of ``n_layers`` neuron layers.

        Args:
            alpha: A scalar, a flat list, or a nested list of orders (see the class doc).
            n_layers: Number of neuron layers of the traced network (>= 1).
            alpha_mode: ``"auto"``, ``"per_layer"`` or ``"multiterm"``.
            multi_coefficient: Term weights for multi-term forms: a flat list (shared
                terms) or a nested list (per layer); ``None`` means all ones.
            learn_alpha: Whether the orders are learnable: one bool, or one per layer.
            learn_coefficient: Whether the term weights are learnable: one bool, or one
                per layer.

        Returns:
            The checked configuration.

        Raises:
            ValueError: For an unknown mode, orders outside (0, 1], non-positive weights or
                lengths that do not match the layers or the terms.
            TypeError: For values of the wrong type.

        Example:
            >>> PerLayerAlphaConfig.from_spec([0.3, 0.8], 2, alpha_mode="per_layer").orders
            [[0.3], [0.8]]
        """
        if alpha_mode not in ALPHA_MODES:
            raise ValueError(f"alpha_mode must be one of {ALPHA_MODES}; got {alpha_mode!r}")
        if not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"n_layers must be a positive int; got {n_layers!r}")
        _refuse_grad(alpha, "alpha")
        _refuse_grad(multi_coefficient, "multi_coefficient")
        nested = _is_sequence(alpha) and not isinstance(alpha, torch.Tensor) and any(
            _is_sequence(a) for a in alpha  # type: ignore[union-attr]
        )
        if isinstance(alpha, torch.Tensor) and alpha.dim() == 2:
            nested, alpha = True, [row for row in alpha]

        if _is_scalar(alpha):
            if alpha_mode == "multiterm":
                raise ValueError("alpha_mode='multiterm' needs a list of orders; got a scalar alpha")
            value = _to_floats(alpha, "alpha")
            _check_orders(value, "alpha")
            orders = [list(value) for _ in range(n_layers)]
            coefs = [[1.0] for _ in range(n_layers)]
            mode = "scalar"
            if multi_coefficient is not None:
                raise ValueError("multi_coefficient is only meaningful with multi-term alpha; got a scalar alpha")
        elif nested:
            if alpha_mode == "multiterm":
                raise ValueError(
                    "alpha_mode='multiterm' expects a flat list of orders shared by every layer; "
                    "got a nested list (use alpha_mode='auto' or 'per_layer' for per-layer multi-term)"
                )
            layers = list(alpha)  # type: ignore[arg-type]
            if len(layers) != n_layers:
                raise ValueError(
                    f"nested alpha must have one entry per neuron layer ({n_layers}); got {len(layers)} entries"
                )
            orders = [_to_floats(a, f"alpha[{i}]") for i, a in enumerate(layers)]
            for i, o in enumerate(orders):
                _check_orders(o, f"alpha[{i}]")
            if multi_coefficient is None:
                coefs = [[1.0] * len(o) for o in orders]
            else:
                if not _is_sequence(multi_coefficient) or len(multi_coefficient) != n_layers:  # type: ignore[arg-type]
                    raise ValueError(
                        f"multi_coefficient must be a nested list with one list per layer ({n_layers}) "
                        f"for per-layer multi-term alpha; got {multi_coefficient!r}"
                    )
                coefs = [_to_floats(c, f"multi_coefficient[{i}]") for i, c in enumerate(multi_coefficient)]  # type: ignore[arg-type]
            mode = "per_layer_multiterm"
        elif _is_sequence(alpha):
            flat = _to_floats(alpha, "alpha")
            _check_orders(flat, "alpha")
            if alpha_mode == "auto":
                chosen = "per_layer" if len(flat) == n_layers and multi_coefficient is None else "multiterm"
                warnings.warn(
                    f"alpha={flat!r} is a flat list with alpha_mode='auto', which is ambiguous; reading it as "
                    f"'{chosen}' ({'one order per neuron layer' if chosen == 'per_layer' else 'the same terms in every layer'}). "
                    "Pass alpha_mode='per_layer' or 'multiterm' to say which.",
                    UserWarning,
                    stacklevel=3,
                )
                alpha_mode = chosen
            if alpha_mode == "per_layer":
                if len(flat) != n_layers:
                    raise ValueError(
                        f"alpha_mode='per_layer' needs one order per neuron layer ({n_layers}); got {len(flat)}: {flat!r}"
                    )
                if multi_coefficient is not None:
                    raise ValueError("multi_coefficient is only meaningful with multi-term alpha; got alpha_mode='per_layer'")
                orders = [[a] for a in flat]
                coefs = [[1.0] for _ in flat]
                mode = "per_layer"
            else:
                shared = [1.0] * len(flat) if multi_coefficient is None else _to_floats(multi_coefficient, "multi_coefficient")
                orders = [list(flat) for _ in range(n_layers)]
                coefs = [list(shared) for _ in range(n_layers)]
                mode = "multiterm"
        else:
            raise TypeError(f"alpha must be a number, a list of numbers or a nested list; got {type(alpha).__name__}")

        for i, (o, c) in enumerate(zip(orders, coefs)):
            if len(c) != len(o):
                raise ValueError(
                    f"multi_coefficient for layer {i} must have one weight per order ({len(o)}); got {len(c)}: {c!r}"
                )
            _check_coefficients(c, "multi_coefficient")
        return cls(
            orders=orders,
            coefficients=coefs,
            learn_alpha=_per_layer_flags(learn_alpha, n_layers, "learn_alpha"),
            learn_coefficient=_per_layer_flags(learn_coefficient, n_layers, "learn_coefficient"),
            mode=mode,
        )



    @classmethod
    def integer_order(
        cls,
        n_layers: int,
        *,
        alpha: object = DEFAULT_ALPHA,
        multi_coefficient: object = None,
        learn_alpha: bool | Sequence[bool] = False,
        learn_coefficient: bool | Sequence[bool] = False,
    ) -> PerLayerAlphaConfig:
        """The configuration of an integer-order (``integrator="odeint"``) network.

        Every layer has the fixed order 1. The order arguments of
        :class:`spikede.SNNWrapper` are checked against that: learnable orders or weights
        are refused, and an ``alpha`` or ``multi_coefficient`` passed explicitly (the
        default ``alpha`` excepted) warns that it is not used.

        Args:
            n_layers: Number of neuron layers of the traced network (>= 1).
            alpha: The wrapper's ``alpha`` argument; only whether it was given matters.
            multi_coefficient: The wrapper's ``multi_coefficient`` argument (``None`` when
                not given).
            learn_alpha: Must be false (one bool, or one per layer).
            learn_coefficient: Must be false (one bool, or one per layer).

        Returns:
            Single-term orders 1 with weights 1, fixed.

        Raises:
            ValueError: When ``learn_alpha`` or ``learn_coefficient`` is set.

        Example:
            >>> PerLayerAlphaConfig.integer_order(2).orders
            [[1.0], [1.0]]
        """
        if _any_flag(learn_alpha) or _any_flag(learn_coefficient):
            raise ValueError("learn_alpha/learn_coefficient need integrator='fdeint'; got integrator='odeint'")
        unused = [f"alpha={alpha!r}"] if alpha is not DEFAULT_ALPHA else []
        if multi_coefficient is not None:
            unused.append(f"multi_coefficient={multi_coefficient!r}")
        if unused:
            warnings.warn(
                f"integrator='odeint' integrates dv/dt = f (order 1) and does not use {' or '.join(unused)}; "
                "use integrator='fdeint' for fractional orders",
                UserWarning,
                stacklevel=3,
            )
        return cls.from_spec(1.0, n_layers)


# ---------------------------------------------------------------------- stored orders
#: Orders in [_FLOOR, 1] and weights >= _FLOOR are stored as themselves.
_FLOOR = 0.1


def _positive(q: torch.Tensor) -> torch.Tensor:
    """``q`` for ``q >= 0.1``, else ``0.01 / (0.2 - q)``: positive, continuous with slope 1 at 0.1."""
    tail = _FLOOR * _FLOOR / (2.0 * _FLOOR - q.clamp(max=_FLOOR))  # the clamp only keeps the unused branch finite
    return torch.where(q >= _FLOOR, q, tail)


def _positive_inverse(value: torch.Tensor) -> torch.Tensor:
    return torch.where(value >= _FLOOR, value, 2.0 * _FLOOR - _FLOOR * _FLOOR / value)


def order_from_raw(raw: torch.Tensor) -> torch.Tensor:
    """The orders in (0, 1] that the stored numbers ``raw`` (any reals) stand for.

    ``alpha = g(1 - |1 - raw|)`` with ``g`` the identity on ``[0.1, inf)`` and
    ``0.01 / (0.2 - q)`` below: ``raw`` itself on ``[0.1, 1]``, reflected past 1.

    Args:
        raw: Stored numbers, any shape.

    Returns:
        The orders, same shape and dtype.

    Example:
        >>> [round(a, 6) for a in order_from_raw(torch.tensor([0.5, 1.0, 1.25, 0.0])).tolist()]
        [0.5, 1.0, 0.75, 0.05]
    """
    return _positive(torch.where(raw > 1.0, 2.0 - raw, raw))


def raw_from_order(order: torch.Tensor) -> torch.Tensor:
    """The stored numbers of orders in (0, 1]; the inverse of :func:`order_from_raw` on ``(-inf, 1]``.

    Args:
        order: Orders in (0, 1].

    Returns:
        The stored numbers: the orders themselves on ``[0.1, 1]``.

    Example:
        >>> [round(r, 6) for r in raw_from_order(torch.tensor([0.5, 0.05])).tolist()]
        [0.5, 0.0]
    """
    return _positive_inverse(order)


#: State names of spikede 0.1.0 checkpoints: the new name and the conversion of the old value.
_LEGACY_KEYS: dict[str, tuple[str, Callable[[torch.Tensor], torch.Tensor]]] = {
    "alpha_raw": ("order", lambda t: raw_from_order(torch.sigmoid(t))),
    "alpha_value": ("order", raw_from_order),
    "coefficient_log": ("coefficient", lambda t: _positive_inverse(torch.exp(t))),
    "coefficient_value": ("coefficient", _positive_inverse),
}


class LayerOrder(nn.Module):
    """The orders and term weights of one neuron layer, learnable or fixed.

    Its state has the same two names whatever is learnable: ``order`` and ``coefficient``,
    one number per term. A learnable one is an ``nn.Parameter`` (from construction on, so
    an optimizer built at once sees it); a fixed one is a buffer, which
    ``model.requires_grad_()`` leaves fixed. The stored numbers are the orders and weights
    themselves in their usual ranges, so a checkpoint holds the values, not the
    learnability: it loads into a wrapper built with other ``learn_alpha`` or
    ``learn_coefficient`` flags (the orders are the same, learnable or not as built).

    The map from a stored number ``r`` (any real) to the order is
    ``alpha = g(1 - |1 - r|)`` with ``g(q) = q`` for ``q >= 0.1`` and
    ``g(q) = 0.01 / (0.2 - q)`` below (continuous with its slope, positive), and the
    weight is ``g(r)``. So

    * on ``[0.1, 1]`` the order *is* the stored number, bit for bit, and
      ``d alpha / d r = 1``: a learnable order started at 1 moves at the optimizer's full
      rate (the sigmoid of spikede 0.1.0 had ``d alpha / d raw = 1e-6`` there);
    * past 1 the stored number is reflected (order ``2 - r``): a learnable order never
      leaves (0, 1], and one that the loss pushes up stays within one step of 1;
    * below 0.1 the tail keeps the order positive and slows it (slope
      ``(alpha / 0.1)^2``); orders below 0.1 are stored as ``0.2 - 0.01 / alpha``.

    Weights below 0.1 are stored the same way. No clamping: every stored number is a
    valid order, whatever the optimizer does. Checkpoints written by spikede 0.1.0
    (``alpha_raw = logit(alpha)``, ``alpha_value``, ``coefficient_log = log(c)``,
    ``coefficient_value``) load as the same orders and weights.

    Args:
        orders: The orders of the layer's terms, each in (0, 1].
        coefficients: Their positive weights, one per order.
        learn_alpha: Whether the orders are parameters.
        learn_coefficient: Whether the weights are parameters.

    Example:
        >>> layer = LayerOrder([1.0], [1.0], learn_alpha=True, learn_coefficient=False)
        >>> sorted(layer.state_dict()), layer.learns_alpha
        (['coefficient', 'order'], True)
        >>> (layer.alpha() - 0.1).sum().backward()
        >>> layer.order.grad  # d alpha / d order at alpha = 1
        tensor([1.])
    """

    _version = 2

    def __init__(self, orders: list[float], coefficients: list[float], learn_alpha: bool, learn_coefficient: bool) -> None:
        super().__init__()
        dtype = torch.get_default_dtype()
        self._store("order", raw_from_order(torch.tensor(orders, dtype=dtype)), learn_alpha)
        self._store("coefficient", _positive_inverse(torch.tensor(coefficients, dtype=dtype)), learn_coefficient)

    def _store(self, name: str, raw: torch.Tensor, learnable: bool) -> None:
        if learnable:
            self.register_parameter(name, nn.Parameter(raw))
        else:
            self.register_buffer(name, raw)

    @property
    def learns_alpha(self) -> bool:
        """Whether the orders are parameters."""
        return "order" in self._parameters

    @property
    def learns_coefficient(self) -> bool:
        """Whether the weights are parameters."""
        return "coefficient" in self._parameters

    def alpha(self) -> torch.Tensor:
        """Orders of this layer, a 1-d tensor in (0, 1]."""
        return order_from_raw(self.order)

    def coefficients(self) -> torch.Tensor:
        """Term weights of this layer, a positive 1-d tensor."""
        return _positive(self.coefficient)

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        # Entries of spikede 0.1.0 checkpoints become the stored numbers of the same values.
        for old, (new, convert) in _LEGACY_KEYS.items():
            if prefix + old in state_dict and prefix + new not in state_dict:
                with torch.no_grad():
                    state_dict[prefix + new] = convert(state_dict.pop(prefix + old))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)


def check_checkpoint_orders(
    state_dict: Mapping[str, Any], prefix: str, layers: Sequence[LayerOrder], alpha_mode: str
) -> None:
    """Refuse a checkpoint whose orders do not fit ``layers``, before anything is loaded.

    Args:
        state_dict: The checkpoint of an :class:`spikede.SNNWrapper` (current or 0.1.0
            names).
        prefix: The wrapper's prefix in it (``""`` at the top).
        layers: The wrapper's :class:`LayerOrder` modules.
        alpha_mode: The wrapper's resolved alpha mode, named in the message.

    Raises:
        ValueError: When the layer count or a layer's term count differs.

    Example:
        >>> mine = [LayerOrder([0.5], [1.0], False, False)]
        >>> check_checkpoint_orders({"orders.0.order": torch.ones(2)}, "", mine, "scalar")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: the checkpoint does not match this SNNWrapper (layer 0: the checkpoint has 2 order term(s) ...
    """
    names = "|".join(["order", "coefficient", *_LEGACY_KEYS])
    pattern = re.compile(re.escape(prefix) + rf"orders\.(\d+)\.({names})$")
    saved: dict[int, list[Any]] = {}
    for key, value in state_dict.items():
        m = pattern.match(key)
        if m:
            saved.setdefault(int(m.group(1)), []).append(value)
    if not saved:
        return
    problems = []
    if max(saved) + 1 != len(layers):
        problems.append(
            f"the checkpoint has orders for {max(saved) + 1} neuron layer(s) but this SNNWrapper's model "
            f"has {len(layers)}; build the wrapper around the same architecture"
        )
    else:
        for i, layer in enumerate(layers):
            terms = {v.shape[0] for v in saved.get(i, []) if isinstance(v, torch.Tensor) and v.dim() == 1}
            mine = layer.order.shape[0]
            if terms - {mine}:
                problems.append(
                    f"layer {i}: the checkpoint has {min(terms - {mine})} order term(s) but this wrapper has "
                    f"{mine} (alpha mode {alpha_mode!r}); build it with the same alpha and alpha_mode as the saved one"
                )
    if problems:
        where = "the checkpoint does" if not prefix else f"the checkpoint entries under {prefix!r} do"
        raise ValueError(f"{where} not match this SNNWrapper ({'; '.join(problems)}); nothing was loaded")
