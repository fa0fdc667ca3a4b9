"""Draw the home page figure: power-law (fractional) versus exponential (LIF) memory.

Left panel: how strongly the membrane remembers an input pulse received ``s`` time units
ago. An integer-order leaky neuron forgets exponentially, ``exp(-s / tau)``; a Caputo
fractional neuron of order ``alpha`` weights its past with the kernel
``s**(alpha - 1) / Gamma(alpha)``, a power law with no time scale.

Right panel: the same contrast in the discrete solver. The Grünwald-Letnikov scheme
weights the state ``j`` steps back by ``|w_j| = |binom(alpha, j)|``, which decays like
``j**(-1 - alpha)``; the discrete LIF update decays like ``(1 - 1/tau)**j``.

Usage::

    python scripts/docs_memory_figure.py [--out docs/assets/memory_kernels.png]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

DEFAULT_OUT = (
    Path(__file__).resolve().parent.parent / "docs" / "assets" / "memory_kernels.png"
)
ALPHAS = (0.3, 0.6, 0.9)
TAU = 5.0


def gl_weight_magnitudes(alpha: float, n: int) -> np.ndarray:
    """Return ``|w_j|`` for ``j = 1..n`` of the Grünwald-Letnikov weights of order ``alpha``.

    Uses the recurrence ``w_0 = 1``, ``w_j = w_{j-1} * (1 - (alpha + 1) / j)``.
    """
    w = np.empty(n + 1)
    w[0] = 1.0
    for j in range(1, n + 1):
        w[j] = w[j - 1] * (1.0 - (alpha + 1.0) / j)
    return np.abs(w[1:])


def draw(out: Path) -> Path:
    """Draw the figure and save it as a PNG at ``out``; return ``out``."""
    s = np.logspace(-1, 3, 400)
    steps = np.arange(1, 1001)
    fig, (ax_c, ax_d) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    colors = plt.cm.viridis(np.linspace(0.15, 0.8, len(ALPHAS)))

    for alpha, color in zip(ALPHAS, colors):
        ax_c.loglog(
            s,
            s ** (alpha - 1.0) / math.gamma(alpha),
            color=color,
            label=rf"power law, $\alpha={alpha}$",
        )
        ax_d.loglog(
            steps,
            gl_weight_magnitudes(alpha, steps.size),
            color=color,
            label=rf"GL weights, $\alpha={alpha}$",
        )
    ax_c.loglog(
        s,
        np.exp(-s / TAU),
        color="crimson",
        linestyle="--",
        label=rf"exponential, $\tau={TAU:g}$",
    )
    ax_d.loglog(
        steps,
        (1.0 - 1.0 / TAU) ** steps,
        color="crimson",
        linestyle="--",
        label=rf"LIF decay $(1-1/\tau)^j$, $\tau={TAU:g}$",
    )

    ax_c.set_ylim(1e-6, 1e1)
    ax_c.set_xlabel("time since the input, $s$")
    ax_c.set_ylabel("weight of the past")
    ax_c.set_title("Continuous kernels")
    ax_d.set_ylim(1e-10, 1.0)
    ax_d.set_xlabel("steps back, $j$")
    ax_d.set_ylabel("weight of the state $j$ steps back")
    ax_d.set_title("Discrete solver weights")
    for ax in (ax_c, ax_d):
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)

    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="PNG file to write"
    )
    args = parser.parse_args(argv)
    draw(args.out)


if __name__ == "__main__":
    main()
