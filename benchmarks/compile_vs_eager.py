"""compile=True against eager on W1 (T = 400) and W2 (T = 100), odeint/euler, one thread.

Run: ``python benchmarks/compile_vs_eager.py``. Each wrapper is warmed up (forward and
backward, so that both compiled graphs exist) before the best of three timed calls.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from spikede import LIFNeuron, SNNWrapper


def w1() -> tuple[nn.Module, torch.Tensor]:
    m = nn.Sequential(nn.Linear(64, 128), LIFNeuron(), nn.Linear(128, 10), LIFNeuron())
    return m, torch.rand(400, 32, 64) * 2


def w2() -> tuple[nn.Module, torch.Tensor]:
    m = nn.Sequential(
        nn.Conv2d(2, 16, 3), LIFNeuron(), nn.Conv2d(16, 32, 3, stride=2), LIFNeuron(),
        nn.Flatten(), nn.Linear(32 * 6 * 6, 10), LIFNeuron(),
    )
    return m, torch.rand(100, 16, 2, 16, 16) * 2


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    for workload in (w1, w2):
        model, x = workload()
        cases = {
            "eager": SNNWrapper(model, integrator="odeint"),
            "compiled": SNNWrapper(model, integrator="odeint", compile=True),
        }
        for snn in cases.values():
            snn(x).sum().backward()
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(3):
            for name, snn in cases.items():
                start = time.perf_counter()
                with torch.no_grad():
                    snn(x)
                fwd = time.perf_counter() - start
                start = time.perf_counter()
                snn(x).sum().backward()
                times[name].append((fwd, time.perf_counter() - start))
        for name, runs in times.items():
            fwd, both = min(r[0] for r in runs), min(r[1] for r in runs)
            print(f"{workload.__name__} {name:9s} fwd {fwd * 1e3:7.1f} ms  fwd+bwd {both * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
