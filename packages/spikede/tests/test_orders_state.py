"""State of the orders: fixed names, the stored-number map, old checkpoints, input hygiene.

The files ``data/legacy_*.pt`` are ``state_dict`` checkpoints written by spikede 0.1.0
(main at 28710a7, names ``alpha_raw``/``alpha_value``/``coefficient_log``/
``coefficient_value``), and ``data/legacy_expected.pt`` holds, per checkpoint, the input,
the output and the orders/weights that code gave. They were made, in ``data/``, by::

    import torch
    from torch import nn
    from spikede import LIFNeuron, SNNWrapper

    CONFIGS = {  # the same dict as LEGACY below
        "scalar_fixed": {"alpha": 0.6},
        "scalar_learnable": {"alpha": 0.7, "learn_alpha": True},
        "learnable_one": {"alpha": 1.0, "learn_alpha": True},
        "per_layer": {"alpha": [0.4, 0.8], "alpha_mode": "per_layer", "learn_alpha": [True, False]},
        "multiterm": {"alpha": [0.3, 0.7], "alpha_mode": "multiterm", "multi_coefficient": [1.0, 0.5],
                      "learn_alpha": True, "learn_coefficient": True},
        "nested_fixed": {"alpha": [[0.5, 0.9], [0.6]], "multi_coefficient": [[1.0, 0.25], [2.0]]},
    }

    def net():
        return nn.Sequential(nn.Linear(3, 6), LIFNeuron(tau=2.0, threshold=0.2), nn.Linear(6, 6),
                             LIFNeuron(tau=2.0, threshold=0.2), nn.Linear(6, 2))

    expected = {}
    for k, (name, kwargs) in enumerate(CONFIGS.items()):
        torch.manual_seed(k)
        snn = SNNWrapper(net(), **kwargs)
        x = 2.0 * torch.rand(10, 4, 3)
        opt = torch.optim.Adam(snn.parameters(), lr=0.05)
        for _ in range(3):
            opt.zero_grad()
            ((snn(x) - 0.3) ** 2).mean().backward()
            opt.step()
        with torch.no_grad():
            out = snn(x)
        torch.save(snn.state_dict(), f"legacy_{name}.pt")
        expected[name] = {"x": x, "out": out, "alpha": snn.get_per_layer_alpha(),
                          "coefficient": snn.get_per_layer_coefficient()}
    torch.save(expected, "legacy_expected.pt")

(both neuron layers fired on 10-49% of the steps of every configuration).
"""

from __future__ import annotations

import doctest
import inspect
import io
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import spikede._alpha
from spikede import LIFNeuron, SNNWrapper
from spikede._alpha import order_from_raw, raw_from_order

DATA = Path(__file__).resolve().parent / "data"

LEGACY = {
    "scalar_fixed": {"alpha": 0.6},
    "scalar_learnable": {"alpha": 0.7, "learn_alpha": True},
    "learnable_one": {"alpha": 1.0, "learn_alpha": True},
    "per_layer": {"alpha": [0.4, 0.8], "alpha_mode": "per_layer", "learn_alpha": [True, False]},
    "multiterm": {
        "alpha": [0.3, 0.7],
        "alpha_mode": "multiterm",
        "multi_coefficient": [1.0, 0.5],
        "learn_alpha": True,
        "learn_coefficient": True,
    },
    "nested_fixed": {"alpha": [[0.5, 0.9], [0.6]], "multi_coefficient": [[1.0, 0.25], [2.0]]},
}

#: (wrapper kwargs, terms per layer) for every alpha mode and learnable flag.
MODES = {
    "scalar": ({"alpha": 0.6}, [1, 1]),
    "scalar-learn": ({"alpha": 0.6, "learn_alpha": True}, [1, 1]),
    "per_layer": ({"alpha": [0.4, 0.8], "alpha_mode": "per_layer", "learn_alpha": [True, False]}, [1, 1]),
    "multiterm": ({"alpha": [0.3, 0.7], "alpha_mode": "multiterm", "multi_coefficient": [1.0, 0.5]}, [2, 2]),
    "multiterm-learn": (
        {"alpha": [0.3, 0.7], "alpha_mode": "multiterm", "learn_alpha": True, "learn_coefficient": True},
        [2, 2],
    ),
    "nested": ({"alpha": [[0.5, 0.9], [0.6]], "learn_coefficient": [False, True]}, [2, 1]),
    "odeint": ({"integrator": "odeint"}, [1, 1]),
}
DTYPES = [torch.float32, torch.float64]


