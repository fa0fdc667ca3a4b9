"""spikede.nir: export to and import from NIR graphs, against independent oracles.

Oracles: NIR's equations stepped by hand with explicit Euler in float64; a round trip
through NIR; snnTorch's own export and import, run by snnTorch itself.
"""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest
import torch
from torch import nn

nir = pytest.importorskip("nir")
snntorch = pytest.importorskip("snntorch")

from snntorch import utils as snn_utils  # noqa: E402
from snntorch.export_nir import export_to_nir  # noqa: E402
from snntorch.import_nir import import_from_nir  # noqa: E402

from spikede import (  # noqa: E402
    HardResetIFNeuron,
    HardResetLIFNeuron,
    IFNeuron,
    LIFNeuron,
    LINeuron,
    NoisyLIFNeuron,
    SNNWrapper,
)
from spikede.nir import from_nir, to_nir  # noqa: E402
from spikede_fx import BaseNeuron  # noqa: E402

DTYPES = [torch.float32, torch.float64]


def _record_spikes(model: nn.Module) -> tuple[dict[str, list[torch.Tensor]], list]:
    """Forward hooks collecting each spiking neuron's spikes per evaluation (in the wrapper)."""
    spikes: dict[str, list[torch.Tensor]] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, (HardResetLIFNeuron, HardResetIFNeuron)):
            spikes[name] = []
            handles.append(
                module.register_forward_hook(
                    lambda mod, args, out, name=name: (
                        spikes[name].append(out[1].detach().clone()) if len(args) >= 2 else None
                    )
                )
            )
    return spikes, handles


def _run(model: nn.Module, x: torch.Tensor, **kwargs: object) -> tuple[torch.Tensor, tuple, dict]:
    """Run ``model`` under ``SNNWrapper`` (odeint/euler by default); output, states, spikes."""
    spikes, handles = _record_spikes(model)
    try:
        with torch.no_grad():
            out, states = SNNWrapper(model, **({"integrator": "odeint"} | kwargs))(
                x, return_states=True
            )
    finally:
        for handle in handles:
            handle.remove()
    return out, states, {name: torch.stack(s[-x.shape[0] :]) for name, s in spikes.items()}


def _assert_busy(spikes: dict[str, torch.Tensor]) -> None:
    """Every spiking layer fires on 5-95% of (neuron, step) pairs."""
    assert spikes
    for name, s in spikes.items():
        rate = s.float().mean().item()
        assert 0.05 <= rate <= 0.95, f"layer {name} fires at rate {rate:.3f}"


def _mlp(dtype: torch.dtype) -> nn.Module:
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Linear(5, 8),
        HardResetLIFNeuron(tau=3.0, threshold=1.0, v_reset=-0.2),
        nn.Linear(8, 6, bias=False),
        HardResetIFNeuron(threshold=0.8, v_reset=0.1),
        nn.Linear(6, 3),
        LINeuron(tau=4.0),
    )
    with torch.no_grad():
        model[0].weight.mul_(2.0)
        model[0].bias.fill_(1.0)
        model[2].weight.abs_().mul_(0.6)
    return model.to(dtype)


