"""spikede_solvers: fractional-order (Caputo) and integer-order ODE solvers in PyTorch.

Public API:

* :func:`fdeint` — Caputo ``D^alpha y = f(t, y)`` (single- and multi-term), methods
  ``gl``, ``l1``, ``trap``, ``pred``, ``glmulti``.
* :func:`odeint` — integer order, methods ``euler``, ``midpoint``, ``rk4`` on the given
  grid, and the adaptive ``dopri5``, ``bosh3`` (:class:`AdaptiveSolver`, :class:`Tableau`).
* :func:`odeint_events` / :class:`Crossing` — adaptive integration with threshold
  crossings located in time on the dense output, the state mapped at each event.
* :func:`solve` / :class:`Solution` — the one fixed-grid entry point: a field
  ``func(t, y, args, step)`` that receives the step it serves, tuple states with
  per-component orders, and auxiliary outputs recorded per grid point.
* :class:`History` — a solve's saved history (``return_history=True``), from which a
  later solve continues (``initial_history=``): chunked solves equal one long solve.
* :func:`snn_solve` / :class:`SNNSolution` — deprecated form of :func:`solve`.
* :func:`mittag_leffler` — ``E_alpha(z)`` for real ``z <= 0``.
* :func:`graded_grid` — grids graded towards ``t0`` (for ``l1``, ``trap``, ``pred``).
* :data:`SOLVERS`, :func:`list_methods`, :func:`register_method`, :func:`check_options`,
  and the base classes :class:`Solver`, :class:`Stepper`, :class:`Problem`,
  :class:`Component`, :class:`Step` to add methods.
"""

from spikede_solvers.__about__ import __version__
from spikede_solvers._adaptive import AdaptiveSolver
from spikede_solvers._base import Component, Problem, Solver, Step, Stepper
from spikede_solvers._checks import check_options
from spikede_solvers._events import Crossing, odeint_events
from spikede_solvers._fdeint import fdeint
from spikede_solvers._graded_grid import graded_grid
from spikede_solvers._mittag_leffler import mittag_leffler
from spikede_solvers._odeint import odeint
from spikede_solvers._registry import SOLVERS, list_methods, register_method
from spikede_solvers._resume import History
from spikede_solvers._snn import SNNSolution, snn_solve
from spikede_solvers._solve import Solution, solve
from spikede_solvers._tableaus import Tableau

__all__ = [
    "SOLVERS",
    "AdaptiveSolver",
    "Component",
    "Crossing",
    "History",
    "Problem",
    "SNNSolution",
    "Solution",
    "Solver",
    "Step",
    "Stepper",
    "Tableau",
    "__version__",
    "check_options",
    "fdeint",
    "graded_grid",
    "list_methods",
    "mittag_leffler",
    "odeint",
    "odeint_events",
    "register_method",
    "snn_solve",
    "solve",
]
