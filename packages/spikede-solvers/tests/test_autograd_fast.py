"""once_differentiable_fast: the checked path under create_graph, direct otherwise."""

from __future__ import annotations

import pytest
import torch

from spikede_solvers import fdeint


def test_soe_and_full_history_gradients_and_double_backward() -> None:
    for options in ({"history": "soe"}, {}):
        y0 = torch.tensor([1.0, 0.5], dtype=torch.float64, requires_grad=True)
        t = torch.linspace(0, 1, 40, dtype=torch.float64)
        y = fdeint(lambda t, y: -y, y0, t, 0.6, "gl", options=options)
        (g,) = torch.autograd.grad(y[-1].sum(), y0)
        # Finite differences of the same solve, an independent check of the backward.
        eps = 1e-6
        with torch.no_grad():
            up = fdeint(lambda t, y: -y, y0 + eps, t, 0.6, "gl", options=options)[-1].sum()
            dn = fdeint(lambda t, y: -y, y0 - eps, t, 0.6, "gl", options=options)[-1].sum()
        assert torch.allclose(g.sum() , (up - dn) / (2 * eps), rtol=1e-6)
        # A second differentiation through the hand-written backward still raises.
        y = fdeint(lambda t, y: -y, y0, t, 0.6, "gl", options=options)
        (g,) = torch.autograd.grad(y[-1].sum(), y0, create_graph=True)
        with pytest.raises(RuntimeError, match="twice|once_differentiable|does not require grad"):
            torch.autograd.grad(g.sum(), y0)