class _ResidualCNN(nn.Module):
    """Conv -> LIF -> (sum pool) -> conv + skip -> LIF -> avg pool -> flatten -> linear -> LI."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.lif1 = HardResetLIFNeuron(tau=2.0, threshold=1.0)
        self.sum = nn.AvgPool2d(2, divisor_override=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.skip = nn.Conv2d(4, 4, 1)
        self.lif2 = HardResetLIFNeuron(tau=2.5, threshold=1.0)
        self.avg = nn.AvgPool2d(2)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(16, 3)
        self.readout = LINeuron(tau=3.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.sum(self.lif1(self.conv1(x)))
        s = self.lif2(self.conv2(s) + self.skip(s))
        return self.readout(self.fc(self.flat(self.avg(s))))


def _cnn(dtype: torch.dtype) -> nn.Module:
    torch.manual_seed(2)
    model = _ResidualCNN()
    with torch.no_grad():
        model.conv1.bias.fill_(0.6)
        model.conv2.weight.mul_(0.5)
        model.skip.bias.fill_(0.6)
    return model.to(dtype)


# --- round trip spikeDE -> NIR -> spikeDE ------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "build, shape", [(_mlp, (5,)), (_cnn, (2, 8, 8))], ids=["mlp", "residual-cnn"]
)
def test_round_trip_gives_identical_spikes(build, shape, dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    model = build(dtype)
    x = 2.0 * torch.rand(30, 3, *shape, dtype=dtype)
    out, states, spikes = _run(model, x)
    _assert_busy(spikes)
    graph = to_nir(model, shape)
    back = from_nir(graph, dtype=dtype)
    out2, states2, spikes2 = _run(back, x)
    # dt = 1: every number crosses NIR unchanged, so the runs are bitwise the same
    assert torch.equal(out, out2)
    for a, b in zip(states, states2):
        assert torch.equal(a, b)
    assert [torch.equal(a, b) for a, b in zip(spikes.values(), spikes2.values())] == [True] * len(
        spikes
    )


def test_round_trip_with_a_time_unit() -> None:
    model = _mlp(torch.float64)
    x = 2.0 * torch.rand(30, 3, 5, dtype=torch.float64)
    out, states, spikes = _run(model, x)
    back = from_nir(to_nir(model, (5,), dt=1e-3), dt=1e-3, dtype=torch.float64)
    out2, states2, spikes2 = _run(back, x)
    for name, name2 in zip(spikes, spikes2):
        assert torch.equal(spikes[name], spikes2[name2])
    for a, b in zip(states, states2):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out, out2, rtol=1e-12, atol=1e-12)


def test_exported_nodes_hold_nir_parameters() -> None:
    model = _mlp(torch.float32)
    graph = to_nir(model, (5,), dt=0.01)
    kinds = {key: type(node).__name__ for key, node in graph.nodes.items()}
    assert kinds == {
        "input": "Input",
        "0": "Affine",
        "1": "LIF",
        "2": "Linear",
        "3": "IF",
        "4": "Affine",
        "5": "LI",
        "output": "Output",
    }
    lif, if_, li = graph.nodes["1"], graph.nodes["3"], graph.nodes["5"]
    np.testing.assert_allclose(lif.tau, np.full(8, 0.03))
    np.testing.assert_array_equal(lif.r, np.ones(8))
    np.testing.assert_array_equal(lif.v_leak, np.zeros(8))
    np.testing.assert_array_equal(lif.v_reset, np.full(8, -0.2))
    np.testing.assert_array_equal(if_.r, np.full(6, 100.0))
    np.testing.assert_array_equal(if_.v_threshold, np.full(6, 0.8))
    np.testing.assert_allclose(li.tau, np.full(3, 0.04))
    np.testing.assert_array_equal(graph.nodes["0"].weight, model[0].weight.detach().numpy())
    np.testing.assert_array_equal(graph.nodes["input"].input_type["input"], [5])
    assert ("input", "0") in graph.edges and ("5", "output") in graph.edges


def test_residual_add_is_two_edges_into_one_node() -> None:
    graph = to_nir(_cnn(torch.float32), (2, 8, 8))
    into_lif2 = sorted(src for src, dst in graph.edges if dst == "lif2")
    assert into_lif2 == ["conv2", "skip"]
    assert type(graph.nodes["sum"]).__name__ == "SumPool2d"
    assert type(graph.nodes["avg"]).__name__ == "AvgPool2d"
    assert graph.nodes["flat"].start_dim == 0
    np.testing.assert_array_equal(graph.nodes["lif1"].tau.shape, (4, 8, 8))


def test_export_accepts_a_wrapper_at_order_one_and_leaves_the_model_alone() -> None:
    model = _mlp(torch.float32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for snn in (SNNWrapper(model, integrator="odeint"), SNNWrapper(model, alpha=1.0)):
        graph = to_nir(snn, (5,))
        assert type(graph.nodes["1"]).__name__ == "LIF"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(m._discrete_state is None for m in model.modules() if isinstance(m, BaseNeuron))


# --- import against NIR's equations stepped by hand ----------------------------------------


def _euler_reference(graph_params: dict, x: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Affine -> LIF stepped by Euler from NIR's equations, float64 (the oracle)."""
    w, b = graph_params["weight"], graph_params["bias"]
    tau, r, v_leak = graph_params["tau"], graph_params["r"], graph_params["v_leak"]
    thr, v_reset = graph_params["v_threshold"], graph_params["v_reset"]
    v = np.zeros((x.shape[1], w.shape[0]))
    spikes, mems = [], []
    for x_t in x:
        mems.append(v.copy())
        v = v + dt / tau * (v_leak - v + r * (x_t @ w.T + b))
        z = (v >= thr).astype(np.float64)
        v = np.where(z == 1, v_reset, v)
        spikes.append(z)
    return np.stack(spikes), np.stack(mems)


