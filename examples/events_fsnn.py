"""Fractional-order spiking networks on emulated event-camera digits, and their robustness.

scikit-learn's 8x8 digits are turned into N-MNIST-like event streams by
:func:`spikede.events.saccade_events` (34x34 sensor, three saccades, 300 ms), binned into
frames by Tonic's ``ToFrame``, and classified by a small convolutional SNN wrapped with
:class:`spikede.SNNWrapper`: integer order (``alpha = 1``, ``odeint``) against fractional
orders (``fdeint``, Grünwald–Letnikov), several seeds each. The trained networks are then
tested on corrupted event streams: background-noise events, dropped events and an occluding
patch. A table, a figure and a JSON summary go to ``outputs/events/``.

Examples:
    python examples/events_fsnn.py              # the full study (about 10 minutes on 2 cores)
    python examples/events_fsnn.py --quick      # a smoke run (under 2 minutes)
    python examples/events_fsnn.py --alphas 0.5 --seeds 5 --epochs 8
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

from spikede import LIFNeuron, SNNWrapper
from spikede.events import NMNIST_SENSOR_SIZE, emulate_events, saccade_events

DURATION_US = 300_000  # three saccades of 100 ms
INSET = 3  # the 8x8 digit covers the 28x28 centre of the 34x34 sensor


# --------------------------------------------------------------------------- events


def digit_events(images: np.ndarray, step_us: int, progress: bool, desc: str) -> list[np.ndarray]:
    """Event streams of ``images`` (intensities in [0, 1]) through three saccades."""
    bar = tqdm(images, desc=desc, unit="digit", disable=not progress, leave=False)
    return [saccade_events(image, step_us=step_us) for image in bar]


def add_noise(streams: list[np.ndarray], rate_hz: float, seed: int) -> list[np.ndarray]:
    """Background-activity noise of ``rate_hz`` per pixel, merged into each stream.

    Without a refractory period the emulator's noise is independent of the scene, so
    ``saccade_events(image, noise_rate_hz=r)`` is the clean stream merged with the noise
    of a still sensor (drawn here once per stream, without emulating the digit again).
    """
    rng = np.random.default_rng(seed)
    still = np.zeros((2, NMNIST_SENSOR_SIZE[1], NMNIST_SENSOR_SIZE[0]))
    out = []
    for ev in streams:
        noise = emulate_events(still, np.array([0, DURATION_US]), noise_rate_hz=rate_hz, rng=rng)
        merged = np.concatenate([ev, noise])
        out.append(merged[np.argsort(merged["t"], kind="stable")])
    return out


def drop_events(streams: list[np.ndarray], fraction: float, seed: int) -> list[np.ndarray]:
    """Tonic's ``DropEvent``: remove a fraction of each stream's events at random."""
    import tonic

    np.random.seed(seed)  # Tonic's random transforms draw from numpy's global generator
    drop = tonic.transforms.DropEvent(p=fraction)
    return [drop(ev) for ev in streams]


def occlude(streams: list[np.ndarray], side: int, seed: int) -> list[np.ndarray]:
    """Remove the events inside a ``side`` x ``side`` patch placed at random on the digit."""
    rng = np.random.default_rng(seed)
    out = []
    for ev in streams:
        x0, y0 = rng.integers(INSET, NMNIST_SENSOR_SIZE[0] - INSET - side + 1, size=2)
        inside = (ev["x"] >= x0) & (ev["x"] < x0 + side) & (ev["y"] >= y0) & (ev["y"] < y0 + side)
        out.append(ev[~inside])
    return out


def to_frames(streams: list[np.ndarray], T: int) -> torch.Tensor:
    """Tonic's ``ToFrame`` on T fixed bins, events summed over 2x2 blocks: [T, N, 2, 17, 17].

    Fixed windows (``time_window`` with ``start_time``/``end_time``) keep the bins at the
    same times for every recording; ``n_time_bins`` would stretch them between each
    recording's first and last event, which noise events move.
    """
    import tonic

    to_frame = tonic.transforms.ToFrame(
        sensor_size=NMNIST_SENSOR_SIZE,
        time_window=DURATION_US / T,
        start_time=0,
        end_time=DURATION_US,
    )
    frames = torch.from_numpy(np.stack([to_frame(ev) for ev in streams]).astype(np.float32))
    frames = 4.0 * nn.functional.avg_pool2d(frames.flatten(0, 1), 2).unflatten(0, frames.shape[:2])
    return frames.transpose(0, 1).contiguous()  # time first, as SNNWrapper takes it


def bin_centres(T: int) -> torch.Tensor:
    """``x_time``: the bins' centre times, in units of one bin (DURATION_US / T)."""
    return torch.arange(T, dtype=torch.float32) + 0.5


