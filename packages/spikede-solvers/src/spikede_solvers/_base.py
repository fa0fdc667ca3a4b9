"""The abstract step interface every solver method implements.

A method (:class:`Solver`) is a stateless description registered by name. For each solve
it builds a :class:`Stepper` via :meth:`Solver.setup`, which computes all weights once
(from the orders, the step ``h``, the number of points and the memory length) and
preallocates the history buffers. The integration loop then calls :meth:`Stepper.step`
once per step; a step does one vectorised history sum per state component.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from torch import Tensor

__all__ = ["Component", "Evaluate", "Problem", "Solver", "Step", "Stepper", "grid_steps"]

#: ``evaluate(t, y, index=None) -> derivatives``: the vector field at time ``t`` and state
#: tuple ``y``; ``index`` is the grid index of ``t`` when ``t`` is a grid point.
Evaluate = Callable[..., tuple[Tensor, ...]]


class Step(NamedTuple):
    """What the solver tells the vector field about the step an evaluation belongs to.

    Attributes:
        n: Index of the step being taken, from ``t[n]`` to ``t[n + 1]`` (the last grid
            point's evaluation belongs to the last step).
        h: Its size ``t[n + 1] - t[n]``, a Python number.
        index: Grid index of the evaluation time when it is a grid point (``n`` for the
            first evaluation of a step, ``n + 1`` for a corrector at the next point),
            ``None`` for a stage between grid points.

    Example:
        >>> Step(n=3, h=0.5, index=4).h
        0.5
    """

    n: int
    h: float
    index: int | None


@dataclass
class Component:
    """Order specification of one state component.

    Attributes:
        orders: Single-term: the order as a tensor (0-d, or padded to the component's
            number of dimensions for per-element orders). Multi-term: a 1-d tensor of
            orders.
        coefficients: ``None`` for a single-term component, else a 1-d tensor of positive
            weights, one per order.
    """

    orders: Tensor | None
    coefficients: Tensor | None = None

    @property
    def multi_term(self) -> bool:
        """Whether this component is a multi-term equation."""
        return self.coefficients is not None


@dataclass
class Problem:
    """Everything a stepper needs, already checked.

    Attributes:
        y0: Initial state components.
        t: Time grid (``[n_points]``).
        h: Uniform step ``(t[-1] - t[0]) / (n_points - 1)`` (``1.0`` if one point; the
            mean step of a non-uniform grid).
        n_points: Number of grid points.
        components: One :class:`Component` per state component (``orders`` is ``None``
            for integer-order methods).
        memory: Number of history terms kept, or ``None`` for the full history.
        options: Method options (checked against :attr:`Solver.options`).
        uniform: Whether ``t`` is uniform up to the rounding of its dtype; only methods
            with ``uniform_only = False`` get ``False`` (they then use the actual steps).
    """

    y0: tuple[Tensor, ...]
    t: Tensor
    h: float
    n_points: int
    components: list[Component]
    memory: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    uniform: bool = True

    @property
    def n_steps(self) -> int:
        """Number of updates ``n_points - 1``."""
        return self.n_points - 1

    @property
    def window(self) -> int:
        """History length kept (``n_points`` when memory is unlimited)."""
        return self.n_points if self.memory is None else self.memory


def grid_steps(t: Tensor) -> list[float]:
    """The steps ``t[n + 1] - t[n]`` in the grid's dtype, as Python numbers (one sync)."""
    return (t[1:] - t[:-1]).tolist()


class Stepper(ABC):
    """Advances the solution by one step; built once per solve by :meth:`Solver.setup`.

    A stepper with history buffers keeps them in a list attribute ``bufs``
    (:class:`~spikede_solvers._history.History`), so that :meth:`release` finds them.
    """

    def release(self) -> None:
        """Drop forward-only references when the solve ends (the loop calls it)."""
        for history in getattr(self, "bufs", ()):
            history.release()

    @abstractmethod
    def step(
        self, n: int, y: tuple[Tensor, ...], f: tuple[Tensor, ...], evaluate: Evaluate
    ) -> tuple[Tensor, ...]:
        """Return ``y_{n+1}`` given ``y_n`` and ``f_n = func(t_n, y_n)``.

        Args:
            n: Step index (``0 <= n < n_points - 1``).
            y: State components at ``t_n``.
            f: Vector field at ``(t_n, y_n)``.
            evaluate: Further evaluations of the vector field (predictor–corrector and
                Runge–Kutta stages), ``evaluate(t, y, index=None)`` with ``index`` the
                grid index of ``t`` when it is a grid point; each call counts as one
                evaluation.

        Returns:
            The state components at ``t_{n+1}``.
        """


class Solver(ABC):
    """A named integration method.

    Subclasses set the class attributes and implement :meth:`setup`.

    Attributes:
        kind: ``"fractional"`` (used by ``fdeint``) or ``"integer"`` (used by ``odeint``).
        order: Documented convergence order, as text.
        multi_term: Whether the method accepts multi-term components.
        uniform_only: Whether the method needs a uniform grid.
        options: Names of the options the method accepts.
        streams: Whether the method streams its history when it is fast or short
            (``history="soe"`` or ``memory``) and the orders need no gradient: a
            fixed number of rows, whatever the number of steps.
    """

    kind: ClassVar[str] = "fractional"
    order: ClassVar[str] = ""
    multi_term: ClassVar[bool] = False
    uniform_only: ClassVar[bool] = True
    options: ClassVar[frozenset[str]] = frozenset()
    streams: ClassVar[bool] = False

    @abstractmethod
    def setup(self, problem: Problem) -> Stepper:
        """Compute the weights and preallocate the history for one solve."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, order={self.order!r})"
