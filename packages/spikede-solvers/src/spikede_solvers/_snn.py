"""``snn_solve``: the earlier boundary-recording form, now a deprecated shim over ``solve``."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from spikede_solvers._checks import check_snn_solve
from spikede_solvers._engine import integrate

__all__ = ["SNNSolution", "snn_solve"]


class SNNSolution(NamedTuple):
    """Result of :func:`snn_solve`.

    Attributes:
        states: One tensor per state component, each ``[N, *state_shape]``: the state at
            ``t[0] .. t[N-1]``.
        boundaries: One tensor per boundary output of the vector field, each
            ``[N, *shape]``: recorded from the evaluation at ``(t_n, y_n)``.
        nfe: Number of vector-field evaluations used.
    """

    states: tuple[Tensor, ...]
    boundaries: tuple[Tensor, ...]
    nfe: int


def snn_solve(
    func: Callable[..., Any],
    y0: tuple[Tensor, ...],
    t: Tensor,
    *,
    integrator: str = "fdeint",
    method: str | None = None,
    alpha: float | Tensor | Sequence[Any] | None = None,
    coefficients: Sequence[Any] | None = None,
    memory: int | None = None,
    options: dict[str, Any] | None = None,
    keep_states: bool = True,
) -> SNNSolution:
    """Integrate a tuple of states whose field also returns tensors to record (deprecated).

    Deprecated since spikede-solvers 0.2: use :func:`~spikede_solvers.solve` with
    ``has_aux=True`` (the field returns ``(derivatives, aux)`` and receives the step as
    an argument); ``snn_solve`` will be removed in 0.3.

    ``func(t, y)`` returns ``len(y0) + K`` tensors: the derivatives of the components,
    then ``K >= 0`` boundary tensors (e.g. the spikes leaving the last layer), which are
    recorded at every step rather than integrated. On the grid ``t`` of ``N`` points,
    step ``n`` evaluates ``func`` at ``(t_n, y_n)``, records the boundaries and uses the
    derivatives for the update to ``y_{n+1}``; there is no update after the last point.
    Predictor–corrector methods (``l1``, ``trap``) make extra evaluations at predicted
    states whose boundaries are discarded. Gradients flow to the states, the parameters
    of ``func``, tensor orders and tensor coefficients.

    Args:
        func: Vector field ``func(t, y_tuple) -> (dy_1, ..., dy_n, b_1, ..., b_K)``.
        y0: Initial states, one floating tensor per component.
        t: Strictly increasing 1-d time grid ``[N]`` (uniform for ``fdeint``).
        integrator: ``"fdeint"`` (fractional) or ``"odeint"`` (integer order).
        method: For ``fdeint``: ``"gl"`` (default), ``"l1"``, ``"trap"``, ``"pred"``,
            ``"glmulti"``; for ``odeint``: ``"euler"`` (default), ``"midpoint"``, ``"rk4"``.
        alpha: ``fdeint`` only (``None`` for ``odeint``): a scalar for every component,
            or one entry per component, each a scalar (float or 0-d tensor, may require
            grad) or a 1-d sequence/tensor of orders (multi-term). If any component is
            multi-term and ``method`` is single-term, a warning is issued and
            ``"glmulti"`` is used (single-term components are then one-term).
        coefficients: ``None``, or one entry per component: ``None`` for a single-term
            component, else a 1-d tensor of positive weights as long as its orders.
        memory: ``fdeint`` only: keep the last ``memory`` history terms.
        options: Method options, e.g. ``{"corrector_steps": 2}``; ``{"memory": M}`` is
            accepted as an alias of ``memory`` for ``fdeint``. ``history``
            (``"full"``/``"soe"``), ``soe_tol``, ``soe_terms``, ``soe_window`` and ``block`` as for
            :func:`fdeint`; ``checkpoint`` (bool, both integrators) recomputes ``func`` in
            backward instead of keeping its activations.

        keep_states: Record the states at every grid point. ``False`` returns
            ``states=()`` and saves their memory (``N`` copies of every state) when only
            the boundaries are needed.

    Returns:
        An :class:`SNNSolution` with ``states``, ``boundaries`` and ``nfe``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If the integrator/method/alpha/coefficients/memory/options/grid are
            invalid, or ``func`` returns too few tensors or wrong shapes.

    Example:
        >>> import torch
        >>> from spikede_solvers import snn_solve
        >>> def field(t, y):
        ...     v, = y
        ...     return (1.0 - v, (v > 0.5).to(v.dtype))
        >>> t = torch.arange(4, dtype=torch.float64)
        >>> sol = snn_solve(field, (torch.zeros(2, dtype=torch.float64),), t,
        ...                 integrator="odeint")
        >>> sol.states[0][:, 0].tolist(), sol.boundaries[0][:, 0].tolist(), sol.nfe
        ([0.0, 1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0], 4)
    """
    warnings.warn(
        "snn_solve is deprecated and will be removed in spikede-solvers 0.3; use "
        "solve(func, y0, t, method, ..., has_aux=True)",
        DeprecationWarning,
        stacklevel=2,
    )
    solver, problem = check_snn_solve(
        func, y0, t, integrator, method, alpha, coefficients, memory, options, keep_states
    )
    n = len(problem.y0)

    def field(t: Tensor, y: tuple[Tensor, ...], args: Any, step: Any) -> Any:
        out = func(t, y)
        if not isinstance(out, (tuple, list)) or len(out) < n:
            raise ValueError(
                f"func returned {type(out).__name__ if not isinstance(out, (tuple, list)) else len(out)}"
                f", expected at least {n} tensors (one derivative per state component, then boundaries)"
            )
        return tuple(out[:n]), tuple(out[n:])

    states, boundaries, nfe = integrate(
        solver, problem, field, has_aux=True, keep_states=keep_states
    )
    out_states = (
        tuple(torch.stack([s[i] for s in states]) for i in range(len(problem.y0)))
        if keep_states
        else ()
    )
    k = len(boundaries[0]) if boundaries else 0
    out_bounds = tuple(torch.stack([b[j] for b in boundaries]) for j in range(k))
    return SNNSolution(out_states, out_bounds, nfe)
