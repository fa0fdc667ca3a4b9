"""Explicit Runge–Kutta methods for integer-order ODEs: midpoint (order 2), rk4 (order 4)."""

from __future__ import annotations

from torch import Tensor

from spikede_solvers._base import Evaluate, Problem, Solver, Stepper

__all__ = ["MidpointSolver", "RK4Solver"]


def _axpy(y: tuple[Tensor, ...], h: Tensor, k: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return tuple(yi + h.to(yi.dtype) * ki for yi, ki in zip(y, k))


class _MidpointStepper(Stepper):
    def __init__(self, problem: Problem) -> None:
        self.t = problem.t

    def step(
        self, n: int, y: tuple[Tensor, ...], f: tuple[Tensor, ...], evaluate: Evaluate
    ) -> tuple[Tensor, ...]:
        t0 = self.t[n]
        h = self.t[n + 1] - t0
        k2 = evaluate(t0 + 0.5 * h, _axpy(y, 0.5 * h, f))
        return _axpy(y, h, k2)


class _RK4Stepper(Stepper):
    def __init__(self, problem: Problem) -> None:
        self.t = problem.t

    def step(
        self, n: int, y: tuple[Tensor, ...], f: tuple[Tensor, ...], evaluate: Evaluate
    ) -> tuple[Tensor, ...]:
        t0 = self.t[n]
        h = self.t[n + 1] - t0
        half = 0.5 * h
        k2 = evaluate(t0 + half, _axpy(y, half, f))
        k3 = evaluate(t0 + half, _axpy(y, half, k2))
        k4 = evaluate(t0 + h, _axpy(y, h, k3))
        incr = tuple(a + 2.0 * b + 2.0 * c + d for a, b, c, d in zip(f, k2, k3, k4))
        return _axpy(y, h / 6.0, incr)


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
