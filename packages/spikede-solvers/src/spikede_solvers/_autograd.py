"""``once_differentiable`` without its cost on the common path."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch.autograd.function import once_differentiable

__all__ = ["once_differentiable_fast"]


def once_differentiable_fast(backward: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a ``backward`` as not differentiable, checking only when it could matter.

    ``torch.autograd.function.once_differentiable`` runs ``backward`` under
    ``torch.no_grad()`` and, when grad mode was on (``create_graph=True``), wraps its
    outputs so that a second differentiation raises. In an ordinary ``backward()`` grad
    mode is already off, and that wrapper then only costs time: about 10 us per call,
    as much as a solver step's own backward. This decorator calls ``backward`` directly
    when grad mode is off and takes ``once_differentiable``'s path otherwise, so results
    and errors are the same.

    Args:
        backward: The ``backward`` staticmethod's function ``(ctx, *grads)``.

    Returns:
        The wrapped function.

    Example:
        >>> import torch
        >>> class Double(torch.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         return 2 * x
        ...     @staticmethod
        ...     @once_differentiable_fast
        ...     def backward(ctx, g):
        ...         return 2 * g
        >>> x = torch.ones(2, requires_grad=True)
        >>> Double.apply(x).sum().backward()
        >>> x.grad
        tensor([2., 2.])
    """
    checked = once_differentiable(backward)

    @functools.wraps(backward)
    def wrapper(ctx: Any, *args: Any) -> Any:
        if torch.is_grad_enabled():  # create_graph=True: the checked path
            return checked(ctx, *args)
        return backward(ctx, *args)

    return wrapper
