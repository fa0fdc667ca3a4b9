"""Checkpoints of SNNWrapper: exact round trips, learned orders survive, clear mismatch errors."""

from __future__ import annotations

import copy
import io

import pytest
import torch
from torch import nn

from spikede import LIFNeuron, SNNWrapper


def _net(hidden: int = 6, layers: int = 2) -> nn.Sequential:
    mods: list[nn.Module] = [nn.Linear(3, hidden), LIFNeuron(tau=2.0, threshold=0.3)]
    for _ in range(layers - 1):
        mods += [nn.Linear(hidden, hidden), LIFNeuron(tau=2.0, threshold=0.3)]
    mods.append(nn.Linear(hidden, 2))
    return nn.Sequential(*mods)


def _trained(**kwargs: object) -> tuple[SNNWrapper, torch.Tensor]:
    torch.manual_seed(0)
    snn = SNNWrapper(_net(), **kwargs)  # type: ignore[arg-type]
    x = torch.rand(8, 4, 3)
    target = torch.randn(8, 4, 2)
    opt = torch.optim.Adam(snn.parameters(), lr=0.05)
    for _ in range(3):
        opt.zero_grad()
        loss = ((snn(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
    return snn, x


def _roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


CONFIGS = [
    pytest.param({"alpha": [0.4, 0.8], "alpha_mode": "per_layer", "learn_alpha": True}, id="per_layer"),
    pytest.param(
        {
            "alpha": [0.3, 0.7],
            "alpha_mode": "multiterm",
            "multi_coefficient": [1.0, 0.5],
            "learn_alpha": True,
            "learn_coefficient": True,
        },
        id="multiterm",
    ),
    pytest.param({"alpha": [[0.5, 0.9], [0.6]], "learn_alpha": [True, False]}, id="nested"),
]


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_trained_wrapper_reloads_bit_identical(kwargs: dict) -> None:
    snn, x = _trained(**kwargs)
    alphas = snn.get_per_layer_alpha()
    coefs = snn.get_per_layer_coefficient()
    # training moved the learnable orders away from their initial values
    init = SNNWrapper(_net(), **kwargs).get_per_layer_alpha()
    assert any(not torch.equal(a, b) for a, b in zip(alphas, init))
    fresh = SNNWrapper(_net(), **kwargs)
    fresh.load_state_dict(_roundtrip(snn.state_dict()))
    with torch.no_grad():
        assert torch.equal(fresh(x), snn(x))
    for a, b in zip(fresh.get_per_layer_alpha(), alphas):
        assert torch.equal(a, b)
    for a, b in zip(fresh.get_per_layer_coefficient(), coefs):
        assert torch.equal(a, b)
    assert list(fresh.state_dict()) == list(snn.state_dict())


def test_checkpoint_of_wrapper_nested_in_a_module() -> None:
    snn, x = _trained(alpha=0.6, learn_alpha=True)
    outer = nn.ModuleDict({"snn": snn})
    other = nn.ModuleDict({"snn": SNNWrapper(_net(), alpha=0.6, learn_alpha=True)})
    other.load_state_dict(outer.state_dict())
    with torch.no_grad():
        assert torch.equal(other["snn"](x), snn(x))


def test_deepcopy_and_pickle_keep_outputs() -> None:
    snn, x = _trained(alpha=0.7, learn_alpha=True)
    twin = copy.deepcopy(snn)
    buf = io.BytesIO()
    torch.save(snn, buf)
    buf.seek(0)
    unpickled = torch.load(buf, weights_only=False)
    with torch.no_grad():
        ref = snn(x)
        assert torch.equal(twin(x), ref)
        assert torch.equal(unpickled(x), ref)


# Learnability is how a wrapper is built, not what a checkpoint holds (the state names are
# orders.{i}.order / orders.{i}.coefficient either way): these load, with the same values.
CROSS_LEARNABILITY = [
    pytest.param({"alpha": 0.6, "learn_alpha": True}, {"alpha": 0.6}, id="learnable-into-fixed"),
    pytest.param({"alpha": 0.6}, {"alpha": 0.6, "learn_alpha": True}, id="fixed-into-learnable"),
    pytest.param(
        {"alpha": [0.3, 0.6], "alpha_mode": "multiterm", "learn_coefficient": True},
        {"alpha": [0.3, 0.6], "alpha_mode": "multiterm"},
        id="coefficients",
    ),
]


@pytest.mark.parametrize(("saved", "built"), CROSS_LEARNABILITY)
def test_checkpoint_loads_across_learnability(saved: dict, built: dict) -> None:
    src, x = _trained(**saved)
    dst = SNNWrapper(_net(), **built)
    learnable = sorted(name for name, _ in dst.named_parameters() if name.startswith("orders."))
    dst.load_state_dict(_roundtrip(src.state_dict()))
    with torch.no_grad():
        assert torch.equal(dst(x), src(x))
    for a, b in zip(dst.get_per_layer_alpha(), src.get_per_layer_alpha()):
        assert torch.equal(a, b)
    for a, b in zip(dst.get_per_layer_coefficient(), src.get_per_layer_coefficient()):
        assert torch.equal(a, b)
    # learnable or fixed as built
    assert sorted(name for name, _ in dst.named_parameters() if name.startswith("orders.")) == learnable


MISMATCHES = [
    pytest.param({"alpha": 0.6}, {"alpha": 0.6}, 3, "orders for 2 neuron layer(s)", id="layer-count"),
    pytest.param(
        {"alpha": 0.6}, {"alpha": [0.3, 0.6], "alpha_mode": "multiterm"}, 2, "1 order term(s)", id="scalar-vs-multiterm"
    ),
    pytest.param(
        {"alpha": [0.3, 0.6], "alpha_mode": "multiterm", "learn_coefficient": True},
        {"alpha": [[0.3, 0.6], [0.2, 0.5, 0.9]]},
        2,
        "layer 1: the checkpoint has 2 order term(s) but this wrapper has 3",
        id="term-count",
    ),
]



@pytest.mark.parametrize(("saved", "built", "layers", "fragment"), MISMATCHES)
def test_mismatched_checkpoint_raises_clear_error(saved: dict, built: dict, layers: int, fragment: str) -> None:
    torch.manual_seed(1)
    src = SNNWrapper(_net(layers=2), **saved)
    dst = SNNWrapper(_net(layers=layers), **built)
    before = {k: v.clone() for k, v in dst.state_dict().items()}
    with pytest.raises(ValueError, match="does not match this SNNWrapper") as info:
        dst.load_state_dict(src.state_dict())
    assert fragment in str(info.value)
    # nothing was loaded
    for k, v in dst.state_dict().items():
        assert torch.equal(v, before[k])