def test_heterogeneous_r_and_v_leak_are_folded_exactly() -> None:
    rng = np.random.default_rng(0)
    params = dict(
        weight=rng.normal(size=(6, 4)),
        bias=rng.normal(size=6) * 0.1,
        tau=np.full(6, 0.02),
        r=rng.uniform(0.5, 3.0, size=6),
        v_leak=rng.uniform(-0.2, 0.6, size=6),
        v_threshold=np.full(6, 0.7),
        v_reset=np.full(6, -0.1),
    )
    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=params["weight"], bias=params["bias"]),
        nir.LIF(**{k: params[k] for k in ("tau", "r", "v_leak", "v_threshold", "v_reset")}),
    )
    x = rng.uniform(0, 1.5, size=(60, 3, 4))
    ref_spikes, ref_mems = _euler_reference(params, x, dt=0.005)
    model = from_nir(graph, dt=0.005, dtype=torch.float64)
    out, states, spikes = _run(model, torch.from_numpy(x))
    _assert_busy(spikes)
    np.testing.assert_array_equal(out.numpy(), ref_spikes)
    np.testing.assert_allclose(states[0].numpy(), ref_mems, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(graph.nodes["lif"].r, params["r"])  # graph unchanged


def test_if_and_li_import_follow_nir_equations() -> None:
    rng = np.random.default_rng(3)
    w1, w2 = rng.uniform(0.5, 2.0, size=(5, 3)), rng.normal(size=(2, 5))
    r_if, r_li, tau_li, dt = np.full(5, 4.0), np.array([2.0, 0.5]), np.full(2, 0.03), 0.01
    graph = nir.NIRGraph.from_list(
        nir.Linear(weight=w1),
        nir.IF(r=r_if, v_threshold=np.full(5, 1.0), v_reset=np.zeros(5)),
        nir.Linear(weight=w2),
        nir.LI(tau=tau_li, r=r_li, v_leak=np.array([0.1, -0.3])),
    )
    x = rng.uniform(0, 1, size=(50, 2, 3))
    v_if, v_li, outs = np.zeros((2, 5)), np.zeros((2, 2)), []
    for x_t in x:
        v_if = v_if + dt * r_if * (x_t @ w1.T)
        z = (v_if >= 1.0).astype(float)
        v_if = np.where(z == 1, 0.0, v_if)
        v_li = v_li + dt / tau_li * (np.array([0.1, -0.3]) - v_li + r_li * (z @ w2.T))
        outs.append(v_li.copy())
    out, _, spikes = _run(from_nir(graph, dt=dt, dtype=torch.float64), torch.from_numpy(x))
    _assert_busy(spikes)
    np.testing.assert_allclose(out.numpy(), np.stack(outs), rtol=1e-10, atol=1e-12)


# --- snnTorch as the other library --------------------------------------------------------


def _snntorch_net(dtype: torch.dtype) -> nn.Module:
    torch.manual_seed(4)
    net = nn.Sequential(
        nn.Linear(5, 8),
        snntorch.Leaky(
            beta=torch.full((8,), 0.8),
            threshold=torch.ones(8),
            reset_mechanism="zero",
            reset_delay=False,
            init_hidden=True,
        ),
        nn.Linear(8, 3),
        snntorch.Leaky(
            beta=torch.full((3,), 0.9),
            threshold=torch.full((3,), 0.5),
            reset_mechanism="zero",
            reset_delay=False,
            init_hidden=True,
        ),
    )
    with torch.no_grad():
        net[0].weight.mul_(1.5)
        net[0].bias.fill_(0.3)
        net[2].weight.abs_()
    return net.to(dtype)


def _run_snntorch(
    net: nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """snnTorch's own time loop; output, and each Leaky's spikes and membrane per step."""
    leaky = [m for m in net.modules() if isinstance(m, snntorch.Leaky)]
    spikes: list[list[torch.Tensor]] = [[] for _ in leaky]
    mems: list[list[torch.Tensor]] = [[] for _ in leaky]

    def hook(i: int):
        def record(module: nn.Module, args: tuple, out: object) -> None:
            spikes[i].append((out[0] if isinstance(out, tuple) else out).clone())
            mems[i].append(module.mem.clone())

        return record

    handles = [m.register_forward_hook(hook(i)) for i, m in enumerate(leaky)]
    snn_utils.reset(net)
    outs = []
    try:
        with torch.no_grad():
            for x_t in x:
                out = net(x_t)
                outs.append(out[0] if isinstance(out, tuple) else out)
    finally:
        for handle in handles:
            handle.remove()
    return torch.stack(outs), [torch.stack(s) for s in spikes], [torch.stack(m) for m in mems]


# snnTorch's Leaky emits float32 spikes whatever its input's dtype: float32 only here (the
# float64 behaviour is checked against NIR's equations stepped by hand, above)
@pytest.mark.parametrize("dtype", [torch.float32])
def test_snntorch_export_runs_spike_for_spike_in_spikede(dtype: torch.dtype) -> None:
    net = _snntorch_net(dtype)
    x = 2.0 * torch.rand(40, 4, 5, dtype=dtype)
    ref, ref_spikes, ref_mems = _run_snntorch(net, x)
    for s in ref_spikes:
        assert 0.05 <= s.mean().item() <= 0.95
    graph = export_to_nir(net, torch.zeros(1, 5, dtype=dtype), ignore_dims=[0])
    model = from_nir(graph, dt=1e-4, dtype=dtype)  # snnTorch exports with a step of 1e-4
    out, states, spikes = _run(model, x)
    assert torch.equal(out, ref)
    for s, r in zip(spikes.values(), ref_spikes):
        assert torch.equal(s, r)
    # spikeDE's state at step n + 1 is snnTorch's membrane after step n (after the reset)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    for v, m in zip(states, ref_mems):
        torch.testing.assert_close(v[1:], m[:-1], rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [torch.float32])
def test_spikede_export_runs_spike_for_spike_in_snntorch(dtype: torch.dtype) -> None:
    torch.manual_seed(5)
    model = nn.Sequential(
        nn.Linear(5, 8),
        HardResetLIFNeuron(tau=4.0, threshold=1.0),
        nn.Linear(8, 3),
        HardResetLIFNeuron(tau=3.0, threshold=0.5),
    )
    with torch.no_grad():
        model[0].weight.mul_(3.0)
        model[0].bias.fill_(1.0)
        model[2].weight.abs_().mul_(2.0)
    model = model.to(dtype)
    x = 2.0 * torch.rand(40, 4, 5, dtype=dtype)
    out, _, spikes = _run(model, x)
    _assert_busy(spikes)
    # snnTorch's import assumes a step of 1e-4: export with that time unit
    net = import_from_nir(to_nir(model, (5,), dt=1e-4)).to(dtype)
    ref, ref_spikes, _ = _run_snntorch(net, x)
    assert torch.equal(out, ref)
    for s, r in zip(spikes.values(), ref_spikes):
        assert torch.equal(s, r)


def test_imported_model_runs_at_a_fractional_order() -> None:
    graph = export_to_nir(_snntorch_net(torch.float32), torch.zeros(1, 5), ignore_dims=[0])
    model = from_nir(graph, dt=1e-4)
    x = 2.0 * torch.rand(20, 2, 5)
    out = SNNWrapper(model, alpha=0.6)(x)
    assert out.shape == (20, 2, 3) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="fractional"):
        to_nir(SNNWrapper(model, alpha=0.6), (5,))


# --- errors ---------------------------------------------------------------------------------


def _lif(n: int, **overrides: np.ndarray) -> nir.LIF:
    params = dict(
        tau=np.full(n, 0.01),
        r=np.ones(n),
        v_leak=np.zeros(n),
        v_threshold=np.ones(n),
        v_reset=np.zeros(n),
    )
    return nir.LIF(**(params | overrides))


@pytest.mark.parametrize(
    "module, match",
    [
        (LIFNeuron(), "subtracting the threshold.*HardResetLIFNeuron"),
        (IFNeuron(), "subtracting the threshold.*HardResetIFNeuron"),
        (NoisyLIFNeuron(), "NoisyLIFNeuron"),
    ],
)
def test_export_refuses_soft_reset_neurons(module: nn.Module, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        to_nir(nn.Sequential(nn.Linear(2, 2), module), (2,))


def test_export_errors_name_the_argument_or_module() -> None:
    good = nn.Sequential(nn.Linear(2, 2), HardResetLIFNeuron())
    with pytest.raises(ValueError, match=r"module '1' \(ReLU\)"):
        to_nir(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), HardResetLIFNeuron()), (2,))
    with pytest.raises(ValueError, match="order.*fractional"):
        to_nir(SNNWrapper(good, alpha=[1.0, 0.5], alpha_mode="multiterm"), (2,))
    with pytest.raises(ValueError, match="input_shape"):
        to_nir(good, (0,))
    with pytest.raises(TypeError, match="input_shape"):
        to_nir(good, 2)
    with pytest.raises(ValueError, match="dt"):
        to_nir(good, (2,), dt=0.0)
    with pytest.raises(TypeError, match="model"):
        to_nir("model", (2,))


