"""The peers of the benchmark suite (benchmarks/peers.py) do the same work as spikeDE.

* SpikingJelly's multi-step ``LIFNode(decay_input=True, v_reset=None)`` network equals
  spikeDE's ``odeint``/``euler`` solve (alpha = 1) and the plain loop spike for spike,
  layer by layer, on the suite's own workloads, weights and inputs, and their gradients
  agree.
* snnTorch's ``Leaky`` loop (``beta = 1 - 1/tau``, weights scaled by ``1/tau``, reset by
  subtraction without delay) equals them spike for spike while no membrane is still at
  or above threshold after its reset; the one rule in which it differs is pinned by a
  hand-computed case.
* A peer that is not installed is skipped by the suite with a printed note.

Equality only: no timing is asserted.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))
import peers  # noqa: E402  (benchmarks/peers.py)
import run as bench  # noqa: E402  (benchmarks/run.py)

from spikede import LIFNeuron, SNNWrapper  # noqa: E402

pytest.importorskip("spikingjelly")
pytest.importorskip("snntorch")


def spikede_euler(
    model: nn.Sequential, x: torch.Tensor, grad: bool = False
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """spikeDE odeint/euler: output and the spikes ``[T, ...]`` of every neuron layer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # alpha is unused by odeint
        net = SNNWrapper(model, integrator="odeint", method="euler")
    neurons = [m for m in model if isinstance(m, LIFNeuron)]
    records: list[list[torch.Tensor]] = [[] for _ in neurons]
    handles = [
        m.register_forward_hook(lambda mod, i, out, k=k: records[k].append(out[1].detach()))
        for k, m in enumerate(neurons)
    ]
    try:
        with torch.set_grad_enabled(grad):
            out = net(x)
    finally:
        for h in handles:
            h.remove()
    T = x.shape[0]
    return out, [torch.stack(r[-T:]) for r in records]  # the last T: one per grid point


def peer_spikes(
    name: str, model: nn.Sequential, x: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A peer's output and the spikes ``[T, ...]`` of every neuron layer."""
    net = peers.build_peer(name, model)
    records, handles = peers.record_spikes(net)
    try:
        with torch.no_grad():
            out = net(x)
    finally:
        for h in handles:
            h.remove()
    return out, [torch.cat(r) if name == "spikingjelly" else torch.stack(r) for r in records]


def floor_spikes(model: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    record: dict[int, list[torch.Tensor]] = {}
    with torch.no_grad():
        bench.floor_forward(list(model), x, record)
    return [torch.stack(record[i]) for i in sorted(record)]


def workload(name: str, T: int, dtype: torch.dtype) -> tuple[nn.Sequential, torch.Tensor]:
    torch.manual_seed(0)
    model = bench._w1_model() if name == "w1" else bench._w2_model()
    return model.to(dtype), bench._input(name, T).to(dtype)


def assert_fires(spikes: list[torch.Tensor]) -> None:
    for k, s in enumerate(spikes):
        rate = float(s.float().mean())
        assert 0.05 <= rate <= 0.95, f"layer {k} fires on {rate:.3f} of the steps"


@pytest.mark.parametrize(
    ("name", "T", "dtype"),
    [
        ("w1", 1000, torch.float32),  # the timed configurations
        ("w2", 200, torch.float32),
        ("w1", 300, torch.float64),  # SpikingJelly's reference path (not its float32 op)
        ("w2", 60, torch.float64),
    ],
)
def test_spikingjelly_equals_spikede_euler_spike_for_spike(
    name: str, T: int, dtype: torch.dtype
) -> None:
    model, x = workload(name, T, dtype)
    out, ours = spikede_euler(model, x)
    assert_fires(ours)
    jelly_out, jelly = peer_spikes("spikingjelly", model, x)
    floor = floor_spikes(model, x)
    assert len(jelly) == len(floor) == len(ours) == (2 if name == "w1" else 3)
    for k, (a, b, c) in enumerate(zip(ours, jelly, floor)):
        assert a.shape == b.shape == c.shape
        assert torch.equal(a, b), f"layer {k}: {int((a != b).sum())} spikes differ"
        assert torch.equal(a, c), f"layer {k}: {int((a != c).sum())} spikes differ (floor)"
    assert torch.equal(out, jelly_out)


@pytest.mark.parametrize(("name", "T"), [("w1", 40), ("w2", 16)])
def test_spikingjelly_gradients_match_spikede(name: str, T: int) -> None:
    model, x = workload(name, T, torch.float64)
    weights = torch.linspace(-1.0, 1.0, T * 10, dtype=torch.float64)
    grads = []
    for run in ("spikede", "spikingjelly"):
        model.zero_grad()
        if run == "spikede":
            out, spikes = spikede_euler(model, x, grad=True)
        else:
            out = peers.build_peer("spikingjelly", model)(x)
        # a loss that weighs every step and class differently
        (out * weights.reshape(T, 1, 10)).sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    assert_fires(spikes)
    for a, b in zip(*grads):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def bounded_network() -> tuple[nn.Sequential, torch.Tensor]:
    """Every input current stays below 3 (so ``u = (v + I)/2 < 2`` and no membrane is at
    threshold after its reset), and both layers fire on 5-50% of the steps."""
    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), LIFNeuron(), nn.Linear(32, 8), LIFNeuron())
    with torch.no_grad():
        model[0].weight.copy_(0.1 * (2 * torch.rand(32, 16, generator=g) - 1))
        model[0].bias.copy_(1.0 + 0.3 * (2 * torch.rand(32, generator=g) - 1))
        model[2].weight.copy_(0.05 * (2 * torch.rand(8, 32, generator=g) - 1))
        model[2].bias.copy_(1.0 + 0.3 * (2 * torch.rand(8, generator=g) - 1))
    # |W x| <= 16 * 0.1 and |W s| <= 32 * 0.05: every current is below 1.3 + 1.6 < 3
    return model, torch.rand(500, 4, 16, generator=torch.Generator().manual_seed(1))


