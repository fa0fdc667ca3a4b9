"""Error of the fast (SOE) history against the exact full history, on W1 in float64.

Usage (from the repository root)::

    python benchmarks/soe_error.py            # T = 1000, every fractional method
    python benchmarks/soe_error.py --T 4000 --methods gl

For each method, W1 (Linear(64,128)-LIF-Linear(128,10)-LIF, batch 32, alpha 0.5, learnable)
(biases raised and the second layer's weights scaled so
that both layers spike) runs once with the full history and once with ``options={"history": "soe"}``; the script
prints, as a markdown table, the relative error of the output spike counts
(``|sum(out_soe) - sum(out_full)| / sum(out_full)``), the largest relative error of the
membrane traces of each layer (``max |v_soe - v_full| / max |v_full|``), the number of
output spikes that differ, and the relative error of the gradient of the orders.
"""

from __future__ import annotations

import argparse
import sys

import torch
from torch import nn

from spikede import LIFNeuron, SNNWrapper


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", type=int, default=1000, help="sequence length")
    p.add_argument("--methods", default="gl,l1,trap,pred", help="comma list of methods")
    p.add_argument("--soe-terms", type=int, default=None, help="options['soe_terms']")
    p.add_argument("--soe-window", type=int, default=None, help="options['soe_window']")
    p.add_argument("--soe-tol", type=float, default=None, help="options['soe_tol']")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), LIFNeuron(), nn.Linear(128, 10), LIFNeuron())
    model = model.double()
    with torch.no_grad():  # drive both layers so that they spike (about 17% output rate)
        model[0].bias.add_(1.0)
        model[2].weight.mul_(4.0)
        model[2].bias.add_(0.5)
    net = SNNWrapper(model, alpha=0.5, learn_alpha=True).double()
    x = 2.0 * torch.rand(args.T, 32, 64, dtype=torch.float64)
    print(
        "| method | T | output spikes (full) | spike-count rel. error | spikes differing "
        "| membrane rel. error (layer 1, 2) | alpha-gradient rel. error |"
    )
    print("|---|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        runs = []
        soe: dict = {"history": "soe"}
        if args.soe_terms is not None:
            soe["soe_terms"] = args.soe_terms
        if args.soe_window is not None:
            soe["soe_window"] = args.soe_window
        if args.soe_tol is not None:
            soe["soe_tol"] = args.soe_tol
        for opts in ({}, soe):
            net.zero_grad()
            out, states = net(x, method=method, options=opts, return_states=True)
            (out.sum() + sum(s.mean() for s in states)).backward()
            grad = torch.stack([o.order.grad.reshape(()) for o in net.orders])
            runs.append((out.detach(), [s.detach() for s in states], grad))
        (out_f, st_f, g_f), (out_s, st_s, g_s) = runs
        count_f = out_f.sum().item()
        count_err = abs(out_s.sum().item() - count_f) / max(count_f, 1.0)
        differing = int((out_s != out_f).sum())
        mem_err = [((a - b).abs().max() / a.abs().max()).item() for a, b in zip(st_f, st_s)]
        grad_err = ((g_s - g_f).abs().max() / g_f.abs().max()).item()
        print(
            f"| {method} | {args.T} | {count_f:.0f} | {count_err:.1e} | {differing} | "
            f"{mem_err[0]:.1e}, {mem_err[1]:.1e} | {grad_err:.1e} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
