"""Explicit Euler method for integer-order ODEs (order 1), any grid."""

from __future__ import annotations

from torch import Tensor

from spikede_solvers._base import Evaluate, Problem, Solver, Stepper

__all__ = ["EulerSolver"]


class _EulerStepper(Stepper):
    def __init__(self, problem: Problem) -> None:
        self.t = problem.t

    def step(
        self, n: int, y: tuple[Tensor, ...], f: tuple[Tensor, ...], evaluate: Evaluate
    ) -> tuple[Tensor, ...]:
        h = self.t[n + 1] - self.t[n]
        return tuple(yi + h.to(yi.dtype) * fi for yi, fi in zip(y, f))


class EulerSolver(Solver):
    """Explicit Euler, order 1."""

    kind = "integer"
    order = "1"
    uniform_only = False

    def setup(self, problem: Problem) -> Stepper:
        return _EulerStepper(problem)
