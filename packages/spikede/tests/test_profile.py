"""spikede.profile: hand counts on small networks, the history's cost against the solver's
own operations, and synops against SpikingJelly's counter."""

from __future__ import annotations

import doctest
import importlib
import warnings

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from spikede import LIFNeuron, SNNWrapper, profile
from spikede._history_cost import BLOCK, SOE_WINDOW, STREAM_BLOCK, history_macs_per_neuron
from spikede_solvers import solve


def relay(threshold: float = 0.5) -> LIFNeuron:
    """With tau = 1 at alpha = 1 the charged potential is the input itself: this neuron
    spikes exactly where its input is at least ``threshold`` (a hand-set spike pattern)."""
    return LIFNeuron(tau=1.0, threshold=threshold)


def events(T: int, B: int, shape: tuple[int, ...], where: list[tuple[int, ...]]) -> torch.Tensor:
    """Input ``[T, B, *shape]``: 1 at the listed ``(t, b, *position)``, else 0."""
    x = torch.zeros(T, B, *shape, dtype=torch.float64)
    for index in where:
        x[index] = 1.0
    return x


def ones_(*layers: nn.Module) -> None:
    with torch.no_grad():
        for layer in layers:
            layer.weight.fill_(1.0)
            if layer.bias is not None:
                layer.bias.zero_()


def rows(p):
    return {r.name: r for r in p.layers}


def test_linear_counts_by_hand():
    model = nn.Sequential(relay(), nn.Linear(6, 4), relay(1e-3), nn.Linear(4, 2)).double()
    ones_(model[1], model[3])
    # step 0: 3 events in sample 0, 1 in sample 1; step 1: none; step 2: 2 in sample 1
    x = events(4, 2, (6,), [(0, 0, 0), (0, 0, 2), (0, 0, 5), (0, 1, 3), (2, 1, 1), (2, 1, 4)])
    p = profile(SNNWrapper(model, integrator="odeint"), x)
    r = rows(p)
    assert [layer.name for layer in p.layers] == ["0", "1", "2", "3"]
    assert r["1"].synops == 6 * 4 / 2  # 6 events, fan-out 4, per sample of 2
    # layer "2" fires on steps 0 and 2, all 4 neurons where its sample had an event
    assert r["2"].firing_rate == pytest.approx((4 + 4 + 4) / (4 * 2 * 4))
    assert r["3"].synops == 12 * 2 / 2
    assert r["0"].neurons == 6 and r["0"].firing_rate == pytest.approx(6 / (4 * 2 * 6))
    assert p.synops == 12 + 12 and p.macs == 0 and p.history_macs == 0


def test_dense_layers_count_macs_by_hand():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, stride=2, padding=1), LIFNeuron(threshold=0.2), nn.Flatten(), nn.Linear(18, 5)
    ).double()
    with torch.no_grad():
        model[0].weight.uniform_(0.0, 0.2)
        model[0].bias.zero_()
    x = torch.rand(7, 3, 1, 5, 5, dtype=torch.float64)
    snn = SNNWrapper(model, integrator="odeint")
    p = profile(snn, x)
    r = rows(p)
    # 5x5 -> 3x3 outputs, 2 channels, 9 taps each, at 7 steps
    assert r["0"].macs == 7 * 2 * 3 * 3 * 9 and r["0"].synops == 0
    assert 0.05 <= r["1"].firing_rate <= 0.95
    with torch.no_grad():
        _, rec = snn(x, record=True)
    assert r["3"].synops == float(rec.spikes["1"].sum()) * 5 / 3 and r["3"].macs == 0


def test_a_spike_encoded_input_counts_as_events():
    model = nn.Sequential(nn.Linear(6, 4), LIFNeuron(threshold=0.2)).double()
    x = events(4, 2, (6,), [(0, 0, 1), (1, 1, 2), (3, 0, 5)])
    p = profile(SNNWrapper(model, integrator="odeint"), x)
    assert p.input_spikes and rows(p)["0"].synops == 3 * 4 / 2 and rows(p)["0"].macs == 0
    # sub-stepping interpolates between the samples: the input takes other values
    p = profile(SNNWrapper(model, integrator="odeint", options={"step_size": 0.5}), x)
    assert not p.input_spikes and rows(p)["0"].macs == 7 * 6 * 4 and p.steps == 7


