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

The weights are computed in float64 without cancellation (``c_k`` and ``d_n`` as sums of
the positive interval moments of :func:`~spikede_solvers._weights.trap_moments`) and
cast to the state's dtype. On a non-uniform grid the same trapezoidal rule is applied to
the actual steps (:class:`~spikede_solvers._mesh.Mesh`), with the predictor extrapolating
linearly over the step ratio.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikede_solvers._base import Evaluate, Problem, Solver, Stepper
from spikede_solvers._history import History, new_history
from spikede_solvers._mesh import Mesh
from spikede_solvers._pece import predict_correct
from spikede_solvers._weights import gamma, index, trap_moments, trap_series, wide

__all__ = ["TrapSolver"]


class _TrapStepper(Stepper):
    def __init__(self, problem: Problem) -> None:
        self.y0 = problem.y0
        self.window = problem.window
        self.t = problem.t
        self.corrector_steps = int(problem.options.get("corrector_steps", 1))
        self.orders = [comp.orders for comp in problem.components]
        self.mesh = None if problem.uniform else Mesh(problem.t, problem.y0[0].device)
        n = max(problem.n_steps, 1)
        if self.mesh is not None:
            # Non-uniform: one row of weights per step (Mesh.trap_row), no blocked sums.
            self.bufs = [
                History(n + 1, y, reuse_for_grad=not a.requires_grad)
                for y, a in zip(problem.y0, self.orders)
            ]
            self.f0: tuple[Tensor, ...] = ()
            self.f_prev: tuple[Tensor, ...] = ()
            return
        self.coef_rev, self.d, self.g = [], [], []
        for a in self.orders:
            a64 = wide(a)
            k = index(n, a64, start=1)  # lo = 1 .. n
            left, right = trap_moments(k, k.new_ones(()), a64, trap_series(a64))
            left = torch.cat([a64.unsqueeze(0), left])  # lo = 0: left = a, right = 1
            right = torch.cat([torch.ones_like(a64).unsqueeze(0), right])
            c = left[:-1] + right[1:]  # c_k = left(k - 1) + right(k), k = 1 .. n
            self.coef_rev.append(c.flip(0).to(a.dtype))
            self.d.append(left[:-1].to(a.dtype))  # d_n = left(n), n = 0 .. n - 1
            g = a64.new_tensor(problem.h) ** a64 / gamma(a64 + 2.0)
            self.g.append(g.to(a.dtype))
        self.bufs = [new_history(problem, n + 1, y, c) for y, c in zip(problem.y0, self.coef_rev)]
        self.f0 = ()
        self.f_prev = ()

    def step(
        self, n: int, y: tuple[Tensor, ...], f: tuple[Tensor, ...], evaluate: Evaluate
    ) -> tuple[Tensor, ...]:
        if self.mesh is not None:
            return self._mesh_step(n, f, evaluate)
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

    def _mesh_step(self, n: int, f: tuple[Tensor, ...], evaluate: Evaluate) -> tuple[Tensor, ...]:
        mesh = self.mesh
        assert mesh is not None
        start = max(0, n + 1 - self.window)  # f_start .. f_n (f_0 while n < window)
        base, g = [], []
        for i, y0 in enumerate(self.y0):
            a, buf = self.orders[i], self.bufs[i]
            buf.write(n, f[i])
            w = mesh.trap_row(n, start, a).to(a.dtype)
            base.append(y0 + buf.lagged_sum(w, n, n + 1 - start))
            g.append(mesh.trap_scale(n, a).to(a.dtype))
        ratio = None if n == 0 else mesh.ratio(n)
        y_new = predict_correct(
            base, g, f, self.f_prev, n, self.t[n + 1], evaluate, self.corrector_steps, ratio
        )
        self.f_prev = f
        return y_new


class TrapSolver(Solver):
    """Product-trapezoidal predictor–corrector, order 2 for smooth solutions."""

    kind = "fractional"
    order = "2 (smooth solutions); 1 + alpha on the relaxation problem"
    uniform_only = False
    options = frozenset({"corrector_steps"})

    def setup(self, problem: Problem) -> Stepper:
        return _TrapStepper(problem)