def test_snntorch_equals_spikede_while_no_membrane_stays_above_threshold() -> None:
    model, x = bounded_network()
    out, ours = spikede_euler(model, x)
    assert_fires(ours)
    with torch.no_grad():
        currents = [model[0](x), model[2](ours[0])]
    assert max(float(c.max()) for c in currents) < 3.0
    torch_out, theirs = peer_spikes("snntorch", model, x)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert torch.equal(a, b), f"layer {k}: {int((a != b).sum())} spikes differ"
    assert torch.equal(out, torch_out)


def test_snntorch_rule_after_a_reset_that_leaves_the_membrane_above_threshold() -> None:
    # One neuron, tau = 2, threshold 1; three strong steps leave v = 1.3125 after a reset.
    # spikeDE (and SpikingJelly): u = v + (I - v)/2, s = [u >= 1], v = u - s:
    #   I = 3.5: u = 1.75, 2.125, 2.3125 (spikes), v = 1.3125
    #   I = 1.5: u = 1.40625 (spike), 0.953125 (none), 1.2265625 (spike)
    # snnTorch's Leaky with reset_delay=False first subtracts the threshold from a membrane
    # that is still at or above it (R = 1) and fires on the rest, so from the fourth step
    # it needs u >= 2 to fire: u - 1 = 0.40625, 0.453125, 0.4765625 (no spikes).
    current = torch.tensor([3.5, 3.5, 3.5, 1.5, 1.5, 1.5]).reshape(6, 1, 1)
    identity = nn.Linear(1, 1)
    with torch.no_grad():
        identity.weight.fill_(1.0)
        identity.bias.zero_()
    model = nn.Sequential(identity, LIFNeuron())
    out, _ = spikede_euler(model, current)
    jelly, _ = peer_spikes("spikingjelly", model, current)
    torch_out, _ = peer_spikes("snntorch", model, current)
    assert out.flatten().tolist() == [1, 1, 1, 1, 0, 1]
    assert jelly.flatten().tolist() == [1, 1, 1, 1, 0, 1]
    assert torch_out.flatten().tolist() == [1, 1, 1, 0, 0, 0]


def test_suite_skips_a_missing_peer_with_a_note(tmp_path: Path) -> None:
    # A child interpreter where importing spikingjelly fails as if it were not installed.
    code = (
        "import sys, importlib.util, runpy\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'spikingjelly' else real(n, *a)\n"
        f"sys.argv = ['run.py', '--quick', '--workloads', 'w1', '--repeat', '1', '--no-memory',"
        f" '--in-process', '--out', {str(tmp_path / 'q.json')!r}]\n"
        f"runpy.run_path({str(BENCH / 'run.py')!r}, run_name='__main__')\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert res.returncode == 0, res.stderr
    assert "note: SpikingJelly is not installed: its cases are skipped" in res.stderr
    assert "| snnTorch |" in res.stdout
    assert "SpikingJelly |" not in res.stdout
