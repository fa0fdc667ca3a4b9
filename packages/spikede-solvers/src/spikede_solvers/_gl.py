"""Explicit Grünwald–Letnikov method (order 1).

With ``z_k = y_k - y0`` (the Caputo initial value enters every step),

    y_{n+1} = y0 + h^a f(t_n, y_n) - sum_{j=1}^{n+1} w_j z_{n+1-j},

``w_0 = 1``, ``w_j = w_{j-1} (1 - (a + 1) / j)``. At ``a = 1`` (``w_1 = -1``, ``w_j = 0``
for ``j >= 2``) this is explicit Euler. With memory ``M`` only ``j <= M`` is kept.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikede_solvers._base import Evaluate, Problem, Solver, Stepper
from spikede_solvers._history import new_history
from spikede_solvers._stream import StreamingHistory, StreamStep, records
from spikede_solvers._weights import gl_weights

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
        self.bufs = [
            new_history(problem, problem.n_points, y, c, stream=True)
            for y, c in zip(problem.y0, self.coef_rev)
        ]
        # Fixed coefficients and fast or short history: every component streams, with a
        # fixed scale; recorded steps are one StreamStep each, linked by their z.
        self.streaming: list[float] | None = None
        if all(isinstance(b, StreamingHistory) for b in self.bufs):
            self.streaming = [float(s) for s in scales]
        self.z: list[Tensor | None] = [None] * len(self.bufs)

    def step(
        self, n: int, y: tuple[Tensor, ...], f: tuple[Tensor, ...], evaluate: Evaluate
    ) -> tuple[Tensor, ...]:
        if self.streaming is not None:
            if not torch.is_grad_enabled():
                return tuple(
                    y0 + buf.advance(n, fi, scale)
                    for y0, buf, fi, scale in zip(self.y0, self.bufs, f, self.streaming)
                )
            return tuple(self._recorded(i, n, fi) for i, fi in enumerate(f))
        count = min(n + 1, self.window)
        out = []
        for i, y0 in enumerate(self.y0):
            buf = self.bufs[i]
            hist = buf.lagged_sum(self.coef_rev[i], n, count)
            z = self.scales[i] * f[i] - hist
            buf.write(n + 1, z)
            out.append(y0 + z)
        return tuple(out)

    def _recorded(self, i: int, n: int, f: Tensor) -> Tensor:
        """A streaming step with gradients enabled (one :class:`StreamStep`)."""
        buf, prev = self.bufs[i], self.z[i]
        if records(f, prev):
            z = StreamStep.apply(f, prev, buf, n, self.streaming[i])
        else:
            z = buf.advance(n, f, self.streaming[i])
        self.z[i] = z
        return self.y0[i] + z


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
            w = gl_weights(a, n + 1)
            scales.append(torch.pow(a.new_tensor(problem.h), a))
            coefs.append(w[1:])
        return GLTypeStepper(problem, scales, coefs)
