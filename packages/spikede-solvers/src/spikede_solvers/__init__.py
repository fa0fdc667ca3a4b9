"""spikede_solvers: fractional-order (Caputo) and integer-order ODE solvers in PyTorch.

Public API:

* :func:`fdeint` — Caputo ``D^alpha y = f(t, y)`` (single- and multi-term), methods
  ``gl``, ``l1``, ``trap``, ``pred``, ``glmulti``.
* :func:`odeint` — integer order, methods ``euler``, ``midpoint``, ``rk4``.
* :func:`snn_solve` / :class:`SNNSolution` — tuple states with per-component orders and
  boundary outputs recorded per step (used by the ``spikede`` package).
* :func:`mittag_leffler` — ``E_alpha(z)`` for real ``z <= 0``.
* :func:`graded_grid` — grids graded towards ``t0`` (for ``l1``, ``trap``, ``pred``).
* :data:`SOLVERS`, :func:`list_methods`, :func:`register_method`, and the base classes
  :class:`Solver`, :class:`Stepper`, :class:`Problem`, :class:`Component` to add methods.
"""

from spikede_solvers.__about__ import __version__
from spikede_solvers._base import Component, Problem, Solver, Stepper
from spikede_solvers._fdeint import fdeint
from spikede_solvers._graded_grid import graded_grid
from spikede_solvers._mittag_leffler import mittag_leffler
from spikede_solvers._odeint import odeint
from spikede_solvers._registry import SOLVERS, list_methods, register_method
from spikede_solvers._snn import SNNSolution, snn_solve

__all__ = [
    "SOLVERS",
    "Component",
    "Problem",
    "SNNSolution",
    "Solver",
    "Stepper",
    "__version__",
    "fdeint",
    "graded_grid",
    "list_methods",
    "mittag_leffler",
    "odeint",
    "register_method",
    "snn_solve",
]
