"""Explicit Euler method for integer-order ODEs (order 1), any grid."""

from __future__ import annotations

import torch
from torch import Tensor

from spikede_solvers._base import Evaluate, Problem, Solver, Stepper, grid_steps

__all__ = ["EulerSolver"]


class _EulerStepper(Stepper):
    def __init__(self, problem: Problem) -> None:
        # The steps as Python numbers, made once: ``y + h f`` is then one kernel
        # (``torch.add`` with ``alpha``). They hold the grid's values exactly.
        self.steps = grid_steps(problem.t)

    def step(
        self, n: int, y: tuple[Tensor, ...], f: tuple[Tensor, ...], evaluate: Evaluate
    ) -> tuple[Tensor, ...]:
        h = self.steps[n]
        return tuple(torch.add(yi, fi, alpha=h) for yi, fi in zip(y, f))


class EulerSolver(Solver):
    """Explicit Euler, order 1."""

    kind = "integer"
    order = "1"
    uniform_only = False

    def setup(self, problem: Problem) -> Stepper:
        return _EulerStepper(problem)