def test_import_errors_name_the_node() -> None:
    affine = nir.Affine(weight=np.ones((3, 2)), bias=np.zeros(3))
    with pytest.raises(ValueError, match="'lif'.*tau differs"):
        from_nir(nir.NIRGraph.from_list(affine, _lif(3, tau=np.array([0.01, 0.02, 0.01]))))
    with pytest.raises(ValueError, match="'lif'.*v_threshold differs"):
        from_nir(nir.NIRGraph.from_list(affine, _lif(3, v_threshold=np.array([1.0, 2.0, 1.0]))))
    with pytest.raises(ValueError, match="'lif' has r != 1.*'input'"):
        from_nir(nir.NIRGraph.from_list(_lif(3, r=np.full(3, 2.0))))
    cuba = nir.CubaLIF(
        tau_syn=np.ones(3),
        tau_mem=np.ones(3),
        r=np.ones(3),
        v_leak=np.zeros(3),
        v_threshold=np.ones(3),
    )
    with pytest.raises(ValueError, match="'cubalif'.*CubaLIF.*not supported"):
        from_nir(nir.NIRGraph.from_list(affine, cuba))
    with pytest.raises(ValueError, match="'threshold'.*Threshold"):
        from_nir(nir.NIRGraph.from_list(affine, nir.Threshold(threshold=np.ones(3))))
    with pytest.raises(TypeError, match="graph must be a nir.NIRGraph"):
        from_nir(affine)
    with pytest.raises(ValueError, match="dt"):
        from_nir(nir.NIRGraph.from_list(affine), dt=-1.0)


