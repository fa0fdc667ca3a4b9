"""Streaming: the time and memory of one chunk call against the number of chunks before it.

Usage (from the repository root)::

    python benchmarks/streaming.py                      # 1000 chunks, figure + JSON
    python benchmarks/streaming.py --chunks 200 --full-chunks 100

A network (Linear(64,128)-LIF-Linear(128,10)-LIF, batch 8, alpha 0.6, float32, ``gl``)
reads one long input in chunks of ``--steps`` samples, each call continuing from the
previous call's ``State`` under ``torch.no_grad()``. For ``history="soe"``, ``memory=32``
and the full history, the script records per chunk the wall time of the call and the
bytes the returned state holds (its tensors), writes them to
``benchmarks/results/streaming.json`` and draws ``docs/assets/streaming.png``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn

from spikede import LIFNeuron, SNNWrapper

ROOT = Path(__file__).resolve().parent.parent
MODES = {"soe": {"history": "soe"}, "memory=32": {"memory": 32}, "full": None}


def state_bytes(state) -> int:
    """Bytes held by the tensors of a ``spikede.State``."""
    h = state.history
    tensors = [h.times, *h.y, *h.y0, state.samples, state.sample_times]
    tensors += [v for vs in h.carry.values() for v in vs]
    for s in h.saved:
        if s is not None:
            tensors += [s.rows] + ([] if s.sums is None else [s.sums])
    return sum(t.numel() * t.element_size() for t in tensors)


def measure(options, chunks: int, steps: int) -> tuple[list[float], list[int]]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), LIFNeuron(), nn.Linear(128, 10), LIFNeuron())
    snn = SNNWrapper(model, alpha=0.6, options=options)
    x = torch.rand(steps, 8, 64) * 2.0
    times, sizes, state = [], [], None
    with torch.no_grad():
        for _ in range(chunks):
            start = time.perf_counter()
            _, state = snn(x, initial_state=state, return_state=True)
            times.append(time.perf_counter() - start)
            sizes.append(state_bytes(state))
    return times, sizes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chunks", type=int, default=1000)
    p.add_argument("--full-chunks", type=int, default=300, help="chunks for the full history")
    p.add_argument("--steps", type=int, default=20, help="samples per chunk")
    p.add_argument("--no-figure", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    results = {}
    for name, options in MODES.items():
        n = a.full_chunks if name == "full" else a.chunks
        t, s = measure(options, n, a.steps)
        results[name] = {"seconds": t, "state_bytes": s}
        print(
            f"{name:10s} chunks 2-11: {1e3 * sum(t[1:11]) / 10:.2f} ms, last 10: "
            f"{1e3 * sum(t[-10:]) / 10:.2f} ms; state {s[1] / 1e3:.1f} kB -> {s[-1] / 1e3:.1f} kB"
        )
    out = ROOT / "benchmarks" / "results" / "streaming.json"
    out.write_text(json.dumps({"steps": a.steps, "batch": 8, "results": results}))
    if not a.no_figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
        for name, r in results.items():
            k = range(1, len(r["seconds"]) + 1)
            ax1.plot(k, [1e3 * v for v in r["seconds"]], label=name, lw=0.8)
            ax2.plot(k, [v / 1e6 for v in r["state_bytes"]], label=name)
        ax1.set(xlabel="chunk index", ylabel="time per chunk call (ms)", yscale="log")
        ax2.set(xlabel="chunk index", ylabel="state size (MB)", yscale="log")
        ax1.legend()
        fig.suptitle(f"Streaming {a.steps}-sample chunks (gl, alpha 0.6, batch 8, float32, CPU)")
        fig.tight_layout()
        fig.savefig(ROOT / "docs" / "assets" / "streaming.png", dpi=110)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
