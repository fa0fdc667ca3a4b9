"""Readout layers against hand computations; tracer registration; argument checks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikede._layers import ClassificationHead, VotingLayer
from spikede_fx import SNNLeafTracer, symbolic_trace_leaf_neurons


def test_voting_layer_matches_hand_computation():
    torch.manual_seed(0)
    x = torch.rand(3, 2, 12, dtype=torch.float64)
    out = VotingLayer(4)(x)
    assert out.shape == (3, 2, 3) and out.dtype == torch.float64
    for t in range(3):
        for b in range(2):
            for c in range(3):
                expected = sum(x[t, b, 4 * c + j].item() for j in range(4)) / 4
                assert out[t, b, c].item() == pytest.approx(expected, rel=1e-14)
    spikes = torch.tensor([[1.0, 1.0, 0.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    assert VotingLayer(3)(spikes).tolist() == [[2 / 3, 1 / 3]]
    assert torch.equal(VotingLayer(1)(x), x)


def test_voting_layer_gradient_is_one_over_group_size():
    x = torch.rand(5, 10, dtype=torch.float64, requires_grad=True)
    VotingLayer(5)(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.full_like(x, 0.2))


def test_voting_layer_remainder_strict_and_lenient():
    x = torch.arange(14, dtype=torch.float32).reshape(1, 14)
    with pytest.raises(ValueError, match="14 features, not a multiple of voting_size=4"):
        VotingLayer(4)(x)
    with pytest.warns(UserWarning, match="dropping the last 2 features"):
        out = VotingLayer(4, strict=False)(x)
    assert out.tolist() == [[1.5, 5.5, 9.5]]
    with pytest.raises(ValueError, match="fewer than voting_size=20"):
        VotingLayer(20, strict=False)(x)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: VotingLayer(0), ValueError, "voting_size"),
        (lambda: VotingLayer(2.0), TypeError, "voting_size"),
        (lambda: VotingLayer(True), TypeError, "voting_size"),
        (lambda: VotingLayer(2, strict="yes"), TypeError, "strict"),
        (lambda: ClassificationHead(0, 3), ValueError, "embed_dims"),
        (lambda: ClassificationHead(4, 0), ValueError, "num_classes"),
        (lambda: ClassificationHead(4, 2.5), TypeError, "num_classes"),
        (lambda: ClassificationHead(4, 2, bias=1), TypeError, "bias"),
        (lambda: ClassificationHead(4, 2, token_dim=-1), ValueError, "token_dim"),
        (lambda: ClassificationHead(4, 2, token_dim="1"), TypeError, "token_dim"),
    ],
)
def test_constructor_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_inputs():
    with pytest.raises(TypeError, match="floating-point"):
        VotingLayer(2)(torch.ones(4, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor"):
        VotingLayer(2)([1.0, 2.0])
    with pytest.raises(ValueError, match="at least one"):
        VotingLayer(1)(torch.tensor(1.0))
    with pytest.raises(ValueError, match="embed_dims=4"):
        ClassificationHead(4, 2)(torch.ones(3, 5))
    with pytest.raises(ValueError, match="token_dim=2"):
        ClassificationHead(4, 2, token_dim=2)(torch.ones(3, 5, 4))
    with pytest.raises(ValueError, match="token_dim=-4"):
        ClassificationHead(4, 2, token_dim=-4)(torch.ones(3, 5, 4))


def test_classification_head_matches_hand_computation():
    torch.manual_seed(1)
    head = ClassificationHead(6, 3).double()
    w, b = head.linear.weight.detach(), head.linear.bias.detach()
    x = torch.randn(4, 2, 6, dtype=torch.float64)
    out = head(x)
    assert out.shape == (4, 2, 3)
    for t in range(4):
        for i in range(2):
            for c in range(3):
                expected = sum(w[c, d].item() * x[t, i, d].item() for d in range(6)) + b[c].item()
                assert out[t, i, c].item() == pytest.approx(expected, rel=1e-12, abs=1e-14)
    pooled = ClassificationHead(6, 3, token_dim=1).double()
    pooled.load_state_dict(head.state_dict())
    tokens = torch.randn(2, 5, 6, dtype=torch.float64)
    torch.testing.assert_close(pooled(tokens), head(tokens.mean(dim=1)))
    assert ClassificationHead(6, 3, bias=False).linear.bias is None
    assert list(head.state_dict()) == ["linear.weight", "linear.bias"]


def test_layers_are_tracer_leaves():
    assert VotingLayer in SNNLeafTracer.leaf_types
    assert ClassificationHead in SNNLeafTracer.leaf_types
    model = nn.Sequential(nn.Linear(4, 6), VotingLayer(2), ClassificationHead(3, 2))
    gm = symbolic_trace_leaf_neurons(model)
    targets = [n.target for n in gm.graph.nodes if n.op == "call_module"]
    assert targets == ["0", "1", "2"]
    x = torch.randn(5, 4)
    torch.testing.assert_close(gm(x), model(x))
