"""Fractional Adams–Moulton method (product trapezoidal rule), order 2 for smooth solutions.

With ``g = h^a / Gamma(a + 2)`` the implicit scheme is

    y_{n+1} = y0 + g * (f_{n+1} + d_n f_0 + sum_{j=1}^{n} c_{n+1-j} f_j),
    c_k = (k+1)^{a+1} - 2 k^{a+1} + (k-1)^{a+1},   d_n = n^{a+1} - (n - a)(n + 1)^a.

It is solved as predictor–corrector: the predictor uses the same formula with ``f_{n+1}``
replaced by the linear extrapolation ``2 f_n - f_{n-1}`` (``f_0`` at ``n = 0``), then
``corrector_steps`` (default 1) corrections re-evaluate ``f(t_{n+1}, y)`` and apply the
formula again. (A product-rectangle predictor with one correction would only reach order
``1 + a``; the extrapolated predictor keeps order 2.) At ``a = 1`` this is the trapezoidal
rule. The solution of the relaxation problem behaves like ``t^a`` at 0, which lowers the
measured order there to about ``1 + a`` (see the package README).
With memory ``M`` only the last ``M`` values ``f_j`` (``j <= n``) enter the sum.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikede_solvers._base import Evaluate, Problem, Solver, Stepper
from spikede_solvers._history import new_history
from spikede_solvers._pece import predict_correct
from spikede_solvers._weights import gamma, index, safe_pow

__all__ = ["TrapSolver"]


class _TrapStepper(Stepper):
    carry = ("f0", "f_prev")

    def __init__(self, problem: Problem) -> None:
        self.y0 = problem.y0
        self.window = problem.window
        self.t = problem.t
        self.corrector_steps = int(problem.options.get("corrector_steps", 1))
        n = max(problem.n_steps, 1)
        self.coef_rev, self.d, self.g = [], [], []
        for comp in problem.components:
            a = comp.orders
            p = a + 1.0
            k = index(n, a, start=1)  # k = 1 .. n
            c = safe_pow(k + 1.0, p) - 2.0 * safe_pow(k, p) + safe_pow(k - 1.0, p)
            m = index(n, a, start=problem.offset)  # m = 0 .. n-1 (of the whole run)
            d = safe_pow(m, p) - (m - a) * safe_pow(m + 1.0, a)
            self.coef_rev.append(torch.flip(c, dims=(0,)))
            self.d.append(d)
            self.g.append(torch.pow(a.new_tensor(problem.h), a) / gamma(a + 2.0))
        self.bufs = [new_history(problem, n + 1, y, c) for y, c in zip(problem.y0, self.coef_rev)]
        self.f0: tuple[Tensor, ...] = ()
        self.f_prev: tuple[Tensor, ...] = ()

    def step(
        self, n: int, y: tuple[Tensor, ...], f: tuple[Tensor, ...], evaluate: Evaluate
    ) -> tuple[Tensor, ...]:
        if n == 0:
            self.f0 = f
        count = min(n, self.window)  # terms j = 1 .. n inside the window
        keep_f0 = n < self.window
        base = []
        for i, y0 in enumerate(self.y0):
            buf = self.bufs[i]
            buf.write(n, f[i])
            acc = buf.lagged_sum(self.coef_rev[i], n, count)
            if keep_f0:
                acc = acc + self.d[i][n] * self.f0[i]
            b = y0 + self.g[i] * acc
            base.append(b)
        y_new = predict_correct(
            base, self.g, f, self.f_prev, n, self.t[n + 1], evaluate, self.corrector_steps
        )
        self.f_prev = f
        return y_new


class TrapSolver(Solver):
    """Product-trapezoidal predictor–corrector, order 2 for smooth solutions."""

    kind = "fractional"
    order = "2 (smooth solutions); 1 + alpha on the relaxation problem"
    options = frozenset({"corrector_steps"})

    def setup(self, problem: Problem) -> Stepper:
        return _TrapStepper(problem)
