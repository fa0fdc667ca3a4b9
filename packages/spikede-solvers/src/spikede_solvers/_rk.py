"""Explicit Runge–Kutta methods for integer-order ODEs: midpoint (order 2), rk4 (order 4)."""

from __future__ import annotations

import torch
from torch import Tensor

from spikede_solvers._base import Evaluate, Problem, Solver, Stepper, grid_steps

__all__ = ["MidpointSolver", "RK4Solver"]


def _axpy(y: tuple[Tensor, ...], h: float, k: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return tuple(torch.add(yi, ki, alpha=h) for yi, ki in zip(y, k))


class _RKStepper(Stepper):
    """The grid's steps as numbers and the stage times ``t_n + h_n / 2`` as 0-d views,
    made once per solve."""

    def __init__(self, problem: Problem) -> None:
        t = problem.t
        self.steps = grid_steps(t)
        self.times = t.unbind(0)
        self.mid = (t[:-1] + 0.5 * (t[1:] - t[:-1])).unbind(0)


class _MidpointStepper(_RKStepper):
    def step(
        self, n: int, y: tuple[Tensor, ...], f: tuple[Tensor, ...], evaluate: Evaluate
    ) -> tuple[Tensor, ...]:
        h = self.steps[n]
        k2 = evaluate(self.mid[n], _axpy(y, 0.5 * h, f))
        return _axpy(y, h, k2)


class _RK4Stepper(_RKStepper):
    def step(
        self, n: int, y: tuple[Tensor, ...], f: tuple[Tensor, ...], evaluate: Evaluate
    ) -> tuple[Tensor, ...]:
        h = self.steps[n]
        half, mid = 0.5 * h, self.mid[n]
        k2 = evaluate(mid, _axpy(y, half, f))
        k3 = evaluate(mid, _axpy(y, half, k2))
        k4 = evaluate(self.times[n + 1], _axpy(y, h, k3), n + 1)
        # y + h/6 (f + 2 k2 + 2 k3 + k4), accumulated into one new tensor per component.
        out = []
        for yi, a, b, c, d in zip(y, f, k2, k3, k4):
            acc = torch.add(yi, a, alpha=h / 6.0)
            acc.add_(b, alpha=h / 3.0).add_(c, alpha=h / 3.0).add_(d, alpha=h / 6.0)
            out.append(acc)
        return tuple(out)


class MidpointSolver(Solver):
    """Explicit midpoint rule, order 2."""

    kind = "integer"
    order = "2"
    uniform_only = False

    def setup(self, problem: Problem) -> Stepper:
        return _MidpointStepper(problem)


class RK4Solver(Solver):
    """Classical fourth-order Runge–Kutta, order 4."""

    kind = "integer"
    order = "4"
    uniform_only = False

    def setup(self, problem: Problem) -> Stepper:
        return _RK4Stepper(problem)
