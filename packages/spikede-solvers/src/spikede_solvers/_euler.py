"""Explicit Euler method for integer-order ODEs (order 1), any grid."""

from __future__ import annotations

from torch import Tensor

from spikede_solvers._base import Evaluate, Problem, Solver, Stepper

__all__ = ["EulerSolver"]


class _EulerStepper(Stepper):
    def __init__(self, problem: Problem) -> None:
        t = problem.t
        # The steps in each state's dtype, as 0-d views made once.
        steps = t[1:] - t[:-1]
        by_dtype = {y.dtype: steps.to(y.dtype).unbind(0) for y in problem.y0}
        self.steps = [by_dtype[y.dtype] for y in problem.y0]

    def step(
        self, n: int, y: tuple[Tensor, ...], f: tuple[Tensor, ...], evaluate: Evaluate
    ) -> tuple[Tensor, ...]:
        return tuple(yi + h[n] * fi for yi, fi, h in zip(y, f, self.steps))


class EulerSolver(Solver):
    """Explicit Euler, order 1."""

    kind = "integer"
    order = "1"
    uniform_only = False

    def setup(self, problem: Problem) -> Stepper:
        return _EulerStepper(problem)
