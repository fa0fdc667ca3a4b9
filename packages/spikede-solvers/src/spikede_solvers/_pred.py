"""Fractional Adams–Bashforth predictor (product rectangle rule, order 1).

    y_{n+1} = y0 + h^a / Gamma(a + 1) * sum_{j=0}^{n} b_{n-j} f(t_j, y_j),
    b_k = (k + 1)^a - k^a.

At ``a = 1`` (``b_k = 1``) this is explicit Euler. With memory ``M`` only the last ``M``
values ``f_j`` enter the sum.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikede_solvers._base import Evaluate, Problem, Solver, Stepper
from spikede_solvers._history import new_history
from spikede_solvers._stream import StreamingHistory, Streams
from spikede_solvers._weights import gamma, index, safe_pow

__all__ = ["PredSolver"]


class _PredStepper(Stepper):
    def __init__(self, problem: Problem) -> None:
        self.y0 = problem.y0
        self.window = problem.window
        n = max(problem.n_steps, 1)
        self.coef_rev = []
        for comp in problem.components:
            a = comp.orders
            k = index(n, a)
            b = safe_pow(k + 1.0, a) - safe_pow(k, a)
            g = torch.pow(a.new_tensor(problem.h), a) / gamma(a + 1.0)
            self.coef_rev.append(torch.flip(b * g, dims=(0,)))
        self.bufs = [
            new_history(problem, n, y, c, stream=True) for y, c in zip(problem.y0, self.coef_rev)
        ]
        # Fixed coefficients and fast or short history: the rows stream (see _stream.py;
        # a recorded step is one SumStep for all components).
        self.stream: Streams | None = None
        if all(isinstance(b, StreamingHistory) for b in self.bufs):
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
            out.append(y0 + buf.lagged_sum(self.coef_rev[i], n, count))
        return tuple(out)


class PredSolver(Solver):
    """Fractional Adams–Bashforth (product rectangle) method, order 1."""

    kind = "fractional"
    order = "1"
    streams = True

    def setup(self, problem: Problem) -> Stepper:
        return _PredStepper(problem)
