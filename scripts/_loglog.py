"""Shared by the benchmark figure scripts: panels of time against sequence length, log-log."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

#: One curve: (label, lengths T, values, drawn as the reference: black and dashed).
Curve = tuple[str, Sequence[float], Sequence[float], bool]


def save_panels(panels: Sequence[tuple[str, str | None, Sequence[Curve]]], out: Path, width: float) -> Path:
    """Draw one log-log panel per ``(title, y label, curves)`` side by side; save at ``out``.

    Returns:
        ``out``, with its parent directories created.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 4.2), constrained_layout=True)
    for ax, (title, ylabel, curves) in zip(axes, panels):
        for label, xs, ys, reference in curves:
            style = {"color": "black", "linestyle": "--"} if reference else {}
            ax.loglog(xs, ys, marker="o", markersize=4, label=label, **style)
        ax.set_xlabel("sequence length T (steps)")
        if ylabel:
            ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
