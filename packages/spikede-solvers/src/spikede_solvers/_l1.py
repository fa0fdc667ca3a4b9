"""L1 scheme, order ``2 - a`` for smooth solutions.

The Caputo derivative at ``t_{n+1}`` is approximated by piecewise-linear interpolation of
``y`` (the increments ``y_k - y_{k-1}`` start at ``y_1 - y0``, so the initial value enters):

    h^{-a} / Gamma(2 - a) * sum_{k=0}^{n} b_k (y_{n+1-k} - y_{n-k}) = f(t_{n+1}, y_{n+1}),
    b_k = (k + 1)^{1-a} - k^{1-a}   (the ``k^{1-a}`` at ``k = 0`` is 0, also at ``a = 1``).

Implicit in ``f_{n+1}``; solved as predictor–corrector like ``trap``: the predictor uses
``2 f_n - f_{n-1}`` (``f_0`` at ``n = 0``), then ``corrector_steps`` (default 1)
corrections. At ``a = 1`` this is backward Euler (order 1 = 2 - a). With memory ``M`` only
the last ``M`` increments enter the sum.

The weights are computed in float64, ``b_k = k^(1-a) expm1((1-a) log1p(1/k))`` (no
cancellation), and cast to the state's dtype. On a non-uniform grid the interpolation
uses the actual steps (:class:`~spikede_solvers._mesh.Mesh`), with the predictor
extrapolating linearly over the step ratio; on a graded grid ``t_j = T (j/N)^r`` with
``r = (2 - a) / a`` it reaches order ``2 - a`` on the relaxation problem.
"""

from __future__ import annotations

from torch import Tensor

from spikede_solvers._base import Evaluate, Problem, Solver, Stepper
from spikede_solvers._history import History, new_history
from spikede_solvers._mesh import Mesh
from spikede_solvers._pece import predict_correct
from spikede_solvers._weights import gamma, index, pow_diff, wide

__all__ = ["L1Solver"]


class _L1Stepper(Stepper):
    def __init__(self, problem: Problem) -> None:
        self.window = problem.window
        self.t = problem.t
        self.corrector_steps = int(problem.options.get("corrector_steps", 1))
        self.orders = [comp.orders for comp in problem.components]
        self.mesh = None if problem.uniform else Mesh(problem.t, problem.y0[0].device)
        self.f_prev: tuple[Tensor, ...] = ()
        n = max(problem.n_steps, 1)
        if self.mesh is not None:
            # Non-uniform: one row of weights per step (Mesh.l1_row), no blocked sums.
            self.bufs = [
                History(n + 1, y, reuse_for_grad=not a.requires_grad)
                for y, a in zip(problem.y0, self.orders)
            ]
            return
        self.coef_rev, self.g = [], []
        for a in self.orders:
            a64 = wide(a)
            k = index(n, a64, start=1)  # b_1 .. b_n
            b = pow_diff(k, k.new_ones(()), 1.0 - a64)
            self.coef_rev.append(b.flip(0).to(a.dtype))
            g = gamma(2.0 - a64) * a64.new_tensor(problem.h) ** a64
            self.g.append(g.to(a.dtype))
        # Row m holds the increment y_m - y_{m-1} (row 0 unused).
        self.bufs = [new_history(problem, n + 1, y, c) for y, c in zip(problem.y0, self.coef_rev)]

    def step(
        self, n: int, y: tuple[Tensor, ...], f: tuple[Tensor, ...], evaluate: Evaluate
    ) -> tuple[Tensor, ...]:
        count = min(n, self.window)
        base, g = [], self.g if self.mesh is None else []
        for i, yi in enumerate(y):
            if self.mesh is None:
                hist = self.bufs[i].lagged_sum(self.coef_rev[i], n, count)
            else:
                a = self.orders[i]
                w = self.mesh.l1_row(n, n + 1 - count, a).to(a.dtype)
                hist = self.bufs[i].lagged_sum(w, n, count)
                g.append(self.mesh.l1_scale(n, a).to(a.dtype))
            base.append(yi - hist)
        ratio = None if self.mesh is None or n == 0 else self.mesh.ratio(n)
        y_new = predict_correct(
            base, g, f, self.f_prev, n, self.t[n + 1], evaluate, self.corrector_steps, ratio
        )
        self.f_prev = f
        for i, yi in enumerate(y):
            self.bufs[i].write(n + 1, y_new[i] - yi)
        return y_new


class L1Solver(Solver):
    """L1 predictor–corrector, order ``2 - alpha`` for smooth solutions."""

    kind = "fractional"
    order = "2 - alpha (smooth solutions); 1 on the relaxation problem"
    uniform_only = False
    options = frozenset({"corrector_steps"})

    def setup(self, problem: Problem) -> Stepper:
        return _L1Stepper(problem)
