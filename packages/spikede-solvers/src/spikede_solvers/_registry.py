"""The solver registry: method name -> :class:`~spikede_solvers.Solver` instance."""

from __future__ import annotations

from spikede_solvers._adaptive import Bosh3Solver, Dopri5Solver
from spikede_solvers._base import Solver
from spikede_solvers._euler import EulerSolver
from spikede_solvers._gl import GLSolver
from spikede_solvers._glmulti import GLMultiSolver
from spikede_solvers._l1 import L1Solver
from spikede_solvers._pred import PredSolver
from spikede_solvers._rk import MidpointSolver, RK4Solver
from spikede_solvers._trap import TrapSolver

__all__ = ["SOLVERS", "list_methods", "register_method"]

#: Registered methods by name. Fractional methods serve ``fdeint``, integer ones ``odeint``.
SOLVERS: dict[str, Solver] = {
    "gl": GLSolver(),
    "l1": L1Solver(),
    "trap": TrapSolver(),
    "pred": PredSolver(),
    "glmulti": GLMultiSolver(),
    "euler": EulerSolver(),
    "midpoint": MidpointSolver(),
    "rk4": RK4Solver(),
    "dopri5": Dopri5Solver(),
    "bosh3": Bosh3Solver(),
}


def list_methods(kind: str | None = None) -> list[str]:
    """Names of the registered methods.

    Args:
        kind: ``"fractional"`` or ``"integer"`` to filter, or ``None`` for all.

    Returns:
        The method names, sorted.

    Raises:
        ValueError: If ``kind`` is not ``None``, ``"fractional"`` or ``"integer"``.

    Example:
        >>> list_methods("integer")
        ['bosh3', 'dopri5', 'euler', 'midpoint', 'rk4']
    """
    if kind not in (None, "fractional", "integer"):
        raise ValueError(f"kind must be None, 'fractional' or 'integer', got {kind!r}")
    return sorted(name for name, s in SOLVERS.items() if kind is None or s.kind == kind)


def register_method(name: str, solver: Solver, *, overwrite: bool = False) -> None:
    """Register a method so ``fdeint``/``odeint``/``snn_solve`` accept it by name.

    Args:
        name: The method name.
        solver: A :class:`~spikede_solvers.Solver` instance; its ``kind`` decides which
            integrator accepts it.
        overwrite: Allow replacing an existing method of the same name.

    Raises:
        TypeError: If ``name`` is not a string or ``solver`` is not a ``Solver`` instance.
        ValueError: If ``name`` is empty, or already registered and ``overwrite`` is false,
            or ``solver.kind`` is not ``"fractional"``/``"integer"``.

    Example:
        >>> from spikede_solvers import SOLVERS
        >>> register_method("euler2", SOLVERS["euler"])
        >>> "euler2" in list_methods("integer")
        True
        >>> del SOLVERS["euler2"]
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if not name:
        raise ValueError("name must be a non-empty string, got ''")
    if not isinstance(solver, Solver):
        raise TypeError(
            f"solver must be a spikede_solvers.Solver instance, got {type(solver).__name__}"
        )
    if solver.kind not in ("fractional", "integer"):
        raise ValueError(f"solver.kind must be 'fractional' or 'integer', got {solver.kind!r}")
    if name in SOLVERS and not overwrite:
        raise ValueError(f"name {name!r} is already registered; pass overwrite=True to replace it")
    SOLVERS[name] = solver