def _net(threshold: float = 0.2) -> nn.Sequential:
    net = nn.Sequential(
        nn.Linear(3, 6),
        LIFNeuron(tau=2.0, threshold=threshold),
        nn.Linear(6, 6),
        LIFNeuron(tau=2.0, threshold=threshold),
        nn.Linear(6, 2),
    )
    with torch.no_grad():  # a drive that makes both layers spike on a good part of the steps
        for lin in (net[0], net[2]):
            lin.weight.uniform_(-0.3, 0.6)
            lin.bias.uniform_(-0.1, 0.1)
    return net


def _build(kwargs: dict, dtype: torch.dtype = torch.float32, seed: int = 0, threshold: float = 0.2) -> SNNWrapper:
    """The wrapper built with ``dtype`` as the default dtype (orders made in it, not cast)."""
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        return SNNWrapper(_net(threshold), **kwargs)
    finally:
        torch.set_default_dtype(previous)


def _roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _spike_rates(snn: SNNWrapper, x: torch.Tensor) -> list[float]:
    """Fraction of (step, neuron) pairs that spiked, per neuron layer."""
    seen: dict[int, list[float]] = {}
    hooks = [
        m.register_forward_hook(lambda m, i, o, k=k: seen.setdefault(k, []).append(float(o[1].mean())))
        for k, m in enumerate(mod for mod in snn.model if isinstance(mod, LIFNeuron))
    ]
    try:
        with torch.no_grad():
            snn(x)
    finally:
        for h in hooks:
            h.remove()
    return [sum(v) / len(v) for _, v in sorted(seen.items())]


# ---------------------------------------------------------------------- names
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_state_names_are_fixed_and_learnability_is_parameter_or_buffer(mode: str, dtype: torch.dtype) -> None:
    kwargs, terms = MODES[mode]
    snn = _build(kwargs, dtype)
    order_keys = sorted(k for k in snn.state_dict() if k.startswith("orders."))
    assert order_keys == ["orders.0.coefficient", "orders.0.order", "orders.1.coefficient", "orders.1.order"]
    flags_a = kwargs.get("learn_alpha", False)
    flags_c = kwargs.get("learn_coefficient", False)
    flags_a = [flags_a] * 2 if isinstance(flags_a, bool) else flags_a
    flags_c = [flags_c] * 2 if isinstance(flags_c, bool) else flags_c
    params = {k for k, _ in snn.named_parameters() if k.startswith("orders.")}
    buffers = {k for k, _ in snn.named_buffers() if k.startswith("orders.")}
    for i in range(2):
        assert (f"orders.{i}.order" in params) == flags_a[i] != (f"orders.{i}.order" in buffers)
        assert (f"orders.{i}.coefficient" in params) == flags_c[i] != (f"orders.{i}.coefficient" in buffers)
        assert snn.orders[i].order.shape == (terms[i],) and snn.orders[i].order.dtype == dtype
        assert snn.orders[i].coefficient.shape == (terms[i],)
    # the optimizer built right away sees exactly the learnable ones
    opt = torch.optim.SGD(snn.parameters(), lr=0.1)
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    named = dict(snn.named_parameters())
    assert {k for k in params if id(named[k]) in in_opt} == params
    # freezing and unfreezing the whole module does not make a fixed order learnable
    snn.requires_grad_(False).requires_grad_(True)
    assert {k for k, _ in snn.named_parameters() if k.startswith("orders.")} == params


