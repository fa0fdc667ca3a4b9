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
    return_stats: bool = False,
) -> Any:
    """Solve ``y' = func(t, y)``, ``y(t[0]) = y0`` with an explicit Runge–Kutta method.

    Fixed-step methods take the grid ``t`` itself as their steps (it need not be
    uniform): ``"euler"`` (order 1), ``"midpoint"`` (order 2), ``"rk4"`` (classical
    Runge–Kutta, order 4).

    Adaptive methods choose their own steps from a local error estimate and return the
    values at the times ``t`` from their dense output: ``"dopri5"`` (Dormand–Prince
    5(4), fourth-order dense output) and ``"bosh3"`` (Bogacki–Shampine 3(2), cubic
    Hermite dense output). A step is accepted when the RMS over all elements of all
    components of ``err / (atol + rtol * max(|y_n|, |y_{n+1}|))`` is at most 1; a PI
    controller (safety 0.9, factors clipped to [0.2, 10]) picks the next step. The step
    sizes are chosen without autograd: gradients are those of the steps taken.

    Args:
        func: Vector field ``func(t, y)`` returning the structure and shapes of ``y0``.
        y0: Initial value: a floating tensor or a tuple of them.
        t: Strictly increasing 1-d floating time grid ``[N+1]``.
        method: ``"euler"``, ``"midpoint"``, ``"rk4"`` or a registered integer method.
        options: ``{"checkpoint": True}`` evaluates ``func`` under
            ``torch.utils.checkpoint`` (backward recomputes it); the fixed-step methods
            take no other option. The adaptive methods also take ``rtol`` (default
            1e-6) and ``atol`` (default 1e-9): positive numbers, or for a tuple state
            one per component; ``first_step`` (default ``None``: the Hairer–Wanner
            estimate, one extra evaluation); ``max_num_steps`` (default 10000,
            accepted plus rejected steps; exceeding it raises ``RuntimeError``).
        return_stats: Also return the counts ``{"nfe", "accepted", "rejected"}`` (for
            fixed-step methods ``accepted`` is the number of grid steps and
            ``rejected`` is 0).

    Returns:
        The trajectory ``[N+1, *y0.shape]`` (a tuple of them for tuple states); with
        ``return_stats`` the pair ``(trajectory, stats)``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``t`` is not 1-d, finite and strictly increasing, ``y0`` holds
            NaN/inf, ``method`` is unknown, an option is not accepted, or ``func``
            returns the wrong shape.
        RuntimeError: If an adaptive solve exceeds ``max_num_steps`` or its step size
            underflows.

    Example:
        >>> import torch
        >>> from spikede_solvers import odeint
        >>> t = torch.linspace(0.0, 1.0, 11, dtype=torch.float64)
        >>> y = odeint(lambda t, y: -y, torch.tensor(1.0, dtype=torch.float64), t, "rk4")
        >>> bool(abs(y[-1] - torch.exp(torch.tensor(-1.0, dtype=torch.float64))) < 1e-6)
        True
        >>> y, stats = odeint(lambda t, y: -y, torch.tensor(1.0, dtype=torch.float64), t,
        ...                   "dopri5", options={"rtol": 1e-8, "atol": 1e-10}, return_stats=True)
        >>> bool(abs(y[-1] - torch.exp(torch.tensor(-1.0, dtype=torch.float64))) < 1e-7)
        True
        >>> sorted(stats)
        ['accepted', 'nfe', 'rejected']
    """
    if not isinstance(return_stats, bool):
        raise TypeError(f"return_stats must be True or False, got {return_stats!r}")
    solver, problem, is_tuple = check_odeint(func, y0, t, method, options)
    if getattr(solver, "adaptive", False):
        out, stats = solver.solve(func, problem.y0, problem.t, not is_tuple, problem.options)
    else:
        states, _, nfe = integrate(solver, problem, user_field(func, is_tuple))
        out = tuple(torch.stack([s[i] for s in states]) for i in range(len(problem.y0)))
        stats = {"nfe": nfe, "accepted": problem.n_points - 1, "rejected": 0}
    result = out if is_tuple else out[0]
    return (result, stats) if return_stats else result
