"""Train a fractional-order spiking network on scikit-learn's handwritten digits.

The main job of spikeDE, runnable on a fresh machine with ``hatch run demo``. It encodes the
8x8 digit images into spike trains, wraps an ordinary discrete-time SNN with
:class:`spikede.SNNWrapper`, trains it once with integer order (``alpha = 1``) and once with
a fractional order, reports test accuracy, prints each network's profile (firing rates,
synaptic operations, multiply-accumulates, the fractional history's cost and an energy
estimate, :func:`spikede.profile`), and saves a figure drawn with :mod:`spikede.plot`
(membrane trace of one neuron for both orders, spike rasters, firing rates, learning
curves) and the trained weights.

Examples:
    python examples/digits_fsnn.py                      # defaults: a few minutes on 2 cores
    python examples/digits_fsnn.py --alpha 0.5 --method l1 --epochs 10 --T 24
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from spikede import LIFNeuron, SNNWrapper, plot, profile


def encode(images: torch.Tensor, T: int, encoding: str, generator: torch.Generator) -> torch.Tensor:
    """Turn intensities in [0, 1] of shape [N, F] into spike trains [T, N, F]."""
    if encoding == "rate":
        prob = images.unsqueeze(0).expand(T, *images.shape)
        return torch.bernoulli(prob, generator=generator)
    # latency: brighter pixels fire earlier, once; dark pixels (< 0.05) never fire
    t_fire = torch.round((1.0 - images) * (T - 1)).long()
    spikes = torch.zeros(T, *images.shape)
    mask = images >= 0.05
    spikes.scatter_(0, t_fire.unsqueeze(0), mask.unsqueeze(0).float())
    return spikes


def build_model(hidden: int, tau: float, threshold: float) -> nn.Module:
    """An ordinary discrete-time SNN: Linear -> LIF -> Linear -> LIF -> Linear head."""
    return nn.Sequential(
        nn.Linear(64, hidden),
        LIFNeuron(tau=tau, threshold=threshold, surrogate="sigmoid"),
        nn.Linear(hidden, hidden),
        LIFNeuron(tau=tau, threshold=threshold, surrogate="sigmoid"),
        nn.Linear(hidden, 10),
    )


def accuracy(snn: SNNWrapper, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    snn.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[1], batch):
            logits = snn(x[:, i : i + batch]).mean(0)
            correct += int((logits.argmax(-1) == y[i : i + batch]).sum())
    snn.train()
    return correct / x.shape[1]


def train_one(alpha: float, args: argparse.Namespace, data: dict, label: str) -> dict:
    torch.manual_seed(args.seed)
    # alpha = 1 is the ordinary SNN: integer order, explicit Euler (fdeint/gl at alpha=1 is identical)
    integrator, method = ("odeint", "euler") if alpha == 1.0 else ("fdeint", args.method)
    snn = SNNWrapper(
        build_model(args.hidden, args.tau, args.threshold),
        integrator=integrator,
        **({"alpha": alpha} if integrator == "fdeint" else {}),  # odeint has no order
        method=method,
        learn_alpha=args.learn_alpha and integrator == "fdeint",
        options={"memory": args.memory} if args.memory else None,
    )
    opt = torch.optim.Adam(snn.parameters(), lr=args.lr)
    x_tr, y_tr, x_te, y_te = data["x_train"], data["y_train"], data["x_test"], data["y_test"]
    n = x_tr.shape[1]
    history = {"loss": [], "train_acc": [], "test_acc": []}
    gen = torch.Generator().manual_seed(args.seed)
    bar = tqdm(range(args.epochs), desc=f"{label}", unit="epoch", disable=args.no_progress)
    for _epoch in bar:
        perm = torch.randperm(n, generator=gen)
        total, count, correct = 0.0, 0, 0
        for i in range(0, n, args.batch_size):
            idx = perm[i : i + args.batch_size]
            logits = snn(x_tr[:, idx]).mean(0)
            loss = nn.functional.cross_entropy(logits, y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
            correct += int((logits.argmax(-1) == y_tr[idx]).sum())
        test_acc = accuracy(snn, x_te, y_te, args.batch_size)
        history["loss"].append(total / count)
        history["train_acc"].append(correct / count)
        history["test_acc"].append(test_acc)
        bar.set_postfix(loss=f"{total / count:.3f}", test_acc=f"{test_acc:.3f}")
    with torch.no_grad():
        snn.eval()
        _, rec = snn(x_te[:, :1], record=True)  # spikes and membranes of the first test digit
    return {
        "snn": snn,
        "history": history,
        "test_acc": history["test_acc"][-1],
        "recording": rec,
        "profile": profile(snn, x_te[:, : args.batch_size]),  # per test digit
        "traces": rec.membrane["1"][:, 0, :].numpy(),  # [T, hidden]: first hidden layer
        "alpha": [float(a.reshape(-1)[0]) for a in snn.get_per_layer_alpha()],
        "integrator": integrator,
        "method": method,
    }


def load_data(T: int, encoding: str, seed: int, limit: int | None) -> dict:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.data.astype(np.float32) / 16.0
    labels = digits.target.astype(np.int64)
    if limit:
        images, labels = images[:limit], labels[:limit]
    x_tr, x_te, y_tr, y_te = train_test_split(images, labels, test_size=0.25, random_state=seed, stratify=labels)
    gen = torch.Generator().manual_seed(seed)
    return {
        "x_train": encode(torch.from_numpy(x_tr), T, encoding, gen),
        "y_train": torch.from_numpy(y_tr),
        "x_test": encode(torch.from_numpy(x_te), T, encoding, gen),
        "y_test": torch.from_numpy(y_te),
    }


def save_figure(results: dict, path: Path, threshold: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    # show the hidden neuron that comes closest to firing most often in the first run
    first = next(iter(results.values()))["traces"]
    neuron = int((first >= 0.5 * threshold).sum(0).argmax())
    for row, (label, res) in enumerate(results.items()):
        plot.membrane(res["recording"], "1", neurons=[neuron], ax=axes[0, 0])
        axes[0, 0].get_lines()[-1].set_label(label)
        epochs = range(1, len(res["history"]["test_acc"]) + 1)
        axes[0, 1].plot(epochs, res["history"]["test_acc"], marker="o", label=f"{label} test")
        axes[0, 1].plot(epochs, res["history"]["train_acc"], ls="--", label=f"{label} train")
        plot.raster(res["recording"], "1", ax=axes[1, row])
        axes[1, row].set_title(f"hidden spikes, {label} (first test digit)")
        plot.firing_rates(res["profile"], ax=axes[row, 2])
        axes[row, 2].set_title(f"firing rates, {label} (test digits)")
    axes[0, 0].axhline(threshold, color="gray", ls=":", label="threshold")
    axes[0, 0].set(title=f"Membrane potential of hidden neuron {neuron} (first test digit)", xlabel="time step", ylabel="v")
    axes[0, 1].set(title="Learning curves", xlabel="epoch", ylabel="accuracy", ylim=(0, 1))
    for ax in axes[0, :2]:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alpha", type=float, default=0.6, help="fractional order to compare with alpha=1 (default 0.6)")
    p.add_argument("--method", default="gl", help="fdeint method: gl, l1, trap, pred (default gl)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--T", type=int, default=16, help="time steps per sample (default 16)")
    p.add_argument("--encoding", choices=("rate", "latency"), default="rate")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--tau", type=float, default=2.0)
    p.add_argument("--threshold", type=float, default=0.25)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--memory", type=int, default=None, help="short-memory truncation M (default: full history)")
    p.add_argument("--learn-alpha", action="store_true", help="learn the fractional order as well")
    p.add_argument("--limit", type=int, default=None, help="use only the first N digits (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", default="outputs/digits")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = load_data(args.T, args.encoding, args.seed, args.limit)
    print(
        f"digits: {data['x_train'].shape[1]} train / {data['x_test'].shape[1]} test, "
        f"{args.encoding}-encoded into T={args.T} steps"
    )
    results = {}
    start = time.time()
    for alpha in (1.0, args.alpha):
        label = f"alpha={alpha:g}"
        results[label] = train_one(alpha, args, data, label)
    elapsed = time.time() - start

    fig_path = out_dir / "digits_fsnn.png"
    save_figure(results, fig_path, args.threshold)
    summary = {"elapsed_s": round(elapsed, 1), "args": vars(args), "runs": {}}
    for label, res in results.items():
        prof = res["profile"]
        weights = out_dir / f"digits_fsnn_{label.replace('=', '')}.pt"
        torch.save(res["snn"].state_dict(), weights)
        summary["runs"][label] = {
            "test_acc": res["test_acc"],
            "history": res["history"],
            "alpha_after_training": res["alpha"],
            "integrator": res["integrator"],
            "weights": str(weights),
            "profile": {
                "synops": prof.synops,
                "macs": prof.macs,
                "history_macs": prof.history_macs,
                "energy_J": prof.energy(),
                "firing_rates": prof.firing_rates(),
            },
        }
        print(f"{label:>10}: test accuracy {res['test_acc']:.3f}  ({res['integrator']}), weights -> {weights}")
        print(f"\nprofile of {label}, per test digit ({prof.energy() * 1e9:.2f} nJ at 45 nm):\n{prof.table()}\n")
    (out_dir / "digits_fsnn.json").write_text(json.dumps(summary, indent=2))
    print(f"figure -> {fig_path}")
    print(f"summary -> {out_dir / 'digits_fsnn.json'}  (chance level 0.100; {elapsed:.0f} s)")
    return summary


if __name__ == "__main__":
    main()
