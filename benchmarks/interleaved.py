"""The suite's cases alternated call by call in one process: ratios to the first case.

Run: ``python benchmarks/interleaved.py [--workload w1] [--T 1000]
[--cases "SpikingJelly,gl full,gl soe,odeint euler,snnTorch"] [--rounds 9]``.

``run.py`` times every case in its own child process, paired with the plain loop; on a
shared machine whose speed changes from one process to the next, its "vs SJ" column
moves with SpikingJelly's own pairing. Here every case of one workload is built in one
process (``run.build``: the same networks, weights and inputs) and warmed up, then each
round times one forward and one forward+backward call of every case in turn. A case's
ratio is the median over the rounds of its time divided by the first case's time in the
same round, with the middle half of those per-round ratios in brackets. No memory is
measured.
"""

from __future__ import annotations

import argparse
import statistics
import time

import run as suite
import torch


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", default="w1", choices=("w1", "w2"))
    p.add_argument("--T", type=int, default=1000)
    p.add_argument("--cases", default="SpikingJelly,gl full,gl soe,odeint euler,snnTorch")
    p.add_argument("--rounds", type=int, default=9)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    known = {c.label: c for c in suite.cases_for([args.workload], {args.workload: [args.T]}, False)}
    labels = [name.strip() for name in args.cases.split(",")]
    missing = [name for name in labels if name not in known]
    if missing:
        raise SystemExit(f"unknown or unavailable cases {missing}; available: {sorted(known)}")
    built = {name: suite.build(known[name]) for name in labels}
    rates = {name: suite.firing_rates(known[name]) for name in labels}
    for fwd, both in built.values():
        fwd()
        both()
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in labels}
    for _ in range(args.rounds):
        for name in labels:
            for k, fn in enumerate(built[name]):
                start = time.perf_counter()
                fn()
                times[name][k].append(time.perf_counter() - start)
    ref = labels[0]
    print(f"| case ({args.workload}, T = {args.T}) | fwd | fwd+bwd | fwd vs {ref} | fwd+bwd vs {ref} | firing rates |")
    print("|---|---|---|---|---|---|")
    for name in labels:
        med = [statistics.median(times[name][k]) * 1e3 for k in (0, 1)]
        ratio = [_spread([a / b for a, b in zip(times[name][k], times[ref][k])]) for k in (0, 1)]
        layer_rates = " / ".join(f"{r:.3f}" for r in rates[name] or [])
        print(
            f"| {name} | {med[0]:.1f} ms | {med[1]:.1f} ms | {ratio[0]} | {ratio[1]} | {layer_rates} |",
            flush=True,
        )


def _spread(ratios: list[float]) -> str:
    """The median of the per-round ratios and, from 4 rounds on, their middle half: on a
    shared machine the spread tells whether two cases really differ."""
    median = statistics.median(ratios)
    if len(ratios) < 4:
        return f"{median:.2f}x"
    low, _, high = statistics.quantiles(ratios, n=4)
    return f"{median:.2f}x ({low:.2f}-{high:.2f})"


if __name__ == "__main__":
    main()
