"""Explicit Grünwald–Letnikov method (order 1).

With ``z_k = y_k - y0`` (the Caputo initial value enters every step),

    y_{n+1} = y0 + h^a f(t_n, y_n) - sum_{j=1}^{n+1} w_j z_{n+1-j},

``w_0 = 1``, ``w_j = w_{j-1} (1 - (a + 1) / j)``. At ``a = 1`` (``w_1 = -1``, ``w_j = 0``
for ``j >= 2``) this is explicit Euler. With memory ``M`` only ``j <= M`` is kept. The
weights are computed in float64 and cast to the state's dtype. The grid must be uniform.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikede_solvers._base import Evaluate, Problem, Solver, Stepper
from spikede_solvers._history import new_history, streamable
from spikede_solvers._stream import Streams
from spikede_solvers._stream_exact import STREAMING
from spikede_solvers._weights import gl_weights, wide

__all__ = ["GLSolver", "GLTypeStepper"]


class GLTypeStepper(Stepper):
    """``z_{n+1} = scale * f_n - sum_{j>=1} c_j z_{n+1-j}`` per component.

    Args:
        problem: The checked problem.
        scales: Per component, the factor multiplying ``f_n``.
        coefs: Per component, ``c_1 .. c_{N}`` as ``[N, *shape]`` (``N = n_steps``).
    """

    def __init__(self, problem: Problem, scales: list[Tensor], coefs: list[Tensor]) -> None:
        self.y0 = problem.y0
        self.window = problem.window
        self.scales = scales
        self.coef_rev = [torch.flip(c, dims=(0,)) for c in coefs]
        stream = streamable(self.coef_rev)
        self.bufs = [
            new_history(problem, problem.n_points, y, c, stream=stream)
            for y, c in zip(problem.y0, self.coef_rev)
        ]
        # Fixed coefficients and fast or short history: every component streams, with a
        # fixed scale (a recorded step is one StreamStep for all components).
        self.stream: Streams | None = None
        if all(isinstance(b, STREAMING) for b in self.bufs):
            self.stream = Streams(self.bufs, problem.y0, [float(s) for s in scales])
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
            hist = buf.lagged_sum(self.coef_rev[i], n, count)
            z = self.scales[i] * f[i] - hist
            buf.write(n + 1, z)
            out.append(y0 + z)
        return tuple(out)


class GLSolver(Solver):
    """Explicit Grünwald–Letnikov method, order 1 (also on the relaxation problem)."""

    kind = "fractional"
    order = "1"
    streams = True

    def setup(self, problem: Problem) -> Stepper:
        n = max(problem.n_steps, 1)
        scales, coefs = [], []
        for comp in problem.components:
            a = comp.orders
            a64 = wide(a)
            w = gl_weights(a64, n + 1)
            scales.append((a64.new_tensor(problem.h) ** a64).to(a.dtype))
            coefs.append(w[1:].to(a.dtype))
        return GLTypeStepper(problem, scales, coefs)