def test_import_rejects_a_recurrent_graph() -> None:
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([3])),
            "lif": _lif(3),
            "rec": nir.Linear(weight=np.eye(3)),
            "output": nir.Output(output_type=np.array([3])),
        },
        edges=[("input", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")],
    )
    with pytest.raises(ValueError, match="cycle.*'lif'.*recurrent"):
        from_nir(graph)


# --- the new neurons -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_li_neuron_steps_by_euler(dtype: torch.dtype) -> None:
    neuron = LINeuron(tau=4.0)
    neuron.dt = 0.5
    v, current = torch.tensor([0.2, -1.0], dtype=dtype), torch.tensor([1.0, 3.0], dtype=dtype)
    dv, out = neuron(v, current)
    assert dv.dtype == dtype
    torch.testing.assert_close(dv, torch.tensor([0.2, 1.0], dtype=dtype))  # (I - v) / tau
    torch.testing.assert_close(out, torch.tensor([0.3, -0.5], dtype=dtype))  # v + h dv


@pytest.mark.parametrize("dtype", DTYPES)
def test_hard_reset_if_neuron_resets_to_v_reset(dtype: torch.dtype) -> None:
    neuron = HardResetIFNeuron(threshold=1.0, v_reset=-0.25)
    neuron.dt = 0.5
    v, current = torch.tensor([0.2, 0.8], dtype=dtype), torch.tensor([1.0, 1.0], dtype=dtype)
    dv, spike = neuron(v, current)
    assert spike.dtype == dtype and spike.tolist() == [0.0, 1.0]
    torch.testing.assert_close(v + 0.5 * dv, torch.tensor([0.7, -0.25], dtype=dtype))


def test_new_neurons_check_their_arguments() -> None:
    with pytest.raises(ValueError, match="tau"):
        LINeuron(tau=0.0)
    with pytest.raises(TypeError, match="learn_tau"):
        LINeuron(learn_tau=1)
    with pytest.raises(ValueError, match="v_reset"):
        HardResetIFNeuron(threshold=1.0, v_reset=1.0)
    with pytest.raises(ValueError, match="threshold"):
        HardResetIFNeuron(threshold=-1.0)
    learnable = LINeuron(tau=3.0, learn_tau=True)
    assert [name for name, _ in learnable.named_parameters()] == ["log_tau"]


@pytest.mark.parametrize("name", ["spikede.nir", "spikede._li", "spikede._hard_if"])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_tutorial_figure_is_drawn_by_the_tutorial_code(tmp_path) -> None:
    import importlib.util
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image

    root = Path(__file__).resolve().parents[3]
    spec = importlib.util.spec_from_file_location(
        "docs_nir_figure", root / "scripts" / "docs_nir_figure.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    image = matplotlib.image.imread(script.draw(tmp_path / "nir.png"))
    assert image.shape[0] > 300 and image.shape[1] > 500
    assert image[..., :3].std() > 0.05  # not a blank canvas
    assert (root / "docs" / "assets" / "nir_membranes.png").is_file()