def test_conv_with_padding_and_stride_by_hand():
    model = nn.Sequential(relay(), nn.Conv2d(1, 2, 3, stride=2, padding=1), relay(1e-3)).double()
    ones_(model[1])
    # 5x5 input, 3x3 output: along each axis, position p is read by 1, 2, 1, 2, 1 windows
    x = events(2, 1, (1, 5, 5), [(0, 0, 0, 0, 0), (0, 0, 0, 1, 1), (0, 0, 0, 1, 3), (0, 0, 0, 4, 4)])
    p = profile(SNNWrapper(model, integrator="odeint"), x)
    assert rows(p)["1"].synops == (1 * 1 + 2 * 2 + 2 * 2 + 1 * 1) * 2  # times 2 output channels


@pytest.mark.parametrize("mode", ["zeros", "circular"])
def test_conv_groups_dilation_and_padding_modes_against_a_brute_force_count(mode):
    torch.manual_seed(1)
    conv = nn.Conv2d(4, 6, 3, stride=(2, 1), padding=(2, 1), dilation=(2, 1), groups=2, padding_mode=mode)
    model = nn.Sequential(relay(), conv, relay(1e-3)).double()
    x = (torch.rand(3, 2, 4, 7, 6) < 0.3).double()
    p = profile(SNNWrapper(model, integrator="odeint"), x)
    # brute force: every output entry, every tap of its window; a tap on an event counts
    padded = x
    if mode == "circular":
        padded = torch.nn.functional.pad(x.flatten(0, 1), (1, 1, 2, 2), mode="circular").unflatten(0, (3, 2))
    else:
        padded = torch.nn.functional.pad(x, (1, 1, 2, 2))
    out_h = (padded.shape[-2] - 2 * 2 - 1) // 2 + 1
    out_w = padded.shape[-1] - 2
    count = 0
    for oc in range(6):
        g = oc // 3
        for oy in range(out_h):
            for ox in range(out_w):
                for ic in range(2 * g, 2 * g + 2):
                    for ky in range(3):
                        for kx in range(3):
                            count += int(padded[:, :, ic, oy * 2 + 2 * ky, ox + kx].count_nonzero())
    assert rows(p)["1"].synops == count / 2