def test_alpha_info_reports_learnability() -> None:
    info = _build({"alpha": [0.4, 0.8], "alpha_mode": "per_layer", "learn_alpha": [True, False]}).alpha_info()
    lines = info.splitlines()
    assert "learnable alpha" in lines[1] and "learnable" not in lines[2]


# ---------------------------------------------------------------------- the map
@pytest.mark.parametrize("dtype", DTYPES)
def test_fixed_orders_and_weights_are_stored_as_themselves_bit_for_bit(dtype: torch.dtype) -> None:
    values = [0.1, 0.2, 0.35, 0.5, 0.6, 0.7, 0.9, 0.999, 1.0]
    weights = [0.1, 0.5, 1.0, 2.0, 3.7, 100.0, 0.25, 1.5, 7.0]
    snn = _build({"alpha": [values, [0.6]], "multi_coefficient": [weights, [1.0]]}, dtype)
    expected_a = torch.tensor(values, dtype=dtype)
    expected_c = torch.tensor(weights, dtype=dtype)
    assert torch.equal(snn.orders[0].order, expected_a) and torch.equal(snn.orders[0].alpha(), expected_a)
    assert torch.equal(snn.orders[0].coefficient, expected_c)
    assert torch.equal(snn.orders[0].coefficients(), expected_c)
    assert torch.equal(snn.get_per_layer_coefficient()[0], expected_c)
    # orders and weights below 0.1 are stored elsewhere and come back to rounding
    small = _build({"alpha": [[0.05, 0.01], [0.6]], "multi_coefficient": [[0.02, 1.0], [1.0]]}, dtype)
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(small.orders[0].alpha(), torch.tensor([0.05, 0.01], dtype=dtype), rtol=8 * eps, atol=0)
    torch.testing.assert_close(
        small.orders[0].coefficients(), torch.tensor([0.02, 1.0], dtype=dtype), rtol=8 * eps, atol=0
    )


