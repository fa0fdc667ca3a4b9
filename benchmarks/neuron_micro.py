"""Micro-benchmark: the cost of one neuron ``step(v, current)`` call (issue 8).

Usage (from the repository root)::

    python benchmarks/neuron_micro.py                 # all cases, [32, 128], float32
    python benchmarks/neuron_micro.py --repeat 21 --calls 2000
    python benchmarks/neuron_micro.py --package my_copy_of_spikede   # time another copy

In a solve the vector field calls every neuron's ``step`` once per evaluation; at the
sizes of the benchmark workloads (``[32, 128]`` on a CPU) the cost is the number of
torch operations and the Python overhead per call, not arithmetic. Each case times
``--calls`` consecutive calls, takes the per-call time, and reports the median over
``--repeat`` such runs (one thread, ``torch.set_num_threads(1)``):

* ``no-grad``: ``neuron.step(v, current)`` under ``torch.no_grad()``;
* ``fwd+bwd``: ``v`` and ``current`` require gradients; ``step`` followed by
  ``torch.autograd.grad`` of both outputs with respect to both inputs (fixed output
  gradients, so no reduction or accumulation is timed).

The ``floor`` row is a hand-written LIF step (``u = v + (I - v)/tau``, ``s = H(u - 1)``
with a sigmoid-surrogate ``autograd.Function``, ``dv = (I - v)/tau - s``), the same
arithmetic with no module machinery around it. Figures are microseconds per call.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from collections.abc import Callable

import torch
from run import _SpikeFn  # the floor's spike function (benchmarks/run.py)


def _floor_step(v: torch.Tensor, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    rate = (current - v) / 2.0
    s = _SpikeFn.apply(v + rate - 1.0)
    return rate - s, s


def _per_call_us(fn: Callable[[], object], calls: int, repeat: int) -> float:
    for _ in range(max(10, calls // 10)):  # warm-up
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def _cases(package: str) -> dict[str, Callable[[], Callable]]:
    mod = importlib.import_module(package)
    return {
        "floor (hand-written LIF)": lambda: _floor_step,
        "IFNeuron": lambda: mod.IFNeuron().step,
        "LIFNeuron": lambda: mod.LIFNeuron().step,
        "LIFNeuron dt=0.5": lambda: _with_dt(mod.LIFNeuron(), 0.5).step,
        "LIFNeuron learn_tau": lambda: mod.LIFNeuron(learn_tau=True).step,
        "LIFNeuron detach_reset": lambda: mod.LIFNeuron(detach_reset=True).step,
        "HardResetLIFNeuron": lambda: mod.HardResetLIFNeuron().step,
        "NoisyLIFNeuron (train)": lambda: mod.NoisyLIFNeuron().step,
        "NoisyLIFNeuron (eval)": lambda: mod.NoisyLIFNeuron().eval().step,
        "LIFNeuron arctan": lambda: mod.LIFNeuron(surrogate="arctan").step,
    }


def _with_dt(neuron, dt: float):
    neuron.dt = dt
    return neuron


def main(argv: list[str] | None = None) -> None:
    """Time every case and print a markdown table of microseconds per call."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per timed run")
    parser.add_argument("--repeat", type=int, default=11, help="timed runs (median)")
    parser.add_argument("--shape", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--package", default="spikede", help="package to import neurons from")
    parser.add_argument("--only", default=None, help="run only cases containing this text")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    v0 = torch.rand(args.shape, dtype=dtype)
    i0 = 3.0 * torch.rand(args.shape, dtype=dtype) - 0.5
    vg = v0.clone().requires_grad_(True)
    ig = i0.clone().requires_grad_(True)
    g_dv, g_s = torch.ones_like(v0), torch.ones_like(v0)

    print(f"| case ({args.package}, {list(args.shape)}, {args.dtype}) | no-grad us | fwd+bwd us |")
    print("|---|---:|---:|")
    for name, make in _cases(args.package).items():
        if args.only and args.only not in name:
            continue
        step = make()

        def no_grad(step=step) -> None:
            with torch.no_grad():
                step(v0, i0)

        def fwd_bwd(step=step) -> None:
            dv, s = step(vg, ig)
            torch.autograd.grad((dv, s), (vg, ig), (g_dv, g_s))

        t0 = _per_call_us(no_grad, args.calls, args.repeat)
        t1 = _per_call_us(fwd_bwd, args.calls, args.repeat)
        print(f"| {name} | {t0:.1f} | {t1:.1f} |")


if __name__ == "__main__":
    main()
