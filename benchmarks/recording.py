"""What recording costs: forward time without ``record``, with one layer, with every layer.

Usage (from the repository root)::

    python benchmarks/recording.py                # W1, T=200, batch 32, gl and euler
    python benchmarks/recording.py --T 500 --repeat 9

W1 is Linear(64,128)-LIF-Linear(128,10)-LIF with inputs ``[T, 32, 64]``. Each case is
timed as the median of ``--repeat`` calls after one warm-up, with the three variants of a
case interleaved call by call (so a slow spell of a shared machine affects them alike);
``fwd`` runs under ``torch.no_grad()``, ``fwd+bwd`` adds ``backward()`` of the summed
output. Run it from two checkouts (``PYTHONPATH``) to compare a call without ``record``
across versions: the figures of that column are the same code path.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from spikede import LIFNeuron, SNNWrapper


def w1() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 128), LIFNeuron(), nn.Linear(128, 10), LIFNeuron())


def call(snn: SNNWrapper, x: torch.Tensor, record: object, grad: bool) -> None:
    with torch.set_grad_enabled(grad):
        out = snn(x) if record is None else snn(x, record=record)[0]
        if grad:
            out.sum().backward()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", type=int, default=200)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    x = torch.rand(args.T, 32, 64)
    variants = {"no record": None, "record=['1']": ["1"], "record=True": True}
    print(f"| case | pass | {' | '.join(variants)} |")
    print(f"|---|---|{'---:|' * len(variants)}")
    for label, kw in (("gl", {"alpha": 0.6}), ("euler", {"integrator": "odeint"})):
        snn = SNNWrapper(w1(), **kw)
        for grad in (False, True):
            times: dict[str, list[float]] = {v: [] for v in variants}
            for record in variants.values():
                call(snn, x[:10], record, grad)  # warm-up
            for _ in range(args.repeat):
                for name, record in variants.items():
                    start = time.perf_counter()
                    call(snn, x, record, grad)
                    times[name].append(time.perf_counter() - start)
            cells = " | ".join(f"{1e3 * statistics.median(t):.1f} ms" for t in times.values())
            print(f"| W1 {label} T={args.T} | {'fwd+bwd' if grad else 'fwd'} | {cells} |")


if __name__ == "__main__":
    main()
