"""Parsing of the fractional-order configuration of a wrapped network."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["ALPHA_MODES", "PerLayerAlphaConfig"]

ALPHA_MODES = ("auto", "per_layer", "multiterm")

#: Learnable orders live in (0, 1): an initial value of 1 starts just below it.
_ALPHA_EPS = 1e-6


def _is_scalar(value: object) -> bool:
    if isinstance(value, torch.Tensor):
        return value.dim() == 0
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_sequence(value: object) -> bool:
    if isinstance(value, torch.Tensor):
        return value.dim() >= 1
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _to_floats(value: object, name: str) -> list[float]:
    """Turn a scalar or a flat sequence of scalars into a list of Python floats."""
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


class LayerOrder(nn.Module):
    """The orders and term weights of one neuron layer, learnable or fixed.

    A learnable order is stored as ``alpha_raw`` with ``alpha = sigmoid(alpha_raw)``, so it
    stays inside (0, 1) whatever the optimizer does; a fixed one is a buffer ``alpha``. A
    learnable weight is stored as ``coefficient_log`` with ``c = exp(coefficient_log) > 0``.
    """

    def __init__(self, orders: list[float], coefficients: list[float], learn_alpha: bool, learn_coefficient: bool) -> None:
        super().__init__()
        a = torch.tensor(orders, dtype=torch.get_default_dtype())
        c = torch.tensor(coefficients, dtype=torch.get_default_dtype())
        if learn_alpha:
            a = a.clamp(_ALPHA_EPS, 1.0 - _ALPHA_EPS)
            self.alpha_raw = nn.Parameter(torch.log(a) - torch.log1p(-a))
        else:
            self.register_buffer("alpha_value", a)
        if learn_coefficient:
            self.coefficient_log = nn.Parameter(torch.log(c))
        else:
            self.register_buffer("coefficient_value", c)

    def alpha(self) -> torch.Tensor:
        """Orders of this layer, a 1-d tensor in (0, 1]."""
        if hasattr(self, "alpha_raw"):
            return torch.sigmoid(self.alpha_raw)
        return self.alpha_value

    def coefficients(self) -> torch.Tensor:
        """Term weights of this layer, a positive 1-d tensor."""
        if hasattr(self, "coefficient_log"):
            return torch.exp(self.coefficient_log)
        return self.coefficient_value
