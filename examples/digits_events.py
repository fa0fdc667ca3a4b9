"""Train the digits SNN with spikes located as events (``dopri5``) and with explicit Euler.

The network of ``digits_fsnn.py`` (by default smaller, on fewer digits: an adaptive solve
restarts every sample at each of its spikes, so it costs far more than a grid step) trained
from the same initial weights twice, once with
``integrator="odeint", method="euler"`` on the unit grid and once with
``method="dopri5"`` (spikes at located threshold crossings, surrogate gradients at the
events), and prints both test accuracies.

Examples:
    OMP_NUM_THREADS=1 python examples/digits_events.py
    # the demo's network and data (all digits, 128 hidden neurons, batch 64, 8 epochs)
    python examples/digits_events.py --limit 0 --hidden 128 --batch-size 64 --lr 2e-3 --epochs 8
    python examples/digits_events.py --epochs 4 --limit 400 --method bosh3
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from digits_fsnn import accuracy, build_model, load_data
from torch import nn

from spikede import SNNWrapper


def train(model: nn.Module, method: str, options: dict | None, data: dict, args: argparse.Namespace) -> tuple[float, float]:
    snn = SNNWrapper(model, integrator="odeint", method=method, options=options)
    opt = torch.optim.Adam(snn.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    x_tr, y_tr = data["x_train"], data["y_train"]
    start = time.perf_counter()
    for epoch in range(args.epochs):
        perm = torch.randperm(x_tr.shape[1], generator=gen)
        for i in range(0, x_tr.shape[1], args.batch_size):
            idx = perm[i : i + args.batch_size]
            loss = nn.functional.cross_entropy(snn(x_tr[:, idx]).mean(0), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = accuracy(snn, data["x_test"], data["y_test"], args.batch_size)
        print(f"{method:>6} epoch {epoch + 1}: test accuracy {acc:.3f}", flush=True)
    return acc, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", default="dopri5", help="adaptive method: dopri5 or bosh3")
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--atol", type=float, default=1e-4)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--T", type=int, default=16)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--tau", type=float, default=2.0)
    p.add_argument("--threshold", type=float, default=0.25)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--limit", type=int, default=600, help="use only the first N digits")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    data = load_data(args.T, "rate", args.seed, args.limit)
    torch.manual_seed(args.seed)
    model = build_model(args.hidden, args.tau, args.threshold)
    results = {}
    for method, options in (("euler", None), (args.method, {"rtol": args.rtol, "atol": args.atol})):
        torch.manual_seed(args.seed)
        results[method] = train(copy.deepcopy(model), method, options, data, args)
    for method, (acc, seconds) in results.items():
        print(f"{method}: test accuracy {acc:.3f} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
