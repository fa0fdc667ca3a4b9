"""Time W1 in SpikingJelly, snnTorch and spikeDE against T; draw the performance page's figure.

W1 is the benchmark suite's two-layer network (Linear(64,128)-LIF-Linear(128,10)-LIF,
batch 32, ``float32``), built by ``benchmarks/run.py`` on the same weights and inputs for
every case; the peers are ``benchmarks/peers.py``'s. Cases: SpikingJelly's multi-step
``LIFNode``, a snnTorch ``Leaky`` loop, spikeDE ``odeint``/``euler`` (order 1), and spikeDE
``fdeint``/``gl`` of order :data:`ALPHA` with ``history="soe"`` (eager and with
``compile=True``) and with the full history.

Method: one thread (``torch.set_num_threads(1)``). For each ``T`` every case is built and
called once forward and once forward+backward (warm-up); then ``--repeat`` rounds time
each case in turn, so that a slow spell of the machine touches every case alike, and a
case's figure is the median of its rounds. ``fwd`` runs under ``torch.no_grad()``,
``fwd+bwd`` backpropagates the summed output. The firing rate of each neuron layer is
measured over one extra call, so that equal work is visible.

Prints a markdown table and saves the two-panel figure (forward, forward+backward,
log-log).

Usage::

    python scripts/docs_peer_figure.py [--T 100,250,500,1000] [--repeat 3]
                                       [--out docs/assets/peers_time.png] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))  # the shared _loglog
from _loglog import save_panels  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
import peers  # noqa: E402
import run  # noqa: E402

DEFAULT_OUT = ROOT / "docs" / "assets" / "peers_time.png"
DEFAULT_T = (100, 250, 500, 1000)
#: The fractional order of the fdeint cases here (the suite's own tables use run.ALPHA).
ALPHA = 0.6

#: label -> (integrator, method, options, compile), in table and legend order.
CASES = {
    "SpikingJelly LIFNode (multi-step)": ("spikingjelly", None, {}, False),
    "snnTorch Leaky loop": ("snntorch", None, {}, False),
    "spikeDE odeint euler (alpha = 1)": ("odeint", "euler", {}, False),
    'spikeDE fdeint gl, alpha = 0.6, history="soe"': ("fdeint", "gl", {"history": "soe"}, False),
    'spikeDE fdeint gl, alpha = 0.6, history="soe", compile=True': ("fdeint", "gl", {"history": "soe"}, True),
    "spikeDE fdeint gl, alpha = 0.6, full history": ("fdeint", "gl", {}, False),
}
REFERENCE = "SpikingJelly LIFNode (multi-step)"
PANELS = (("fwd_s", "forward"), ("fwd_bwd_s", "forward + backward"))


def _case(label: str, T: int) -> run.Case:
    integrator, method, options, compile = CASES[label]
    return run.Case("w1", T, label, integrator, method, dict(options), compile)


def measure(Ts: tuple[int, ...] = DEFAULT_T, repeat: int = 3) -> list[dict]:
    """Time every case of :data:`CASES` on W1 at each ``T``; return one row per case and T.

    Raises:
        RuntimeError: If a peer library is not installed.
    """
    for name in peers.PEERS:
        note = peers.missing(name)
        if note is not None:
            raise RuntimeError(note)
    rows = []
    order, run.ALPHA = run.ALPHA, ALPHA  # run.py's fdeint cases read their order from it
    try:
        for T in Ts:
            calls = {}
            for label in CASES:
                case = _case(label, T)
                fwd, fb = run.build(case)
                for _ in range(3 if case.compile else 1):  # compiled: every graph made first
                    fwd()
                    fb()
                calls[label] = (fwd, fb)
            times: dict[str, dict[str, list[float]]] = {
                label: {"fwd_s": [], "fwd_bwd_s": []} for label in CASES
            }
            for _ in range(repeat):
                for label, (fwd, fb) in calls.items():
                    times[label]["fwd_s"].append(run._seconds(fwd))
                    times[label]["fwd_bwd_s"].append(run._seconds(fb))
            for label in CASES:
                rows.append(
                    {
                        "T": T,
                        "case": label,
                        "fwd_s": statistics.median(times[label]["fwd_s"]),
                        "fwd_bwd_s": statistics.median(times[label]["fwd_bwd_s"]),
                        "rates": run.firing_rates(_case(label, T)),
                    }
                )
                print(
                    f"T={T} {label}: {1000 * rows[-1]['fwd_s']:.1f} ms / "
                    f"{1000 * rows[-1]['fwd_bwd_s']:.1f} ms",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        run.ALPHA = order
    return rows


def table(rows: list[dict]) -> str:
    """The markdown table of ``rows``: forward / forward+backward ms per ``T``, the ratios to
    SpikingJelly at the largest ``T`` and the firing rates per layer there."""
    Ts = sorted({r["T"] for r in rows})
    at = {(r["case"], r["T"]): r for r in rows}
    last = Ts[-1]
    head = (
        ["case"]
        + [f"T = {T}" for T in Ts]
        + [f"vs SpikingJelly at T = {last}", f"firing rate at T = {last}"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    ref = at[(REFERENCE, last)]
    for label in CASES:
        cells = [label]
        for T in Ts:
            r = at[(label, T)]
            cells.append(f"{1000 * r['fwd_s']:.1f} / {1000 * r['fwd_bwd_s']:.1f}")
        r = at[(label, last)]
        cells.append(
            f"{r['fwd_s'] / ref['fwd_s']:.2f}x / {r['fwd_bwd_s'] / ref['fwd_bwd_s']:.2f}x"
        )
        cells.append(" / ".join(f"{v:.3f}" for v in r["rates"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def draw(rows: list[dict], out: Path = DEFAULT_OUT) -> Path:
    """Draw forward and forward+backward time against ``T`` (log-log) at ``out``; return it."""
    panels = []
    for field, title in PANELS:
        curves = []
        for label in CASES:
            picked = sorted((r for r in rows if r["case"] == label), key=lambda r: r["T"])
            curves.append((label, [r["T"] for r in picked], [1000 * r[field] for r in picked], label == REFERENCE))
        panels.append((f"{title}, W1, batch 32, one thread", "time (ms)", curves))
    return save_panels(panels, out, width=11)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", default=",".join(map(str, DEFAULT_T)), help="lengths, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds per length")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG file to write")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = measure(tuple(int(t) for t in args.T.split(",")), args.repeat)
    print(table(rows))
    draw(rows, args.out)
    if args.json is not None:
        args.json.write_text(json.dumps({"alpha": ALPHA, "rows": rows}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
