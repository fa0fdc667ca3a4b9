"""The predictor–corrector step shared by the implicit product-integration methods."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from spikede_solvers._base import Evaluate


def predict_correct(
    base: Sequence[Tensor],
    g: Sequence[Tensor],
    f: tuple[Tensor, ...],
    f_prev: tuple[Tensor, ...],
    n: int,
    t_next: Tensor,
    evaluate: Evaluate,
    corrector_steps: int,
    ratio: float | None = None,
) -> tuple[Tensor, ...]:
    """Solve ``y = base + g * f(t_next, y)`` by an extrapolated predictor and corrections.

    The predictor replaces the unknown ``f(t_next, y)`` by the linear extrapolation
    ``2 f_n - f_{n-1}`` (``f_0`` at the first step), which keeps the local error one order
    above the scheme's; on a non-uniform grid ``f_n + r (f_n - f_{n-1})`` with the step
    ratio ``r = tau_{n+1} / tau_n``. Each of the ``corrector_steps`` corrections
    evaluates the field at the latest value.

    Args:
        base: Per component, everything in the update but the new field value.
        g: Per component, the weight of the new field value.
        f: Field values at the current step.
        f_prev: Field values at the previous step (unused at ``n == 0``).
        n: Index of the current step.
        t_next: Time of the new point.
        evaluate: The vector field, ``evaluate(t, y, index) -> f``.
        corrector_steps: Number of corrections (>= 0).
        ratio: ``tau_{n+1} / tau_n`` on a non-uniform grid, ``None`` on a uniform one.

    Returns:
        The new state, one tensor per component.
    """
    if n == 0:
        f_ext = f
    elif ratio is None:
        f_ext = tuple(2.0 * fi - fp for fi, fp in zip(f, f_prev))
    else:
        f_ext = tuple(torch.add(fi, fi - fp, alpha=ratio) for fi, fp in zip(f, f_prev))
    y_new = tuple(b + gi * fe for b, gi, fe in zip(base, g, f_ext))
    for _ in range(corrector_steps):
        f_new = evaluate(t_next, y_new, n + 1)
        y_new = tuple(b + gi * fn for b, gi, fn in zip(base, g, f_new))
    return y_new