# --------------------------------------------------------------------------- network


def build_model(tau: float, threshold: float) -> nn.Module:
    """Conv(2->8, 5, s2)-LIF-Conv(8->16, 3, s2)-LIF-Flatten-Linear on 17x17 frames."""
    return nn.Sequential(
        nn.Conv2d(2, 8, 5, stride=2),  # 17 -> 7
        LIFNeuron(tau=tau, threshold=threshold, surrogate="sigmoid"),
        nn.Conv2d(8, 16, 3, stride=2),  # 7 -> 3
        LIFNeuron(tau=tau, threshold=threshold, surrogate="sigmoid"),
        nn.Flatten(),
        nn.Linear(16 * 3 * 3, 10),
    )


def make_snn(alpha: float, args: argparse.Namespace) -> SNNWrapper:
    model = build_model(args.tau, args.threshold)
    if alpha == 1.0:
        return SNNWrapper(model, integrator="odeint", method="euler")
    return SNNWrapper(model, integrator="fdeint", alpha=alpha, method="gl")


def accuracy(snn: SNNWrapper, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    x_time = bin_centres(x.shape[0])
    snn.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[1], batch):
            logits = snn(x[:, i : i + batch], x_time).mean(0)
            correct += int((logits.argmax(-1) == y[i : i + batch]).sum())
    snn.train()
    return correct / x.shape[1]


