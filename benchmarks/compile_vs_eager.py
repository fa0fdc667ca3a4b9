"""``compile=True`` against eager on the suite's W1 and W2, one thread.

Run: ``python benchmarks/compile_vs_eager.py [--T w1=1000,w2=200] [--repeat 5]
[--chunk N] [--states]``.

The networks, weights and inputs are those of ``run.py`` (every layer fires; the rates are
printed). Cases: ``odeint``/``euler`` and ``fdeint``/``gl`` with ``history="soe"``. Each
wrapper is warmed up (forward and backward, so that both compiled graphs exist, one for
grad mode and one without), twice; then eager and compiled calls alternate, and a ratio is the
median over the repeats of ``compiled / eager`` of adjacent calls (the machine's slow
spells hit both sides of a pair). With ``--chunk N`` a call streams the input in chunks
of ``N`` steps, each continuing the previous chunk's state (``return_state`` /
``initial_state``; in training each chunk backpropagates and its state is detached).
With ``--states`` every call also returns the membranes (``return_states=True``; the
training loss adds their sum).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import run as suite
import torch

from spikede import SNNWrapper

#: The suite's cases compared (``run.cases_for`` labels).
LABELS = ("odeint euler", "gl soe")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", default="w1=1000,w2=200", help="steps per workload, e.g. w1=400,w2=100")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--chunk", type=int, default=0, help="stream in chunks of this many steps")
    p.add_argument("--states", action="store_true", help="return_states=True in every call")
    args = p.parse_args(argv)
    lengths = {k: int(v) for k, v in (item.split("=") for item in args.T.split(","))}
    torch.set_num_threads(1)
    extra = {"return_states": True} if args.states else {}

    def loss(result: Any) -> torch.Tensor:
        """The output's sum, plus the membranes' with ``--states``."""
        if not args.states:
            return result.sum()
        out, states = result
        return out.sum() + sum(v.sum() for v in states)

    def call(snn: SNNWrapper, part: torch.Tensor, state: Any, options: dict | None) -> tuple:
        """One chunk: its result without the state, and the state it saves."""
        if not args.chunk:
            return snn(part, options=options, **extra), None
        *result, state = snn(part, options=options, return_state=True, initial_state=state, **extra)
        return (result[0] if len(result) == 1 else tuple(result)), state

    print("| workload | case | eager fwd / fwd+bwd | compiled fwd / fwd+bwd | compiled / eager | rates |")
    print("|---|---|---|---|---|---|")
    for workload, T in lengths.items():
        cases = {c.label: c for c in suite.cases_for([workload], {workload: [T]}, False)}
        for label in LABELS:
            case = cases[label]
            options = case.options or None
            torch.manual_seed(0)
            model = suite._w1_model() if workload == "w1" else suite._w2_model()
            x = suite._input(workload, T)
            snns = {
                flag: SNNWrapper(model, integrator=case.integrator, alpha=suite.ALPHA, method=case.method, compile=flag)
                for flag in (False, True)
            }

            chunks = x.split(args.chunk) if args.chunk else (x,)

            def fwd(snn: SNNWrapper, options: dict | None = options, chunks: tuple = chunks) -> None:
                state = None
                with torch.no_grad():
                    for part in chunks:
                        _, state = call(snn, part, state, options)

            def both(snn: SNNWrapper, options: dict | None = options, chunks: tuple = chunks) -> None:
                state = None
                for part in chunks:
                    result, state = call(snn, part, state, options)
                    loss(result).backward()
                    if state is not None:
                        state = state.detach()  # truncated backpropagation through time

            for _ in range(2):  # the first no-grad call after the first training call is slow too
                for snn in snns.values():
                    fwd(snn)
                    both(snn)
            times: dict[tuple[bool, int], list[float]] = {(f, k): [] for f in snns for k in (0, 1)}
            for r in range(args.repeat):
                order = (False, True) if r % 2 == 0 else (True, False)
                for k, fn in enumerate((fwd, both)):
                    for flag in order:
                        start = time.perf_counter()
                        fn(snns[flag])
                        times[(flag, k)].append(time.perf_counter() - start)
            ratio = [
                statistics.median(c / e for c, e in zip(times[(True, k)], times[(False, k)]))
                for k in (0, 1)
            ]
            med = {key: statistics.median(v) * 1e3 for key, v in times.items()}
            rates = " / ".join(f"{r:.3f}" for r in suite.firing_rates(case) or [])
            print(
                f"| {workload} T={T}{f' in chunks of {args.chunk}' if args.chunk else ''}{', return_states' if args.states else ''} | {label} | {med[(False, 0)]:.1f} / {med[(False, 1)]:.1f} ms "
                f"| {med[(True, 0)]:.1f} / {med[(True, 1)]:.1f} ms "
                f"| {ratio[0]:.2f}x / {ratio[1]:.2f}x | {rates} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
