"""SNNWrapper against hand-written discrete-time references and its lifecycle contract."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

from spikede import LIFNeuron, PerLayerAlphaConfig, SNNWrapper


def mlp(seed: int = 0, n_in: int = 6, hidden: int = 10, n_out: int = 4, tau: float = 2.0) -> nn.Sequential:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(n_in, hidden), LIFNeuron(tau=tau), nn.Linear(hidden, n_out), LIFNeuron(tau=tau)
    )
    with torch.no_grad():  # a drive strong enough to make both layers spike often
        for lin in (model[0], model[2]):
            lin.weight.uniform_(-0.3, 1.0)
            lin.bias.uniform_(0.0, 0.3)
    return model


def discrete_lif_loop(model: nn.Sequential, x: torch.Tensor, tau: float, threshold: float = 1.0):
    """The standard discrete-time LIF (decay_input, soft reset), written out by hand."""
    lin1, lin2 = model[0], model[2]
    v1 = torch.zeros(x.shape[1], lin1.out_features, dtype=x.dtype)
    v2 = torch.zeros(x.shape[1], lin2.out_features, dtype=x.dtype)
    spikes, mem1 = [], []
    for t in range(x.shape[0]):
        mem1.append(v1)
        u1 = v1 + (lin1(x[t]) - v1) / tau
        s1 = (u1 >= threshold).to(x.dtype)
        v1 = u1 - threshold * s1
        u2 = v2 + (lin2(s1) - v2) / tau
        s2 = (u2 >= threshold).to(x.dtype)
        v2 = u2 - threshold * s2
        spikes.append(s2)
    return torch.stack(spikes), torch.stack(mem1)


def drive(T: int = 30, B: int = 3, F: int = 6, seed: int = 1, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 3.0 * torch.rand(T, B, F, generator=g, dtype=dtype)


@pytest.mark.parametrize(
    "integrator,method,alpha",
    [("odeint", "euler", 0.5), ("fdeint", "gl", 1.0), ("fdeint", "glmulti", 1.0), ("fdeint", "pred", 1.0)],
)
def test_alpha_one_equals_discrete_lif_loop_spike_for_spike(integrator, method, alpha):
    model = mlp().double()
    x = drive()
    ref_spikes, ref_mem = discrete_lif_loop(model, x, tau=2.0)
    snn = SNNWrapper(copy.deepcopy(model), integrator=integrator, method=method, alpha=alpha)
    out, states = snn(x, return_states=True)
    assert out.shape == ref_spikes.shape
    assert ref_spikes.sum() > 10, "the drive must make the network spike"
    assert torch.equal(out, ref_spikes)
    torch.testing.assert_close(states[0], ref_mem, rtol=0, atol=1e-12)


def test_fractional_order_changes_the_dynamics():
    model = mlp().double()
    x = drive()
    out1 = SNNWrapper(copy.deepcopy(model), alpha=1.0)(x)
    out05 = SNNWrapper(copy.deepcopy(model), alpha=0.5)(x)
    assert not torch.equal(out1, out05)


def test_per_layer_alpha_matches_single_layer_solves():
    model = mlp().double()
    x = drive(T=25)
    a1, a2 = 0.4, 0.8
    snn = SNNWrapper(copy.deepcopy(model), alpha=[a1, a2], alpha_mode="per_layer")
    out, states = snn(x, return_states=True)

    layer1 = SNNWrapper(nn.Sequential(copy.deepcopy(model[0]), LIFNeuron(tau=2.0)), alpha=a1)
    spikes1, st1 = layer1(x, return_states=True)
    torch.testing.assert_close(states[0], st1[0], rtol=0, atol=1e-12)

    # layer 2 alone, driven by layer 1's spikes (evaluated at the sample times: exact)
    layer2 = SNNWrapper(nn.Sequential(copy.deepcopy(model[2]), LIFNeuron(tau=2.0)), alpha=a2)
    spikes2, st2 = layer2(spikes1, return_states=True)
    torch.testing.assert_close(states[1], st2[0], rtol=0, atol=1e-12)
    assert torch.equal(out, spikes2)


def test_multiterm_with_one_term_equals_single_term():
    model = mlp().double()
    x = drive()
    single = SNNWrapper(copy.deepcopy(model), alpha=0.6, method="gl")(x)
    multi = SNNWrapper(copy.deepcopy(model), alpha=[[0.6], [0.6]], method="glmulti")(x)
    assert torch.equal(single, multi)


def test_learnable_alpha_and_coefficients_get_gradients_and_move():
    torch.manual_seed(0)
    model = mlp(hidden=12).double()
    snn = SNNWrapper(
        model,
        alpha=[[0.5, 0.9], [0.7, 0.95]],
        multi_coefficient=[[1.0, 0.5], [1.0, 0.5]],
        learn_alpha=True,
        learn_coefficient=True,
    )
    params = dict(snn.named_parameters())
    alpha_keys = [k for k in params if k.endswith(".order")]
    coef_keys = [k for k in params if k.endswith(".coefficient")]
    assert len(alpha_keys) == 2 and len(coef_keys) == 2
    opt = torch.optim.Adam(snn.parameters(), lr=0.05)  # built right after construction
    before = [a.clone() for a in snn.get_per_layer_alpha()]
    x = drive(T=20)
    target = torch.rand(20, 3, 4, dtype=torch.float64)
    for _ in range(5):
        opt.zero_grad()
        out, states = snn(x, return_states=True)
        loss = ((out - target) ** 2).mean() + sum(s.pow(2).mean() for s in states)
        loss.backward()
        for k in alpha_keys + coef_keys:
            g = params[k].grad
            assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0, k
        opt.step()
    after = snn.get_per_layer_alpha()
    assert any(not torch.allclose(b, a) for b, a in zip(before, after))
    for a in after:
        assert bool(((a > 0) & (a <= 1)).all())


def test_state_dict_stable_and_round_trips():
    x = drive(T=12, dtype=torch.float32)
    snn = SNNWrapper(mlp(), alpha=[0.5, 0.7], alpha_mode="per_layer", learn_alpha=True)
    keys_before = list(snn.state_dict().keys())
    out = snn(x)
    keys_after = list(snn.state_dict().keys())
    assert keys_before == keys_after
    # one path per parameter: no duplicated weights through the traced graphs
    assert len(keys_after) == len(set(keys_after))
    n_params = sum(1 for _ in snn.parameters())
    assert n_params == len([k for k in keys_after if k.endswith(".order") or k.startswith("model.")])
    fresh = SNNWrapper(mlp(seed=5), alpha=[0.5, 0.7], alpha_mode="per_layer", learn_alpha=True)
    fresh.load_state_dict(snn.state_dict())
    assert torch.equal(fresh(x), out)


def test_shapes_optional_idempotent_and_batch_may_change():
    snn = SNNWrapper(mlp(), alpha=0.6, learn_alpha=True)
    with torch.no_grad():
        snn.orders[0].order.fill_(0.3)
    learned = snn.get_per_layer_alpha()
    assert snn._set_neuron_shapes((5, 6)) == [torch.Size([10]), torch.Size([4])]
    assert snn._set_neuron_shapes((5, 6)) == [torch.Size([10]), torch.Size([4])]
    assert all(torch.equal(a, b) for a, b in zip(learned, snn.get_per_layer_alpha()))
    x = drive(T=8, B=5, dtype=torch.float32)
    out5 = snn(x)
    out2 = snn(x[:, :2])
    assert out5.shape == (8, 5, 4) and out2.shape == (8, 2, 4)
    torch.testing.assert_close(snn(x), out5, rtol=0, atol=0)


def test_float64_end_to_end_and_to():
    snn = SNNWrapper(mlp(), alpha=0.7)
    snn = snn.to(torch.float64)
    x = drive()
    out, states = snn(x, return_states=True)
    assert out.dtype == torch.float64 and all(s.dtype == torch.float64 for s in states)


def test_substepping_evaluates_between_samples():
    model = mlp().double()
    x = drive(T=10)
    snn = SNNWrapper(copy.deepcopy(model), integrator="odeint", options={"step_size": 0.25})
    out = snn(x)
    assert out.shape[0] == 37  # 0, 0.25, ..., 9
    snn_linear = SNNWrapper(copy.deepcopy(model), integrator="odeint", options={"step_size": 0.25})
    snn_prev = SNNWrapper(
        copy.deepcopy(model), integrator="odeint", options={"step_size": 0.25}, interpolation_method="previous"
    )
    _, st_lin = snn_linear(x, return_states=True)
    _, st_prev = snn_prev(x, return_states=True)
    # the interpolation method matters between samples
    assert not torch.allclose(st_lin[0], st_prev[0])
    # per-call options override the constructor's
    assert snn(x, options={"step_size": 0.5}).shape[0] == 19


def test_method_override_and_bad_arguments():
    with pytest.raises(ValueError, match="integrator"):
        SNNWrapper(mlp(), integrator="magic")
    with pytest.raises(ValueError, match="belongs to integrator 'odeint'"):
        SNNWrapper(mlp(), integrator="fdeint", method="rk4")
    with pytest.raises(ValueError, match="memory"):
        SNNWrapper(mlp(), options={"memory": 0})
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        SNNWrapper(mlp(), alpha=1.5)
    with pytest.raises(ValueError, match="one order per neuron layer"):
        SNNWrapper(mlp(), alpha=[0.5, 0.6, 0.7], alpha_mode="per_layer")
    with pytest.warns(UserWarning, match="ambiguous"):
        SNNWrapper(mlp(), alpha=[0.5, 0.6])
    with pytest.raises(TypeError, match="nn.Module"):
        SNNWrapper(lambda x: x)
    snn = SNNWrapper(mlp())
    with pytest.raises(ValueError, match="x_time"):
        snn(drive(T=5, dtype=torch.float32), x_time=torch.tensor([0.0, 1.0, 1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="floating"):
        snn(torch.ones(5, 2, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN"):
        snn(torch.full((5, 2, 6), float("nan")))
    with pytest.raises(ValueError, match="belongs to integrator"):
        snn(drive(T=5, dtype=torch.float32), method="euler")


def test_alpha_config_forms():
    assert PerLayerAlphaConfig.from_spec([0.3, 0.6], 3, alpha_mode="multiterm").orders == [[0.3, 0.6]] * 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg = PerLayerAlphaConfig.from_spec([[0.3, 0.6], [0.9]], 2, multi_coefficient=[[1.0, 2.0], [3.0]])
    assert cfg.coefficients == [[1.0, 2.0], [3.0]]
    with pytest.raises(ValueError, match="one weight per order"):
        PerLayerAlphaConfig.from_spec([0.3, 0.6], 2, alpha_mode="multiterm", multi_coefficient=[1.0])
    with pytest.raises(ValueError, match="positive"):
        PerLayerAlphaConfig.from_spec([0.3, 0.6], 2, alpha_mode="multiterm", multi_coefficient=[1.0, -1.0])
    with pytest.raises(ValueError, match="learn_alpha"):
        PerLayerAlphaConfig.from_spec(0.5, 2, learn_alpha=[True])


@pytest.mark.parametrize(
    "values, finite",
    [
        ([0.5, -2.0, 3.0], True),
        ([0.5, float("nan"), 3.0], False),
        ([0.5, float("inf"), 3.0], False),
        ([float("-inf"), 1.0], False),
        ([float("inf"), float("-inf")], False),  # the sum is NaN
        ([3e38, 3e38, -1.0], True),  # finite values whose float32 sum overflows
    ],
)
def test_input_finiteness_check(values, finite) -> None:
    """The input check reduces once and checks every element only when the sum is not
    finite: NaN/inf anywhere are caught, an overflowing sum of finite values is not."""
    from spikede._wrapper import _all_finite

    x = torch.tensor(values, dtype=torch.float32).repeat(7, 3)
    assert _all_finite(x) is finite
    if not finite:
        net = SNNWrapper(nn.Sequential(nn.Linear(6, 4), LIFNeuron()))
        with pytest.raises(ValueError, match="x contains NaN or infinite values"):
            net(torch.tensor(values).repeat(60)[:60].reshape(5, 2, 6))