def test_order_map_by_hand() -> None:
    raw = torch.tensor([-1.8, -0.2, 0.0, 0.1, 0.45, 1.0, 1.3, 1.9, 2.2, 3.0], dtype=torch.float64)
    # identity on [0.1, 1]; 2 - r past 1; 0.01 / (0.2 - q) below 0.1, q the reflected number
    by_hand = [0.01 / 2.0, 0.01 / 0.4, 0.01 / 0.2, 0.1, 0.45, 1.0, 0.7, 0.1, 0.01 / 0.4, 0.01 / 1.2]
    torch.testing.assert_close(order_from_raw(raw), torch.tensor(by_hand, dtype=torch.float64), rtol=1e-14, atol=0)
    # the inverse on (-inf, 1]
    below = raw[raw <= 1.0]
    torch.testing.assert_close(raw_from_order(order_from_raw(below)), below, rtol=0, atol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_order_map_stays_in_range_for_any_stored_number(dtype: torch.dtype) -> None:
    raw = torch.cat([torch.linspace(-1e6, 1e6, 10001, dtype=dtype), torch.tensor([1.0, 1.0 + 1e-7, 2.0, -1e30, 1e30], dtype=dtype)])
    a = order_from_raw(raw)
    assert bool(((a > 0) & (a <= 1)).all())


def test_order_map_gradient_is_one_at_alpha_one_and_continuous() -> None:
    r = torch.tensor([1.0, 0.5, 0.1], dtype=torch.float64, requires_grad=True)
    order_from_raw(r).sum().backward()
    assert r.grad.tolist() == [1.0, 1.0, 1.0]
    # value and slope continuous where the tail joins (0.1) and through the reflection (1)
    for point in (0.1, 1.0):
        h = 1e-7
        left, mid, right = order_from_raw(torch.tensor([point - h, point, point + h], dtype=torch.float64)).tolist()
        assert abs(left - mid) < 2e-7 and abs(right - mid) < 2e-7
    h = 1e-6
    lo, hi = order_from_raw(torch.tensor([0.1 - 2 * h, 0.1 - h], dtype=torch.float64)).tolist()
    assert abs((hi - lo) / h - 1.0) < 1e-4
    # smooth pieces: gradcheck away from the joins
    pts = torch.tensor([-3.0, -0.4, 0.05, 0.3, 0.8, 1.2, 1.7, 2.5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(order_from_raw, (pts,))


# ---------------------------------------------------------------------- old checkpoints
@pytest.mark.parametrize("name", LEGACY)
def test_legacy_checkpoint_loads_with_the_same_orders_and_outputs(name: str) -> None:
    expected = torch.load(DATA / "legacy_expected.pt", weights_only=True)[name]
    state = torch.load(DATA / f"legacy_{name}.pt", weights_only=True)
    assert any(k.endswith(("alpha_raw", "alpha_value")) for k in state)  # really the old names
    snn = _build(LEGACY[name], seed=99)
    snn.load_state_dict(state)
    for a, b in zip(snn.get_per_layer_alpha(), expected["alpha"]):
        assert torch.equal(a, b)
    for a, b in zip(snn.get_per_layer_coefficient(), expected["coefficient"]):
        assert torch.equal(a, b)
    with torch.no_grad():
        assert torch.equal(snn(expected["x"]), expected["out"])
    rates = _spike_rates(snn, expected["x"])
    assert all(0.05 < r < 0.95 for r in rates), rates
    assert sorted(k for k in snn.state_dict() if k.startswith("orders.")) == [
        "orders.0.coefficient", "orders.0.order", "orders.1.coefficient", "orders.1.order"
    ]
    # and it round-trips under the new names into another fresh wrapper
    again = _build(LEGACY[name], seed=5)
    again.load_state_dict(_roundtrip(snn.state_dict()))
    with torch.no_grad():
        assert torch.equal(again(expected["x"]), expected["out"])


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_checkpoint_loads_into_a_float64_wrapper(name: str) -> None:
    expected = torch.load(DATA / "legacy_expected.pt", weights_only=True)[name]
    snn = _build(LEGACY[name], torch.float64, seed=99)
    snn.load_state_dict(torch.load(DATA / f"legacy_{name}.pt", weights_only=True))
    for a, b in zip(snn.get_per_layer_alpha(), expected["alpha"]):
        assert a.dtype == torch.float64
        torch.testing.assert_close(a, b.double(), rtol=0, atol=0)
    for a, b in zip(snn.get_per_layer_coefficient(), expected["coefficient"]):
        torch.testing.assert_close(a, b.double(), rtol=0, atol=0)


def test_legacy_learnable_order_one_can_now_move() -> None:
    # 0.1.0 stored alpha = 1 as sigmoid(13.8) = 1 - 1e-6, where d alpha / d raw was 1e-6:
    # five Adam steps of 0.05 on the raw number moved the order by about 1e-6.
    snn = _build(LEGACY["learnable_one"])
    snn.load_state_dict(torch.load(DATA / "legacy_learnable_one.pt", weights_only=True))
    start = [float(a) for a in snn.get_per_layer_alpha()]
    assert all(0.999 < a < 1.0 for a in start)
    opt = torch.optim.Adam(snn.parameters(), lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        sum(((layer.alpha() - 0.7) ** 2).sum() for layer in snn.orders).backward()
        opt.step()
    moved = [s - float(a) for s, a in zip(start, snn.get_per_layer_alpha())]
    assert all(0.2 < m < 0.3 for m in moved), moved  # about 5 x 0.05


def test_legacy_checkpoint_with_other_layer_or_term_count_is_refused() -> None:
    state = torch.load(DATA / "legacy_nested_fixed.pt", weights_only=True)
    three = SNNWrapper(nn.Sequential(nn.Linear(3, 6), LIFNeuron(), nn.Linear(6, 6), LIFNeuron(), nn.Linear(6, 6), LIFNeuron()))
    with pytest.raises(ValueError, match=r"orders for 2 neuron layer\(s\) but this SNNWrapper's model has 3"):
        three.load_state_dict(state)
    other_terms = _build({"alpha": [[0.5, 0.9], [0.6, 0.8]]})
    before = {k: v.clone() for k, v in other_terms.state_dict().items()}
    with pytest.raises(ValueError, match=r"layer 1: the checkpoint has 1 order term\(s\) but this wrapper has 2"):
        other_terms.load_state_dict(state)
    assert all(torch.equal(v, before[k]) for k, v in other_terms.state_dict().items())


# ---------------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_round_trip_into_a_freshly_built_wrapper(mode: str, dtype: torch.dtype) -> None:
    kwargs, _ = MODES[mode]
    snn = _build(kwargs, dtype, seed=3)
    with torch.no_grad():  # stored numbers off the identity range too: reflected, in the tail
        for layer, shift in zip(snn.orders, (0.45, -0.55)):
            if kwargs.get("integrator") != "odeint":
                layer.order.add_(shift)
                layer.coefficient.sub_(0.3 * layer.coefficient)
    g = torch.Generator().manual_seed(4)
    x = 2.0 * torch.rand(10, 4, 3, generator=g, dtype=dtype)
    fresh = _build(kwargs, dtype, seed=11)
    fresh.load_state_dict(_roundtrip(snn.state_dict()))
    with torch.no_grad():
        assert torch.equal(fresh(x), snn(x))
    for a, b in zip(fresh.get_per_layer_alpha(), snn.get_per_layer_alpha()):
        assert torch.equal(a, b) and bool(((a > 0) & (a <= 1)).all())
    for a, b in zip(fresh.get_per_layer_coefficient(), snn.get_per_layer_coefficient()):
        assert torch.equal(a, b)
    rates = _spike_rates(snn, x)
    assert all(0.05 < r < 0.95 for r in rates), rates


# ---------------------------------------------------------------------- hygiene
def test_tensor_alpha_that_requires_grad_is_refused() -> None:
    with pytest.raises(ValueError, match=r"alpha is a tensor that requires grad.*pass learn_alpha=True"):
        _build({"alpha": torch.tensor(0.6, requires_grad=True)})
    with pytest.raises(ValueError, match=r"alpha\[0\] is a tensor that requires grad.*learn_alpha=True"):
        _build({"alpha": [torch.tensor(0.4, requires_grad=True), 0.8], "alpha_mode": "per_layer"})
    with pytest.raises(ValueError, match=r"alpha is a tensor that requires grad"):
        _build({"alpha": torch.tensor([[0.5, 0.9], [0.6, 0.7]], requires_grad=True), "learn_alpha": True})
    with pytest.raises(ValueError, match=r"multi_coefficient is a tensor that requires grad.*learn_coefficient=True"):
        _build({"alpha": [0.3, 0.7], "alpha_mode": "multiterm", "multi_coefficient": torch.ones(2, requires_grad=True)})


@pytest.mark.parametrize("dtype", DTYPES)
def test_tensor_alpha_without_grad_is_taken_as_its_value(dtype: torch.dtype) -> None:
    snn = _build({"alpha": torch.tensor(0.6, dtype=dtype), "learn_alpha": True}, dtype)
    assert torch.equal(snn.get_per_layer_alpha()[0], torch.tensor(0.6, dtype=dtype))
    given = torch.tensor([0.3, 0.9], dtype=dtype)
    fixed = _build({"alpha": given, "alpha_mode": "per_layer"}, dtype)
    assert [float(a) for a in fixed.get_per_layer_alpha()] == given.tolist()


def test_odeint_warns_when_alpha_or_weights_are_given() -> None:
    with pytest.warns(UserWarning, match=r"integrator='odeint'.*does not use alpha=0.6"):
        _build({"integrator": "odeint", "alpha": 0.6})
    with pytest.warns(UserWarning, match=r"does not use alpha=0.5"):  # the default's value, given
        _build({"integrator": "odeint", "alpha": 0.5})
    with pytest.warns(UserWarning, match=r"does not use multi_coefficient=\[1.0, 2.0\]"):
        _build({"integrator": "odeint", "multi_coefficient": [1.0, 2.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        snn = _build({"integrator": "odeint"})
        _build({"alpha": 0.5})  # fdeint with the default's value: no warning
    assert [float(a) for a in snn.get_per_layer_alpha()] == [1.0, 1.0]


def test_default_alpha_is_still_plain_half() -> None:
    default = inspect.signature(SNNWrapper).parameters["alpha"].default
    assert default == 0.5 and isinstance(default, float) and repr(default) == "0.5"
    assert [float(a) for a in _build({}).get_per_layer_alpha()] == [0.5, 0.5]


def _no_spike_loss(snn: SNNWrapper, x: torch.Tensor, target: list[torch.Tensor]) -> torch.Tensor:
    _, states = snn(x, return_states=True)
    return sum(((s - t) ** 2).mean() for s, t in zip(states, target))


@pytest.mark.parametrize("dtype", DTYPES)
def test_learnable_order_started_at_one_moves(dtype: torch.dtype) -> None:
    # No spikes (threshold 1e3): the membranes are smooth in alpha. The target is the
    # same network at alpha = 0.7, so the loss pulls the orders down from 1.
    g = torch.Generator().manual_seed(2)
    x = 2.0 * torch.rand(12, 4, 3, generator=g, dtype=dtype)
    with torch.no_grad():
        _, target = _build({"alpha": 0.7}, dtype, seed=1, threshold=1e3)(x, return_states=True)
    snn = _build({"alpha": 1.0, "learn_alpha": True}, dtype, seed=1, threshold=1e3)
    assert [float(a) for a in snn.get_per_layer_alpha()] == [1.0, 1.0]
    opt = torch.optim.Adam([layer.order for layer in snn.orders], lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        _no_spike_loss(snn, x, list(target)).backward()
        opt.step()
    after = [float(a) for a in snn.get_per_layer_alpha()]
    # with the 0.1.0 sigmoid the same five steps moved it by about 1e-6
    assert all(a < 0.85 for a in after), after
    assert all(0.0 < a <= 1.0 for a in after)


def test_gradient_of_an_order_at_one_matches_a_finite_difference() -> None:
    g = torch.Generator().manual_seed(2)
    x = 2.0 * torch.rand(12, 4, 3, generator=g, dtype=torch.float64)
    with torch.no_grad():
        _, target = _build({"alpha": 0.7}, torch.float64, seed=1, threshold=1e3)(x, return_states=True)
    snn = _build({"alpha": [1.0, 0.8], "alpha_mode": "per_layer", "learn_alpha": True}, torch.float64, 1, 1e3)
    _no_spike_loss(snn, x, list(target)).backward()
    grad = snn.orders[0].order.grad.item()
    eps = 1e-6  # one-sided: the order cannot exceed 1
    with torch.no_grad():
        lower = _no_spike_loss(_build({"alpha": [1.0 - eps, 0.8], "alpha_mode": "per_layer"}, torch.float64, 1, 1e3), x, list(target))
        at_one = _no_spike_loss(_build({"alpha": [1.0, 0.8], "alpha_mode": "per_layer"}, torch.float64, 1, 1e3), x, list(target))
    fd = float(at_one - lower) / eps
    assert abs(fd) > 1e-3
    assert abs(grad - fd) < 1e-4 * abs(fd) + 1e-8, (grad, fd)


def test_learnable_orders_stay_in_range_under_wild_steps() -> None:
    snn = _build({"alpha": [0.3, 1.0], "alpha_mode": "per_layer", "learn_alpha": True, "learn_coefficient": True})
    opt = torch.optim.SGD(snn.parameters(), lr=50.0)
    x = torch.rand(6, 2, 3)
    for sign in (1.0, -1.0, 1.0, -1.0):
        opt.zero_grad()
        (sign * sum(layer.alpha().sum() + layer.coefficients().sum() for layer in snn.orders)).backward()
        opt.step()
        for layer in snn.orders:
            assert bool(((layer.alpha() > 0) & (layer.alpha() <= 1)).all()) and bool((layer.coefficients() > 0).all())
    assert torch.isfinite(snn(x)).all()


# ---------------------------------------------------------------------- doctests
def test_alpha_module_doctests() -> None:
    result = doctest.testmod(spikede._alpha, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
