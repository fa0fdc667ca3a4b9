"""compile=True: same results as eager, compiled once and reused across calls."""

import copy

import pytest
from torch import nn

from spikede import LIFNeuron, SNNWrapper


@pytest.mark.slow
def test_compiled_vector_field_matches_eager_and_does_not_recompile():
    import torch._dynamo

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), LIFNeuron(), nn.Linear(8, 3), LIFNeuron())
    eager = SNNWrapper(copy.deepcopy(model), alpha=0.6)
    compiled = SNNWrapper(copy.deepcopy(model), alpha=0.6, compile=True)
    x = 3.0 * torch.rand(10, 2, 4)
    torch._dynamo.reset()
    compiled(x)  # the first training call also looks for silent layers (uncompiled)
    first = compiled(x)
    graphs_after_first = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    assert graphs_after_first >= 1, "compile=True must actually compile"
    for _ in range(3):
        again = compiled(3.0 * torch.rand(10, 2, 4))
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs_after_first
    assert again.shape == first.shape
    torch.testing.assert_close(first, eager(x))
    assert eager._compiled_graphs is None  # compile only when asked
