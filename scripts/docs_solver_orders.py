"""Measure the tables of ``docs/guide/solvers.md``: orders, evaluations and history cost.

Everything is measured in float64 against exact solutions:

* fractional methods on the relaxation problem ``D^a y = -y``, ``y(0) = 1`` (exact
  ``E_a(-t^a)``, :func:`~spikede_solvers.mittag_leffler`) and on a smooth forced problem
  with the exact solution ``y = 1 + t^3``, for ``a = 0.3, 0.5, 0.8``: the least-squares
  slope of ``log |error at t = 1|`` against ``log h`` over four halvings of the step;
* fixed-grid integer-order methods on ``y' = -y`` the same way; the adaptive ones by the
  slope of ``log error`` against ``log`` (accepted steps) over a sweep of tolerances;
* field evaluations per step, counted in the field;
* the error that ``memory=M`` and ``history="soe"`` add to the full history, on the
  relaxation problem with ``a = 0.5`` over a long interval.

The script prints Markdown tables, which the guide shows as they are. Usage::

    python scripts/docs_solver_orders.py
"""

from __future__ import annotations

import math

import torch

from spikede_solvers import fdeint, mittag_leffler, odeint
from spikede_solvers._history import soe_terms  # the K a default soe solve picks

F64 = torch.float64
ALPHAS = (0.3, 0.5, 0.8)
FRACTIONAL = ("gl", "l1", "trap", "pred", "glmulti")
FIXED_ODE = ("euler", "midpoint", "rk4")
ADAPTIVE = ("dopri5", "bosh3")


def slope(errors: list[float], steps: list[int]) -> float:
    """Least-squares slope of ``log error`` against ``log(1 / steps)``."""
    x = [-math.log(n) for n in steps]
    y = [math.log(e) for e in errors]
    mx, my = sum(x) / len(x), sum(y) / len(y)
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / sum((a - mx) ** 2 for a in x)


class Counted:
    """A vector field that counts its evaluations."""

    def __init__(self, field):
        self.field, self.calls = field, 0

    def __call__(self, t, y):
        self.calls += 1
        return self.field(t, y)


def relaxation(t, y):
    return -y


def smooth(alpha: torch.Tensor):
    """``D^a y = -y + 6 t^(3-a) / Gamma(4-a) + 1 + t^3``, solved by ``y = 1 + t^3``."""

    def field(t, y):
        gamma = torch.exp(torch.lgamma(4.0 - alpha))
        return -y + 6.0 * t ** (3.0 - alpha) / gamma + 1.0 + t**3

    return field


def fractional_errors(method: str, field, exact: torch.Tensor, alpha: torch.Tensor,
                      steps: list[int]) -> tuple[list[torch.Tensor], float]:
    """Errors at ``t = 1`` per element (one order per element) and evaluations per step."""
    errors, per_step = [], 0.0
    for n in steps:
        t = torch.linspace(0.0, 1.0, n + 1, dtype=F64)
        counted = Counted(field)
        y = fdeint(counted, torch.ones(alpha.numel(), dtype=F64), t, alpha, method)
        errors.append((y[-1] - exact).abs())
        per_step = counted.calls / n
    return errors, per_step


