"""``solve``: the one fixed-grid entry point; ``fdeint`` and ``odeint`` are thin forms of it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from spikede_solvers._checks import check_solve
from spikede_solvers._engine import run
from spikede_solvers._resume import History, check_continued, continued_grid

__all__ = ["Solution", "solve"]


class Solution(NamedTuple):
    """Result of :func:`solve`.

    Attributes:
        ys: One tensor ``[N, *shape]`` per state component: the state at ``t[0] ..
            t[N-1]`` (``()`` with ``keep_states=False``).
        aux: One tensor ``[N, *shape]`` per auxiliary output of the field, recorded from
            the evaluation at ``(t_n, y_n)`` (``()`` without ``has_aux``).
        nfe: Number of field evaluations.
        history: With ``return_history=True``, the :class:`~spikede_solvers.History` at
            ``t[-1]`` that a later solve continues from (else ``None``).
    """

    ys: tuple[Tensor, ...]
    aux: tuple[Tensor, ...]
    nfe: int
    history: History | None = None


def solve(
    func: Callable[..., Any],
    y0: Tensor | Sequence[Tensor] | None,
    t: Tensor,
    method: str,
    *,
    alpha: float | Tensor | Sequence[Any] | None = None,
    coefficients: Sequence[Any] | None = None,
    memory: int | None = None,
    options: dict[str, Any] | None = None,
    args: Any = None,
    has_aux: bool = False,
    keep_states: bool = True,
    initial_history: History | None = None,
    return_history: bool = False,
) -> Solution:
    """Integrate ``y' = f`` (integer-order method) or ``D^alpha y = f`` (fractional) on a grid.

    The field receives everything per call as arguments: ``func(t, y, args, step)`` with
    ``y`` a tuple of state components, ``args`` passed through unchanged, and ``step`` a
    :class:`~spikede_solvers.Step` (``n``, ``h``, grid ``index`` of ``t`` or ``None``), so
    a field may depend on the step size of the step it serves. It returns the
    derivatives (a tuple like ``y``), or with ``has_aux`` a pair ``(derivatives, aux)``
    whose auxiliary tensors are recorded at every grid point (from the evaluation at
    ``(t_n, y_n)``; the last point is evaluated for them too) and returned stacked over
    time. Extra evaluations of multi-stage methods discard their ``aux``.

    The method decides the kind: an integer-order method (``euler``, ``midpoint``,
    ``rk4``, or any registered one) takes no ``alpha``; a fractional one needs it (see
    :func:`~spikede_solvers.fdeint` for ``alpha``, ``coefficients``, ``memory`` and the
    options).

    A solve continues another one from its saved history: ``return_history=True`` puts a
    :class:`~spikede_solvers.History` in ``Solution.history``; pass it as
    ``initial_history`` with ``y0=None`` and a grid whose first point is the previous
    grid's last one. The continued solve's first row is that point again (the same
    state; its auxiliary outputs evaluated again), so the first solve's rows and the
    second's rows from 1 on are one solve over the whole grid: to rounding for the full
    history, ``memory=M`` and integer-order methods; within the fit's error for
    ``history="soe"``, whose tail the first solve fits and later ones reuse. With
    ``memory=M`` or ``history="soe"`` the saved history has a fixed size (a continued
    solve costs the same however long the run). Gradients flow through the saved state
    of an integer-order method; a fractional method's saved history carries none, so a
    history that requires grad is refused in grad mode (use ``history.detach()``).

    Args:
        func: The field ``func(t, y, args, step)``.
        y0: Initial state: a tensor or a sequence of tensors.
        t: Strictly increasing 1-d grid ``[N]`` (uniform for methods that need it).
        method: A registered method name (:func:`~spikede_solvers.list_methods`).
        alpha: Orders, for fractional methods only.
        coefficients: Multi-term weights, for fractional methods only.
        memory: Short memory length, for fractional methods only.
        options: Method options (checked against the method's; an unknown key is refused
            with the closest valid name).
        args: Passed unchanged to every evaluation.
        has_aux: ``func`` returns ``(derivatives, aux)``.
        keep_states: Record the state at every grid point (``False``: ``ys=()``).
        initial_history: Continue from this saved history (``y0`` must be ``None``;
            ``t[0]`` its end time; the method, orders, ``memory`` and history options
            those that made it).
        return_history: Save the history at ``t[-1]`` in ``Solution.history``.

    Returns:
        A :class:`Solution` ``(ys, aux, nfe, history)``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If the method, orders, grid or options are invalid, or ``func``
            returns the wrong shapes.

    Example:
        >>> import torch
        >>> from spikede_solvers import solve
        >>> def field(t, y, args, step):
        ...     (v,) = y
        ...     return (args - v,), ((v > 0.5).to(v.dtype),)
        >>> t = torch.arange(4, dtype=torch.float64)
        >>> sol = solve(field, (torch.zeros(2, dtype=torch.float64),), t, "euler",
        ...             args=1.0, has_aux=True)
        >>> sol.ys[0][:, 0].tolist(), sol.aux[0][:, 0].tolist(), sol.nfe
        ([0.0, 1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0], 4)
    """
    if not isinstance(return_history, bool):
        raise TypeError(f"return_history must be True or False, got {type(return_history).__name__}")
    if initial_history is not None:
        t, y0 = continued_grid(initial_history, y0, t, method)
    solver, problem = check_solve(
        func, y0, t, method, alpha, coefficients, memory, options, has_aux, keep_states
    )
    if initial_history is not None:
        check_continued(initial_history, problem)
        problem.offset = initial_history.offset
    states, aux, nfe, history = run(
        solver,
        problem,
        func,
        args=args,
        has_aux=has_aux,
        keep_states=keep_states,
        initial_history=initial_history,
        return_history=return_history,
        method=method,
    )
    ys = tuple(torch.stack(c) for c in zip(*states)) if keep_states else ()
    return Solution(ys, tuple(torch.stack(c) for c in zip(*aux)), nfe, history)
