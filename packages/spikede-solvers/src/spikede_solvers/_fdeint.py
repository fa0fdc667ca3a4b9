"""``fdeint``: Caputo fractional ODE solver."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from spikede_solvers._checks import check_fdeint
from spikede_solvers._engine import integrate, user_field

__all__ = ["fdeint"]


def fdeint(
    func: Callable[..., Any],
    y0: Tensor | tuple[Tensor, ...],
    t: Tensor,
    alpha: float | Tensor | Sequence[Any],
    method: str = "gl",
    *,
    coefficients: Tensor | Sequence[Any] | None = None,
    memory: int | None = None,
    options: dict[str, Any] | None = None,
) -> Tensor | tuple[Tensor, ...]:
    """Solve the Caputo problem ``D^alpha y = func(t, y)``, ``y(t[0]) = y0``.

    Multi-term problems ``sum_i c_i D^{alpha_i} y = func(t, y)`` are given by a list of
    orders ``alpha`` and positive ``coefficients`` of the same length. Methods (see the
    package README for the measured orders):

    * ``"gl"``: explicit Grünwald–Letnikov, order 1.
    * ``"pred"``: fractional Adams–Bashforth (product rectangle), order 1.
    * ``"l1"``: L1 scheme as predictor–corrector, order ``2 - alpha`` for smooth solutions.
    * ``"trap"``: product trapezoidal (fractional Adams–Moulton) predictor–corrector,
      order 2 for smooth solutions.
    * ``"glmulti"``: multi-term Grünwald–Letnikov, order 1.

    ``l1``, ``trap`` and ``pred`` also run on non-uniform grids; ``gl`` and ``glmulti``
    need a uniform one. The weights are computed in float64 and cast to ``y0``'s dtype,
    so a float32 solve loses only rounding.

    Solutions of ``D^alpha y = -l y`` behave like ``t^alpha`` near ``t[0]``, which lowers
    ``l1`` to order 1 and ``trap`` to order ``1 + alpha`` there; a grid graded towards
    ``t[0]`` (:func:`~spikede_solvers.graded_grid`) restores ``2 - alpha`` for ``l1`` and
    2 for ``trap`` (in the maximum error over the grid). Gradients flow to ``y0``, the
    parameters of ``func``, a tensor ``alpha`` and tensor ``coefficients``.

    Args:
        func: Vector field ``func(t, y)``; ``t`` is a 0-d tensor, ``y`` has the structure
            of ``y0`` and the return value must too (same shapes; checked at the first
            evaluation).
        y0: Initial value: a floating tensor or a tuple of them.
        t: Strictly increasing 1-d floating time grid ``[N+1]``. ``gl`` and ``glmulti``
            need it uniform: every step within ``1e-6`` of the mean step plus the
            rounding of ``t``'s dtype at ``max |t|`` (that allowance capped at 5% of the
            step). ``l1``, ``trap`` and ``pred`` take any such grid and use its actual
            steps (e.g. :func:`~spikede_solvers.graded_grid`); with the full history or
            ``memory``, not with ``history="soe"``.
        alpha: The order(s), each in ``(0, 1]``: a float, a 0-d tensor (may require grad),
            a tensor broadcastable to ``y0`` (per-element orders), or for tuple states one
            entry per component. Multi-term: a list or 1-d tensor of orders (with
            ``coefficients``); for tuple states either one shared list or one entry per
            component (then ``coefficients`` holds one entry per component, ``None`` for
            single-term components).
        method: ``"gl"``, ``"l1"``, ``"trap"``, ``"pred"``, ``"glmulti"`` or a registered
            fractional method. A multi-term problem with a single-term method warns and
            uses ``"glmulti"``.
        coefficients: Positive weights ``c_i`` of a multi-term problem, or ``None``.
        memory: Keep only the last ``memory`` history terms (short memory, lossy); the
            initial value ``y0`` always enters. ``None`` keeps the full history.
        options: Method options: ``corrector_steps`` (int >= 1, ``l1``/``trap``,
            default 1); ``memory`` (same as the argument); ``history``: ``"full"``
            (default, exact) or ``"soe"`` (fast history: the most recent ``soe_window``
            lags, default 8, exact and the older past as a sum of exponentials, so each
            step costs the same at any ``n``; not with ``memory``). Their number is the
            fewest whose kernel meets ``soe_tol`` (default 1e-8, at least the dtype's
            machine epsilon): the l1 error of the approximated coefficients relative to
            the sum of the exact ones' magnitudes, which bounds each step's history-sum
            error relative to that sum times the largest stored value; ``soe_terms``
            fixes the number instead (``soe_terms`` and ``soe_tol`` exclude each other);
            ``block`` (int >= 0, default 64: the exact full history adds the rows older
            than the current block of ``block`` steps by one matrix product per block;
            0 or 1 sums every row at every step); ``checkpoint`` (bool: evaluate
            ``func`` under ``torch.utils.checkpoint``, keeping only its inputs for
            backward, which recomputes it).

    Returns:
        The trajectory ``[N+1, *y0.shape]`` (a tuple of them for tuple states), in the
        dtype and device of ``y0``.

    Raises:
        TypeError: If an argument has the wrong type (e.g. a non-callable ``func``).
        ValueError: If ``alpha`` leaves ``(0, 1]``, coefficients are not positive or have
            the wrong count, ``t`` is not 1-d, finite and strictly increasing, or not
            uniform for ``gl``/``glmulti`` or ``history="soe"``, ``y0`` holds NaN/inf,
            ``method`` is unknown, ``memory < 1``, or ``func`` returns the wrong shape.

    Example:
        >>> import torch
        >>> from spikede_solvers import fdeint, mittag_leffler
        >>> t = torch.linspace(0.0, 1.0, 201, dtype=torch.float64)
        >>> y = fdeint(lambda t, y: -y, torch.tensor([1.0], dtype=torch.float64), t, 0.5, "trap")
        >>> exact = mittag_leffler(0.5, -t[-1] ** 0.5)
        >>> bool(abs(y[-1, 0] - exact) < 1e-4)
        True
    """
    solver, problem, is_tuple = check_fdeint(
        func, y0, t, alpha, method, coefficients, memory, options
    )
    states, _, _ = integrate(solver, problem, user_field(func, is_tuple))
    out = tuple(torch.stack([s[i] for s in states]) for i in range(len(problem.y0)))
    return out if is_tuple else out[0]
