"""The benchmark script runs (smoke, ``--quick``), its memory probe sees torch allocations,
and the wrapper's performance options (fast history, checkpointing) keep the numerics.

No timing is asserted here: benchmarks are scripts (``hatch run bench:run``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from spikede import LIFNeuron, SNNWrapper

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "run.py"


def test_benchmark_quick_smoke(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    res = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--repeat", "1", "--no-memory", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("| workload | T / N | case |")
    data = json.loads(out.read_text(encoding="utf-8"))
    rows = data["rows"]
    assert {r["workload"] for r in rows} == {"w1", "w2", "solver"}
    for r in rows:
        assert r["fwd_s"] > 0 and r["fwd_bwd_s"] > 0
        assert r["fwd_ratio"] > 0 and r["fwd_bwd_ratio"] > 0
        if r["integrator"] in ("floor", "solver-floor"):
            assert r["fwd_ratio"] == 1.0
    assert {"gl soe", "gl full", "gl memory=50", "odeint euler"} <= {r["case"] for r in rows}


def test_benchmark_rejects_unknown_workload() -> None:
    res = subprocess.run(
        [sys.executable, str(SCRIPT), "--workloads", "w9", "--no-memory"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode != 0
    assert "w9" in res.stderr


def test_memory_probe_sees_torch_allocations() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import run as bench
    finally:
        sys.path.remove(str(SCRIPT.parent))

    def allocate() -> None:
        # 3 x 4 MiB live at once (float32, 2**20 elements each), then freed.
        keep = [torch.ones(2**20) for _ in range(3)]
        del keep

    peak = bench.peak_memory_mib(allocate)
    assert 12.0 <= peak < 12.5


@pytest.mark.parametrize("options", [{"checkpoint": True}, {"history": "soe"}])
def test_wrapper_performance_options_keep_gradients(options: dict) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), LIFNeuron(), nn.Linear(16, 4), LIFNeuron()).double()
    net = SNNWrapper(model, alpha=0.6, learn_alpha=True)
    steps = 300  # more than two blocks of the precomputed input part
    x = 3.0 * torch.rand(steps, 3, 8, dtype=torch.float64)
    weights = torch.linspace(0.0, 1.0, steps * 3 * 4, dtype=torch.float64).reshape(steps, 3, 4)
    results = []
    for opts in ({}, options):
        net.zero_grad()
        out, states = net(x, options=opts, return_states=True)
        ((out * weights).sum() + sum(s.pow(2).sum() for s in states)).backward()
        results.append((out.detach(), [p.grad.clone() for p in net.parameters()]))
    (out_a, grads_a), (out_b, grads_b) = results
    assert torch.equal(out_a, out_b)
    assert grads_a[-1].abs().sum() > 0  # the learnable orders get gradients
    for a, b in zip(grads_a, grads_b):
        assert torch.allclose(a, b, rtol=1e-7, atol=1e-10)
    assert net.odefunc.x is None  # no input reference is kept after backward
