"""Multi-term Grünwald–Letnikov method (order 1).

For ``sum_i c_i D^{a_i} y = f`` with ``z_k = y_k - y0``:

    sum_i c_i h^{-a_i} sum_{j=0}^{n+1} w^{(i)}_j z_{n+1-j} = f(t_n, y_n),

solved for ``z_{n+1}``. The terms are combined once per solve into one weight vector
``W_j = sum_i c_i h^{-a_i} w^{(i)}_j``, so each step does one history sum:
``z_{n+1} = (f_n - sum_{j>=1} W_j z_{n+1-j}) / W_0``. With one term and ``c = 1`` this is
exactly the ``gl`` method. Single-term components are treated as one term with ``c = 1``.
The weights are combined in float64 and cast to the state's dtype. The grid must be
uniform.
"""

from __future__ import annotations

from spikede_solvers._base import Problem, Solver, Stepper
from spikede_solvers._gl import GLTypeStepper
from spikede_solvers._weights import gl_weights, wide

__all__ = ["GLMultiSolver"]


class GLMultiSolver(Solver):
    """Multi-term Grünwald–Letnikov method, order 1."""

    kind = "fractional"
    order = "1"
    streams = True
    multi_term = True

    def setup(self, problem: Problem) -> Stepper:
        n = max(problem.n_steps, 1)
        scales, coefs = [], []
        for comp in problem.components:
            if comp.coefficients is None:
                terms = [(comp.orders, None)]
            else:
                terms = [
                    (comp.orders[i], comp.coefficients[i]) for i in range(comp.orders.shape[0])
                ]
            dtype = comp.orders.dtype
            total = None
            for a, c in terms:
                a64 = wide(a)
                w = gl_weights(a64, n + 1) * a64.new_tensor(problem.h) ** -a64
                if c is not None:
                    w = w * wide(c)
                total = w if total is None else total + w
            w0 = total[0]
            scales.append((1.0 / w0).to(dtype))
            coefs.append((total[1:] / w0).to(dtype))
        return GLTypeStepper(problem, scales, coefs)
