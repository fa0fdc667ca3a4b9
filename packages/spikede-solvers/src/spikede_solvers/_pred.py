"""Fractional Adams–Bashforth predictor (product rectangle rule, order 1).

    y_{n+1} = y0 + h^a / Gamma(a + 1) * sum_{j=0}^{n} b_{n-j} f(t_j, y_j),
    b_k = (k + 1)^a - k^a.

At ``a = 1`` (``b_k = 1``) this is explicit Euler. With memory ``M`` only the last ``M``
values ``f_j`` enter the sum.

The weights are computed in float64, ``b_k = k^a expm1(a log1p(1/k))`` (no cancellation),
and cast to the state's dtype. On a non-uniform grid the rectangles are the actual steps
(:class:`~spikede_solvers._mesh.Mesh`).
"""

from __future__ import annotations

from torch import Tensor

from spikede_solvers._base import Evaluate, Problem, Solver, Stepper
from spikede_solvers._history import History, new_history, streamable
from spikede_solvers._mesh import Mesh
from spikede_solvers._stream import Streams
from spikede_solvers._stream_exact import STREAMING
from spikede_solvers._weights import gamma, index, pow_diff, wide

__all__ = ["PredSolver"]


class _PredStepper(Stepper):
    def __init__(self, problem: Problem) -> None:
        self.y0 = problem.y0
        self.window = problem.window
        self.orders = [comp.orders for comp in problem.components]
        self.mesh = None if problem.uniform else Mesh(problem.t, problem.y0[0].device)
        self.stream: Streams | None = None
        n = max(problem.n_steps, 1)
        if self.mesh is not None:
            # Non-uniform: one row of weights per step (Mesh.pred_row), no streaming.
            self.bufs = [
                History(n, y, reuse_for_grad=not a.requires_grad)
                for y, a in zip(problem.y0, self.orders)
            ]
            return
        self.coef_rev = []
        for a in self.orders:
            a64 = wide(a)
            k = index(n, a64)
            b = pow_diff(k, k.new_ones(()), a64)
            g = a64.new_tensor(problem.h) ** a64 / gamma(a64 + 1.0)
            self.coef_rev.append((b * g).flip(0).to(a.dtype))
        stream = streamable(self.coef_rev)
        self.bufs = [
            new_history(problem, n, y, c, stream=stream) for y, c in zip(problem.y0, self.coef_rev)
        ]
        # Fixed coefficients and fast or short history: the rows stream (see _stream.py;
        # a recorded step is one SumStep for all components).
        if all(isinstance(b, STREAMING) for b in self.bufs):
            self.stream = Streams(self.bufs, problem.y0)
            self.bufs = list(self.stream.histories)

    def step(
        self, n: int, y: tuple[Tensor, ...], f: tuple[Tensor, ...], evaluate: Evaluate
    ) -> tuple[Tensor, ...]:
        if self.stream is not None:
            return self.stream.step(n, f)
        count = min(n + 1, self.window)
        out = []
        for i, y0 in enumerate(self.y0):
            buf = self.bufs[i]
            buf.write(n, f[i])
            if self.mesh is None:
                w = self.coef_rev[i]
            else:
                a = self.orders[i]
                w = self.mesh.pred_row(n, n + 1 - count, a).to(a.dtype)
            out.append(y0 + buf.lagged_sum(w, n, count))
        return tuple(out)


class PredSolver(Solver):
    """Fractional Adams–Bashforth (product rectangle) method, order 1."""

    kind = "fractional"
    order = "1"
    uniform_only = False
    streams = True

    def setup(self, problem: Problem) -> Stepper:
        return _PredStepper(problem)
