"""Readout layers for spiking networks: population voting and a linear classification head.

Both act on the last (feature) dimension and accept any leading dimensions, so they work
on one time step ``[B, F]`` and on time-first stacks ``[T, B, F]`` alike. Both are
registered with :class:`spikede_fx.SNNLeafTracer`, so a traced network keeps them whole
(one ``call_module`` node each, their shape checks not traced into the graph).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from spikede_fx import SNNLeafTracer

__all__ = ["ClassificationHead", "VotingLayer"]


def _check_positive_int(name: str, value: object) -> int:
    """Return ``value`` after checking it is an int >= 1 (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be a positive int; got {value!r} of type {type(value).__name__}"
        )
    if value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    return value


def _check_float_tensor(name: str, x: object) -> torch.Tensor:
    """Return ``x`` after checking it is a floating-point tensor with at least one dim."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor; got dtype {x.dtype}")
    if x.dim() < 1:
        raise ValueError(
            f"{name} must have at least one (feature) dimension; got shape {tuple(x.shape)}"
        )
    return x


class VotingLayer(nn.Module):
    """Population voting: average each consecutive group of ``voting_size`` features.

    Maps ``[..., C * voting_size]`` to ``[..., C]``: output ``c`` is the mean of features
    ``c * voting_size, ..., (c + 1) * voting_size - 1``. Used to read a class score from a
    population of spiking neurons per class (the score is then a firing rate in
    ``[0, 1]``).

    If the feature count ``F`` is not a multiple of ``voting_size``: with
    ``strict=True`` (default) the call raises; with ``strict=False`` the last
    ``F mod voting_size`` features are dropped with a warning, so the output always has
    ``F // voting_size`` classes built from full groups (a partial group would be a vote
    with a different scale).

    Args:
        voting_size: Number of neurons per class, ``>= 1``.
        strict: Raise on a feature count that is not a multiple of ``voting_size``.

    Raises:
        TypeError: If ``voting_size`` is not an int or ``strict`` not a bool.
        ValueError: If ``voting_size < 1``.

    Example:
        >>> import torch
        >>> VotingLayer(2)(torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0, 0.0]]))
        tensor([[0.5000, 1.0000, 0.0000]])
    """

    def __init__(self, voting_size: int, strict: bool = True) -> None:
        _check_positive_int("voting_size", voting_size)
        if not isinstance(strict, bool):
            raise TypeError(f"strict must be True or False; got {strict!r}")
        super().__init__()
        self.voting_size: int = voting_size
        self.strict: bool = strict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Average consecutive groups of ``voting_size`` features of the last dimension.

        Args:
            x: Tensor ``[..., F]`` (floating point).

        Returns:
            Tensor ``[..., F // voting_size]`` with the dtype and device of ``x``.

        Raises:
            TypeError: If ``x`` is not a floating-point tensor.
            ValueError: If ``x`` has no dimension, ``F < voting_size``, or (``strict``)
                ``F`` is not a multiple of ``voting_size``.
        """
        _check_float_tensor("x", x)
        features = x.shape[-1]
        classes, remainder = divmod(features, self.voting_size)
        if classes == 0:
            raise ValueError(
                f"x has {features} features, fewer than voting_size={self.voting_size}"
            )
        if remainder:
            if self.strict:
                raise ValueError(
                    f"x has {features} features, not a multiple of voting_size="
                    f"{self.voting_size}; use strict=False to drop the last {remainder}"
                )
            warnings.warn(
                f"VotingLayer: {features} features is not a multiple of voting_size="
                f"{self.voting_size}; dropping the last {remainder} features",
                stacklevel=2,
            )
            x = x[..., : classes * self.voting_size]
        return x.unflatten(-1, (classes, self.voting_size)).mean(dim=-1)

    def extra_repr(self) -> str:
        """Show the configuration in the module's repr."""
        return f"voting_size={self.voting_size}, strict={self.strict}"


class ClassificationHead(nn.Module):
    """Linear classifier over the last dimension, optionally after mean-pooling tokens.

    ``y = W x + b`` applied to the last dimension (``embed_dims -> num_classes``), any
    leading dimensions kept, so ``[T, B, D]`` maps to ``[T, B, num_classes]``. There is no
    implicit pooling (a 3-d input is usually time-first, not ``[B, N, D]``): pass
    ``token_dim`` to average that dimension first, e.g. ``token_dim=-2`` turns
    ``[T, B, N, D]`` into ``[T, B, num_classes]``.

    Args:
        embed_dims: Feature size ``D`` of the input, ``>= 1``.
        num_classes: Number of output classes, ``>= 1``.
        bias: Whether the linear map has a bias.
        token_dim: Dimension to mean-pool before the linear map (not the last one), or
            ``None`` for no pooling.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``embed_dims`` or ``num_classes`` is below 1, or ``token_dim`` is
            ``-1``.

    Attributes:
        linear: The ``nn.Linear(embed_dims, num_classes)`` map.

    Example:
        >>> import torch
        >>> head = ClassificationHead(8, 3)
        >>> head(torch.ones(5, 2, 8)).shape
        torch.Size([5, 2, 3])
        >>> ClassificationHead(8, 3, token_dim=-2)(torch.ones(5, 2, 4, 8)).shape
        torch.Size([5, 2, 3])
    """

    def __init__(
        self, embed_dims: int, num_classes: int, bias: bool = True, token_dim: int | None = None
    ) -> None:
        _check_positive_int("embed_dims", embed_dims)
        _check_positive_int("num_classes", num_classes)
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False; got {bias!r}")
        if token_dim is not None:
            if isinstance(token_dim, bool) or not isinstance(token_dim, int):
                raise TypeError(f"token_dim must be an int or None; got {token_dim!r}")
            if token_dim == -1:
                raise ValueError("token_dim=-1 is the feature dimension; pool another one")
        super().__init__()
        self.embed_dims: int = embed_dims
        self.num_classes: int = num_classes
        self.token_dim: int | None = token_dim
        self.linear = nn.Linear(embed_dims, num_classes, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Classify the features in the last dimension.

        Args:
            x: Tensor ``[..., embed_dims]`` (with the ``token_dim`` dimension if set).

        Returns:
            Tensor ``[..., num_classes]`` (``token_dim`` removed if set).

        Raises:
            TypeError: If ``x`` is not a floating-point tensor.
            ValueError: If the last dimension is not ``embed_dims`` or ``token_dim`` is
                out of range for ``x`` or names its last dimension.
        """
        _check_float_tensor("x", x)
        if x.shape[-1] != self.embed_dims:
            raise ValueError(
                f"x must have embed_dims={self.embed_dims} features in its last dimension; "
                f"got shape {tuple(x.shape)}"
            )
        if self.token_dim is not None:
            if not -x.dim() <= self.token_dim < x.dim() - 1 or self.token_dim == -1:
                raise ValueError(
                    f"token_dim={self.token_dim} is not a non-feature dimension of x "
                    f"with shape {tuple(x.shape)}"
                )
            x = x.mean(dim=self.token_dim)
        return self.linear(x)

    def extra_repr(self) -> str:
        """Show the pooling configuration in the module's repr."""
        return "" if self.token_dim is None else f"token_dim={self.token_dim}"


SNNLeafTracer.register_leaf(VotingLayer)
SNNLeafTracer.register_leaf(ClassificationHead)