def train(alpha: float, seed: int, data: dict, args: argparse.Namespace) -> SNNWrapper:
    torch.manual_seed(seed)
    snn = make_snn(alpha, args)
    opt = torch.optim.Adam(snn.parameters(), lr=args.lr)
    x, y = data["x_train"], data["y_train"]
    x_time = bin_centres(x.shape[0])
    gen = torch.Generator().manual_seed(seed)
    label = f"alpha={alpha:g} seed={seed}"
    steps = args.epochs * ((x.shape[1] + args.batch_size - 1) // args.batch_size)
    bar = tqdm(total=steps, desc=label, unit="batch", disable=not args.progress, leave=False)
    for _epoch in range(args.epochs):
        perm = torch.randperm(x.shape[1], generator=gen)
        for i in range(0, x.shape[1], args.batch_size):
            idx = perm[i : i + args.batch_size]
            loss = nn.functional.cross_entropy(snn(x[:, idx], x_time).mean(0), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            bar.update()
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    bar.close()
    return snn


# --------------------------------------------------------------------------- study


def load_streams(args: argparse.Namespace) -> dict:
    """Clean train/test streams and every corrupted test set, as frames."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images, labels = digits.images / 16.0, digits.target.astype(np.int64)
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    im_tr, im_te, y_tr, y_te = train_test_split(
        images, labels, test_size=0.25, random_state=0, stratify=labels
    )
    show = args.progress
    train_ev = digit_events(im_tr, args.step_us, show, "events (train)")
    test_ev = digit_events(im_te, args.step_us, show, "events (test)")
    tests = {("clean", 0.0): to_frames(test_ev, args.T)}
    for rate in args.noise_rates:
        tests[("noise_hz", rate)] = to_frames(add_noise(test_ev, rate, 100 + int(rate)), args.T)
    for fraction in args.drop_fractions:
        tests[("drop_fraction", fraction)] = to_frames(drop_events(test_ev, fraction, 1), args.T)
    for side in args.occlusion_sides:
        tests[("occlusion_px", float(side))] = to_frames(occlude(test_ev, side, 2), args.T)
    return {
        "x_train": to_frames(train_ev, args.T),
        "y_train": torch.from_numpy(y_tr),
        "tests": tests,
        "y_test": torch.from_numpy(y_te),
        "events_per_digit": float(np.mean([len(ev) for ev in train_ev])),
    }


def summarise(acc: dict, alphas: list[float], tests: list[tuple[str, float]]) -> dict:
    """Mean and std over seeds of every (alpha, test set)."""
    out = {}
    for alpha in alphas:
        rows = {}
        for kind, level in tests:
            values = np.array(acc[alpha][(kind, level)])
            rows[f"{kind}={level:g}"] = {
                "mean": float(values.mean()),
                "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
                "runs": values.tolist(),
            }
        out[f"alpha={alpha:g}"] = rows
    return out


def table(summary: dict, tests: list[tuple[str, float]]) -> str:
    """A Markdown table: one row per test set, one column per alpha (mean ± std)."""
    alphas = list(summary)
    lines = [
        "| test set | " + " | ".join(alphas) + " |",
        "|---|" + "---|" * len(alphas),
    ]
    names = {
        "clean": "clean",
        "noise_hz": "noise (Hz/pixel)",
        "drop_fraction": "dropped",
        "occlusion_px": "occlusion (px)",
    }
    for kind, level in tests:
        key = f"{kind}={level:g}"
        cells = [f"{summary[a][key]['mean']:.3f} ± {summary[a][key]['std']:.3f}" for a in alphas]
        name = names[kind] if kind == "clean" else f"{names[kind]} {level:g}"
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def save_figure(summary: dict, tests: list[tuple[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("noise_hz", "background noise (events / pixel / s)"),
        ("drop_fraction", "fraction of events dropped"),
        ("occlusion_px", "side of the occluding patch (px)"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    for ax, (kind, xlabel) in zip(axes, panels):
        levels = [0.0] + [lv for k, lv in tests if k == kind]
        for label, rows in summary.items():
            keys = ["clean=0"] + [f"{kind}={lv:g}" for lv in levels[1:]]
            mean = np.array([rows[k]["mean"] for k in keys])
            std = np.array([rows[k]["std"] for k in keys])
            line = ax.plot(levels, mean, marker="o", label=label)[0]
            ax.fill_between(levels, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        ax.axhline(0.1, color="gray", ls=":", lw=1)  # chance
        ax.set(xlabel=xlabel, ylim=(0, 1))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (mean ± std over seeds)")
    axes[-1].legend(fontsize=8)
    fig.suptitle("Emulated event-camera digits: accuracy under corruption, per order alpha")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke run: few digits, one seed")
    p.add_argument(
        "--alphas",
        type=float,
        nargs="+",
        default=[0.3, 0.5, 0.8],
        help="fractional orders compared with alpha=1 (default 0.3 0.5 0.8)",
    )
    p.add_argument("--seeds", type=int, default=3, help="seeds per order (default 3)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--T", type=int, default=16, help="time bins of ToFrame (default 16)")
    p.add_argument("--tau", type=float, default=2.0, help="LIF time constant, in bins")
    p.add_argument("--threshold", type=float, default=0.25)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--step-us", type=int, default=2000, help="emulator sampling step (us)")
    p.add_argument("--noise-rates", type=float, nargs="+", default=[5.0, 15.0, 40.0, 100.0])
    p.add_argument("--drop-fractions", type=float, nargs="+", default=[0.3, 0.6, 0.8, 0.9])
    p.add_argument("--occlusion-sides", type=int, nargs="+", default=[6, 10, 14, 18])
    p.add_argument("--limit", type=int, default=None, help="use only the first N digits")
    p.add_argument("--out-dir", default="outputs/events")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    args = p.parse_args(argv)
    if args.quick:
        args.limit, args.epochs, args.seeds = args.limit or 240, min(args.epochs, 3), 1
        args.alphas = args.alphas[1:2] if len(args.alphas) > 1 else args.alphas
        args.noise_rates, args.drop_fractions = args.noise_rates[-1:], args.drop_fractions[1:2]
        args.occlusion_sides = args.occlusion_sides[1:2]
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    start = time.time()
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = load_streams(args)
    tests = list(data["tests"])
    print(
        f"events: {data['x_train'].shape[1]} train / {len(data['y_test'])} test digits, "
        f"{data['events_per_digit']:.0f} events per digit, frames {tuple(data['x_train'].shape)} "
        f"[T, N, C, H, W] ({time.time() - start:.0f} s)"
    )
    alphas = [1.0, *args.alphas]
    acc: dict = {a: {t: [] for t in tests} for a in alphas}
    runs = [(a, s) for a in alphas for s in range(args.seeds)]
    for alpha, seed in tqdm(runs, desc="study", unit="run", disable=not args.progress):
        snn = train(alpha, seed, data, args)
        for test in tests:
            acc[alpha][test].append(accuracy(snn, data["tests"][test], data["y_test"], 256))
        clean = acc[alpha][("clean", 0.0)][-1]
        tqdm.write(f"alpha={alpha:g} seed={seed}: clean test accuracy {clean:.3f}")
    elapsed = time.time() - start

    summary = summarise(acc, alphas, tests)
    md = table(summary, tests)
    fig_path = out_dir / "events_fsnn.png"
    save_figure(summary, tests, fig_path)
    (out_dir / "events_fsnn.md").write_text(md)
    result = {
        "elapsed_s": round(elapsed, 1),
        "events_per_digit": round(data["events_per_digit"], 1),
        "args": vars(args),
        "accuracy": summary,
        "figure": str(fig_path),
    }
    (out_dir / "events_fsnn.json").write_text(json.dumps(result, indent=2))
    print(md)
    print(f"figure -> {fig_path}\nsummary -> {out_dir / 'events_fsnn.json'} ({elapsed:.0f} s)")
    return result


if __name__ == "__main__":
    main()
