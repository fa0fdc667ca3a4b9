"""L1 scheme, order ``2 - a`` for smooth solutions.

The Caputo derivative at ``t_{n+1}`` is approximated by piecewise-linear interpolation of
``y`` (the increments ``y_k - y_{k-1}`` start at ``y_1 - y0``, so the initial value enters):

    h^{-a} / Gamma(2 - a) * sum_{k=0}^{n} b_k (y_{n+1-k} - y_{n-k}) = f(t_{n+1}, y_{n+1}),
    b_k = (k + 1)^{1-a} - k^{1-a}   (the ``k^{1-a}`` at ``k = 0`` is 0, also at ``a = 1``).

Implicit in ``f_{n+1}``; solved as predictor–corrector like ``trap``: the predictor uses
``2 f_n - f_{n-1}`` (``f_0`` at ``n = 0``), then ``corrector_steps`` (default 1)
corrections. At ``a = 1`` this is backward Euler (order 1 = 2 - a). With memory ``M`` only
the last ``M`` increments enter the sum.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikede_solvers._base import Evaluate, Problem, Solver, Stepper
from spikede_solvers._history import new_history
from spikede_solvers._pece import predict_correct
from spikede_solvers._weights import gamma, index, safe_pow

__all__ = ["L1Solver"]


class _L1Stepper(Stepper):
    carry = ("f_prev",)

    def __init__(self, problem: Problem) -> None:
        self.window = problem.window
        self.t = problem.t
        self.corrector_steps = int(problem.options.get("corrector_steps", 1))
        n = max(problem.n_steps, 1)
        self.coef_rev, self.g = [], []
        for comp in problem.components:
            a = comp.orders
            p = 1.0 - a
            k = index(n, a, start=1)  # b_1 .. b_n
            b = safe_pow(k + 1.0, p) - safe_pow(k, p)
            self.coef_rev.append(torch.flip(b, dims=(0,)))
            self.g.append(gamma(2.0 - a) * torch.pow(a.new_tensor(problem.h), a))
        # Row m holds the increment y_m - y_{m-1} (row 0 unused).
        self.bufs = [new_history(problem, n + 1, y, c) for y, c in zip(problem.y0, self.coef_rev)]
        self.f_prev: tuple[Tensor, ...] = ()

    def step(
        self, n: int, y: tuple[Tensor, ...], f: tuple[Tensor, ...], evaluate: Evaluate
    ) -> tuple[Tensor, ...]:
        count = min(n, self.window)
        base = []
        for i, yi in enumerate(y):
            hist = self.bufs[i].lagged_sum(self.coef_rev[i], n, count)
            b = yi - hist
            base.append(b)
        y_new = predict_correct(
            base, self.g, f, self.f_prev, n, self.t[n + 1], evaluate, self.corrector_steps
        )
        self.f_prev = f
        for i, yi in enumerate(y):
            self.bufs[i].write(n + 1, y_new[i] - yi)
        return y_new


class L1Solver(Solver):
    """L1 predictor–corrector, order ``2 - alpha`` for smooth solutions."""

    kind = "fractional"
    order = "2 - alpha (smooth solutions); 1 on the relaxation problem"
    options = frozenset({"corrector_steps"})

    def setup(self, problem: Problem) -> Stepper:
        return _L1Stepper(problem)