def test_average_pooling_and_a_residual_sum_by_hand():
    class PoolRes(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = relay()
            self.b = relay()
            self.pool = nn.AvgPool2d(3, stride=1, padding=1)
            self.fc = nn.Linear(16, 3)

        def forward(self, x):
            s = self.a(x[:, 0:1]) + self.b(x[:, 1:2])
            return self.fc(self.pool(s).flatten(1))

    x = events(3, 1, (2, 4, 4), [(0, 0, 0, 0, 0), (0, 0, 1, 0, 0), (0, 0, 1, 1, 2), (2, 0, 0, 3, 3)])
    p = profile(SNNWrapper(PoolRes().double(), integrator="odeint"), x)
    r = rows(p)
    assert [layer.name for layer in p.layers] == ["a", "b", "add", "pool", "fc"]
    assert r["add"].synops == 4  # one accumulate per event of each operand
    # windows per axis of the 4 positions: 2, 3, 3, 2; the sum is non-zero at (0, 0)
    # (value 2: one entry), (1, 2) at step 0 and (3, 3) at step 2
    assert r["pool"].synops == 2 * 2 + 3 * 3 + 2 * 2
    assert r["fc"].macs == 3 * 16 * 3 and r["fc"].synops == 0


def test_adaptive_pooling_and_a_module_called_twice():
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.n = relay()
            self.pool = nn.AdaptiveAvgPool1d(2)
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(self.pool(self.n(self.n(x))))  # the relay of a relay: same spikes

    # 5 positions into 2 adaptive windows [0, 3) and [2, 5): position 2 is in both
    x = events(2, 1, (1, 5), [(0, 0, 0, 0), (0, 0, 0, 2), (1, 0, 0, 4)])
    p = profile(SNNWrapper(Twice().double(), integrator="odeint"), x)
    r = rows(p)
    assert [layer.name for layer in p.layers] == ["n@0", "n@1", "pool", "fc"]
    assert r["pool"].synops == 1 + 2 + 1


def test_history_cost_by_hand():
    model = nn.Sequential(nn.Linear(3, 5), LIFNeuron(), nn.Linear(5, 2), LIFNeuron())
    x = torch.rand(40, 2, 3)
    neurons = 5 + 2
    full = profile(SNNWrapper(model, alpha=0.6), x).history_macs
    # steps 0..31 sum their n + 1 stored rows; steps 32..38 the rows of their own block,
    # and one product brings the 32 older rows to the block's 8 rows (40 - 32)
    by_step = sum(n + 1 for n in range(32)) + sum(n - 31 for n in range(32, 39))
    assert STREAM_BLOCK == 32 and full == neurons * (by_step + 8 * 32)
    memory = profile(SNNWrapper(model, alpha=0.6, options={"memory": 8}), x).history_macs
    assert memory == neurons * 39 * 8  # a ring of 8 rows at every step
    soe = profile(SNNWrapper(model, alpha=0.6, options={"history": "soe"}), x)
    from spikede_solvers._history import soe_terms

    K, W = soe_terms("gl", 40, 0.6) + 1, SOE_WINDOW
    # a product over a ring of W + 8 rows (plus a contribution row) at every step; the 8
    # oldest rows join the sums (8 K multiply-adds, K multiplies) and the sums' next 8
    # contribution rows are remade (8 K) when rows 16, 24 and 32 are written
    assert soe.history_macs == neurons * (39 * (W + 8) + 3 * K * (2 * 8 + 1))
    assert soe.history == "soe" and full == profile(SNNWrapper(model, alpha=0.6), x, method="gl").history_macs
    # full grows like N^2, the others like N
    longer = torch.rand(80, 2, 3)
    assert profile(SNNWrapper(model, alpha=0.6), longer).history_macs / full > 3.5
    assert profile(SNNWrapper(model, alpha=0.6, options={"memory": 8}), longer).history_macs / memory < 2.1
    assert profile(SNNWrapper(model, integrator="odeint"), x).history_macs == 0


class _CountHistory(TorchDispatchMode):
    """Multiply-adds of the matrix products and fused multiply-adds a solve runs."""

    def __init__(self) -> None:
        super().__init__()
        self.macs = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        aten = torch.ops.aten
        op = func.overloadpacket
        if op is aten.mv:
            self.macs += args[0].shape[0] * args[0].shape[1]
        elif op is aten.addmv:
            self.macs += args[1].shape[0] * args[1].shape[1]
        elif op is aten.mm:
            self.macs += args[0].shape[0] * args[0].shape[1] * args[1].shape[1]
        elif op is aten.addmm or op is aten.addmm_:
            self.macs += args[1].shape[0] * args[1].shape[1] * args[2].shape[1]
        elif op is aten.mul_:  # the running sums' decay in a block update
            self.macs += args[0].numel()
        elif op is aten.addcmul:
            self.macs += torch.broadcast_shapes(*(a.shape for a in args[:3])).numel()
        return func(*args, **(kwargs or {}))


def _solver_macs(method: str, n: int, options: dict | None, numel: int) -> int:
    y0 = (torch.zeros(numel, dtype=torch.float64),)
    with torch.no_grad(), _CountHistory() as counter:
        solve(
            lambda t, y, args, step: (y[0] * 0.0 + 1.0,),
            y0,
            torch.arange(n, dtype=torch.float64),
            method,
            alpha=torch.tensor(0.6, dtype=torch.float64),
            options=options,
        )
    return counter.macs


@pytest.mark.parametrize("method", ["gl", "glmulti", "pred", "l1", "trap"])
@pytest.mark.parametrize(
    "options", [None, {"memory": 5}, {"history": "soe"}, {"history": "soe", "soe_window": 4, "soe_terms": 3}, {"block": 8}]
)
def test_history_cost_equals_the_solver_operations(method, options):
    """The count equals the products the solver runs (two solves of 2 and 1 neurons: the
    difference is one neuron's history; the once-per-solve coefficient fit cancels)."""
    for n in (2, 3, 17, 18, 30, 71, 150):
        _solver_macs(method, n, options, 1)  # the choice of soe terms is made (and kept) once
        measured = _solver_macs(method, n, options, 2) - _solver_macs(method, n, options, 1)
        if method == "trap":  # its d_n f_0 term is a scalar product, not a matrix one
            memory = (options or {}).get("memory")
            measured += min(n - 1, memory) if memory else n - 1
        counted = history_macs_per_neuron(method, n, options, 0.6, torch.float64)
        assert counted == measured, (method, options, n)


def test_history_defaults_are_the_solvers():
    from spikede_solvers import _history, _soe, _stream_exact

    assert (SOE_WINDOW, BLOCK) == (_soe.DEFAULT_WINDOW, _history.DEFAULT_BLOCK)
    assert STREAM_BLOCK == _stream_exact.DEFAULT_STREAM_BLOCK


def test_energy_and_table():
    model = nn.Sequential(nn.Linear(3, 5), LIFNeuron(threshold=0.3), nn.Linear(5, 2))
    p = profile(SNNWrapper(model, alpha=0.6), torch.rand(10, 4, 3))
    assert p.energy() == pytest.approx(p.synops * 0.9e-12 + (p.macs + p.history_macs) * 4.6e-12)
    assert p.energy(e_ac=1.0, e_mac=0.0) == p.synops
    with pytest.raises(ValueError, match="e_mac"):
        p.energy(e_mac=-1.0)
    table = p.table().splitlines()
    assert table[0] == "| layer | type | neurons | firing rate | synops | MACs |"
    assert table[2].startswith("| 0 | Linear |  |  | 0 | 150 |")
    assert table[-2] == f"| history | gl, full |  |  |  | {5 * 45:,} |"
    assert table[-1].startswith("| **total** | 10 steps | 5 |")


def test_profile_leaves_the_model_as_it_was_and_checks_its_arguments():
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), LIFNeuron(), nn.Dropout(0.5), nn.Linear(5, 2))
    snn = SNNWrapper(model, alpha=0.6)
    snn.train()
    before = {k: v.clone() for k, v in snn.state_dict().items()}
    profile(snn, torch.rand(10, 4, 3))
    assert all(m.training for m in snn.modules())
    assert all(torch.equal(before[k], v) for k, v in snn.state_dict().items())
    with pytest.raises(TypeError, match="do not pass record="):
        profile(snn, torch.rand(10, 4, 3), record=True)
    with pytest.raises(TypeError, match="SNNWrapper"):
        profile(model, torch.rand(10, 4, 3))


