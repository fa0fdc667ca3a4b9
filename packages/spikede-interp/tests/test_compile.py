"""The query path traces as one graph (no host sync, no value branching) and is reused."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo

from spikede_interp import Interpolator

METHODS = ["linear", "nearest", "previous", "cubic", "akima"]


def make(shared: bool, method: str, seed: int) -> Interpolator:
    gen = torch.Generator().manual_seed(seed)
    grid = torch.cumsum(
        0.2 + torch.rand(3, 7, generator=gen, dtype=torch.float64), dim=1
    )
    x = torch.randn(7, 3, 2, generator=gen, dtype=torch.float64)
    return Interpolator(x, grid[0] if shared else grid, method)


def query(interp: Interpolator, t: torch.Tensor) -> torch.Tensor:
    return interp(t)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("batched_t", [False, True])
def test_fullgraph_compile_without_recompiles(method, shared, batched_t):
    torch._dynamo.reset()
    compiled = torch.compile(query, fullgraph=True, backend="eager")
    first, second = make(shared, method, 0), make(shared, method, 1)
    values = [0.3, 1.1, 2.9, 50.0, -4.0]

    def as_t(v: float) -> torch.Tensor:
        t = torch.tensor(v, dtype=torch.float64)
        return (
            t * torch.tensor([1.0, 0.9, 1.2], dtype=torch.float64) if batched_t else t
        )

    compiled(first, as_t(values[0]))
    # a new object built from other samples of the same shapes reuses the graph
    with torch._dynamo.config.patch(error_on_recompile=True):
        for interp in (first, second):
            for v in values:
                t = as_t(v)
                torch.testing.assert_close(
                    compiled(interp, t), interp(t), rtol=0, atol=0
                )


@pytest.mark.parametrize("method", ["linear", "akima"])
def test_aot_eager_compile_with_gradients(method):
    torch._dynamo.reset()
    gen = torch.Generator().manual_seed(2)
    grid = torch.cumsum(0.2 + torch.rand(7, generator=gen, dtype=torch.float64), dim=0)
    x = torch.randn(7, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    interp = Interpolator(x, grid, method)
    compiled = torch.compile(query, fullgraph=True, backend="aot_eager")
    t = torch.tensor(float(grid[2] + 0.3 * (grid[3] - grid[2])), dtype=torch.float64)
    # the coefficients are shared by both graphs: keep them for the second backward
    (g_compiled,) = torch.autograd.grad(
        compiled(interp, t).square().sum(), x, retain_graph=True
    )
    (g_eager,) = torch.autograd.grad(interp(t).square().sum(), x)
    torch.testing.assert_close(g_compiled, g_eager, rtol=1e-12, atol=1e-12)
