"""``odeint``: integer-order ODE solver on a given grid."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from spikede_solvers._checks import check_odeint
from spikede_solvers._engine import integrate, user_field

__all__ = ["odeint"]


def odeint(
    func: Callable[..., Any],
    y0: Tensor | tuple[Tensor, ...],
    t: Tensor,
    method: str = "euler",
    *,
    options: dict[str, Any] | None = None,
) -> Tensor | tuple[Tensor, ...]:
    """Solve ``y' = func(t, y)``, ``y(t[0]) = y0`` with a fixed-step explicit method.

    The steps are the grid ``t`` itself (it need not be uniform). Methods: ``"euler"``
    (order 1), ``"midpoint"`` (order 2), ``"rk4"`` (classical Runge–Kutta, order 4).

    Args:
        func: Vector field ``func(t, y)`` returning the structure and shapes of ``y0``.
        y0: Initial value: a floating tensor or a tuple of them.
        t: Strictly increasing 1-d floating time grid ``[N+1]``.
        method: ``"euler"``, ``"midpoint"``, ``"rk4"`` or a registered integer method.
        options: ``{"checkpoint": True}`` evaluates ``func`` under
            ``torch.utils.checkpoint`` (backward recomputes it); the built-in methods
            take no other option.

    Returns:
        The trajectory ``[N+1, *y0.shape]`` (a tuple of them for tuple states).

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``t`` is not 1-d, finite and strictly increasing, ``y0`` holds
            NaN/inf, ``method`` is unknown, an option is not accepted, or ``func``
            returns the wrong shape.

    Example:
        >>> import torch
        >>> from spikede_solvers import odeint
        >>> t = torch.linspace(0.0, 1.0, 11, dtype=torch.float64)
        >>> y = odeint(lambda t, y: -y, torch.tensor(1.0, dtype=torch.float64), t, "rk4")
        >>> bool(abs(y[-1] - torch.exp(torch.tensor(-1.0, dtype=torch.float64))) < 1e-6)
        True
    """
    solver, problem, is_tuple = check_odeint(func, y0, t, method, options)
    states, _, _ = integrate(solver, problem, user_field(func, is_tuple))
    out = tuple(torch.stack([s[i] for s in states]) for i in range(len(problem.y0)))
    return out if is_tuple else out[0]