def test_uncounted_weighted_layers_are_named_in_a_warning():
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(3, 4))
            self.lif = LIFNeuron()
            self.up = nn.ConvTranspose1d(1, 1, 2)

        def forward(self, x):
            s = self.lif(torch.nn.functional.linear(x, self.w))
            return self.up(s.unsqueeze(1))

    with pytest.warns(RuntimeWarning, match=r"linear \(linear\), up \(ConvTranspose1d\)"):
        profile(SNNWrapper(Functional(), alpha=0.6), torch.rand(5, 2, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        profile(SNNWrapper(nn.Sequential(nn.Linear(4, 3), LIFNeuron()), alpha=0.6), torch.rand(5, 2, 4))


def test_synops_equal_spikingjellys_counter():
    """SpikingJelly's SynOpCounter counts the accumulates of matrix products and
    convolutions whose input is binary: run the spiking layers on the recorded spikes
    under it and compare (an alpha = 1 network; its first layer is fed by real values)."""
    op_counter = pytest.importorskip("spikingjelly.activation_based.op_counter")
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        LIFNeuron(threshold=0.3),
        nn.Conv2d(4, 5, 3, stride=2, padding=1),
        LIFNeuron(threshold=0.1),
        nn.Flatten(),
        nn.Linear(5 * 3 * 3, 6),
    )
    snn = SNNWrapper(model, integrator="odeint")
    x = torch.rand(12, 3, 1, 6, 6)
    p = profile(snn, x)
    with torch.no_grad():
        _, rec = snn(x, record=True)
    for rate in rec.firing_rates().values():
        assert 0.05 <= rate <= 0.95
    counter = op_counter.SynOpCounter()
    with torch.no_grad(), op_counter.DispatchCounterMode([counter]):
        for n in range(12):
            model[2](rec.spikes["1"][n])
            model[5](model[4](rec.spikes["3"][n]))
    r = rows(p)
    assert r["2"].synops + r["5"].synops == counter.get_total() / 3
    assert r["0"].synops == 0 and r["0"].macs > 0


@pytest.mark.parametrize("name", ["spikede._profile", "spikede._recording", "spikede.plot"])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