def order_table() -> None:
    alpha = torch.tensor(ALPHAS, dtype=F64)
    relax_exact = torch.stack([mittag_leffler(a, torch.tensor(-1.0, dtype=F64)) for a in ALPHAS])
    smooth_exact = torch.full((len(ALPHAS),), 2.0, dtype=F64)
    head = " / ".join(str(a) for a in ALPHAS)
    print(f"| method | relaxation, a = {head} | smooth forced, a = {head} | "
          "field evaluations per step |")
    print("|---|---|---|---|")
    for method in FRACTIONAL:
        cells = []
        for field, exact, steps in (
            (relaxation, relax_exact, [80, 160, 320, 640]),
            (smooth(alpha), smooth_exact,
             [320, 640, 1280, 2560] if method == "l1" else [160, 320, 640, 1280]),
        ):
            errors, per_step = fractional_errors(method, field, exact, alpha, steps)
            orders = [slope([float(e[i]) for e in errors], steps) for i in range(len(ALPHAS))]
            cells.append(" / ".join(f"{p:.2f}" for p in orders))
        print(f"| `{method}` | {cells[0]} | {cells[1]} | {per_step:.2f} |")
    print()
    print("| method | measured order on y' = -y | field evaluations per step |")
    print("|---|---|---|")
    for method in FIXED_ODE:
        steps, errors = [10, 20, 40, 80], []
        for n in steps:
            t = torch.linspace(0.0, 1.0, n + 1, dtype=F64)
            counted = Counted(relaxation)
            y = odeint(counted, torch.ones(1, dtype=F64), t, method)
            errors.append(abs(float(y[-1, 0]) - math.exp(-1.0)))
        print(f"| `{method}` | {slope(errors, steps):.2f} | {counted.calls / n:.2f} |")
    for method in ADAPTIVE:
        t = torch.linspace(0.0, 10.0, 11, dtype=F64)
        accepted, errors, per_step = [], [], []
        for rtol in (1e-5, 1e-6, 1e-7, 1e-8, 1e-9):
            counted = Counted(relaxation)
            y, stats = odeint(counted, torch.ones(1, dtype=F64), t, method,
                              options={"rtol": rtol, "atol": rtol * 1e-3}, return_stats=True)
            accepted.append(stats["accepted"])
            errors.append(float((y[:, 0] - torch.exp(-t)).abs().max()))
            per_step.append(counted.calls / (stats["accepted"] + stats["rejected"]))
        print(f"| `{method}` | {slope(errors, accepted):.2f} (error against accepted steps, "
              f"{accepted[0]} to {accepted[-1]} steps) | {min(per_step):.2f} to "
              f"{max(per_step):.2f} |")


def history_table() -> None:
    alpha, n_steps, t_end = 0.5, 2000, 20.0
    t = torch.linspace(0.0, t_end, n_steps + 1, dtype=F64)
    y0 = torch.ones(1, dtype=F64)

    settings = [
        ("`memory=10`", {"memory": 10}, 10),
        ("`memory=100`", {"memory": 100}, 100),
        ("`memory=500`", {"memory": 500}, 500),
        # The default picks K from soe_tol (1e-8) for this N and alpha; window 8.
        ('`"soe"` (default: `soe_tol=1e-8`, window 8)', {"options": {"history": "soe"}},
         soe_terms("gl", n_steps + 1, alpha, dtype=F64) + 1 + 8),
        ('`"soe"` `soe_tol=1e-5`', {"options": {"history": "soe", "soe_tol": 1e-5}},
         soe_terms("gl", n_steps + 1, alpha, {"soe_tol": 1e-5}, dtype=F64) + 1 + 8),
        ('`"soe"` 24, 16', {"options": {"history": "soe", "soe_terms": 24, "soe_window": 16}},
         24 + 1 + 16),
        ('`"soe"` 8, 4', {"options": {"history": "soe", "soe_terms": 8, "soe_window": 4}},
         8 + 1 + 4),
        ('`"soe"` 4, 2', {"options": {"history": "soe", "soe_terms": 4, "soe_window": 2}},
         4 + 1 + 2),
    ]
    methods = ("gl", "l1", "trap", "pred")
    print(f"Maximum |y - y_full| over the grid, D^{alpha} y = -y, y(0) = 1, "
          f"t in [0, {t_end:g}], {n_steps} steps, float64; the full history reads up to "
          f"{n_steps + 1} terms per step.")
    print()
    print("| history | terms per step | " + " | ".join(f"`{m}`" for m in methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    full = {m: fdeint(relaxation, y0, t, alpha, m)[:, 0] for m in methods}
    for label, kwargs, rows in settings:
        cells = []
        for m in methods:
            y = fdeint(relaxation, y0, t, alpha, m, **kwargs)[:, 0]
            cells.append(f"{float((y - full[m]).abs().max()):.1e}")
        print(f"| {label} | {rows} | " + " | ".join(cells) + " |")
    print()
    exact = mittag_leffler(alpha, -(t**alpha))
    errors = [f"{float((fdeint(relaxation, y0, t, alpha, m)[:, 0] - exact).abs().max()):.1e}"
              for m in methods]
    print(f"For scale, the discretisation error of the full history on D^{alpha} y = -y "
          f"(same grid, against E_{alpha}): " + ", ".join(
              f"{m} {e}" for m, e in zip(methods, errors)) + ".")


if __name__ == "__main__":
    torch.set_num_threads(1)
    order_table()
    print()
    history_table()
