"""Draw the figure of the memory and performance page from a benchmark results file.

Reads the JSON that ``benchmarks/run.py`` writes (``{"meta": ..., "rows": [...]}``) and
plots, for one workload, the forward time, the forward+backward time and the peak memory
against the sequence length ``T``, for the main cases and the plain PyTorch loop that the
suite measures as its floor.

Usage::

    python scripts/docs_benchmark_figure.py [--results benchmarks/results/<file>.json]
                                            [--workload w1] [--out docs/assets/benchmark_w1.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))  # the shared _loglog
from _loglog import save_panels  # noqa: E402

DEFAULT_RESULTS = ROOT / "benchmarks" / "results" / "bench-20261124-session4.json"
DEFAULT_OUT = ROOT / "docs" / "assets" / "benchmark_w1.png"

# case name in the results -> label in the figure, in drawing order
CASES = {
    "floor (Euler LIF loop)": "plain PyTorch LIF loop",
    "odeint euler": "integer order (odeint, euler)",
    "gl full": "fractional, full history (gl)",
    "gl memory=50": "fractional, memory=50",
    "gl soe": 'fractional, history="soe"',
    "gl soe checkpoint": 'fractional, "soe" + checkpoint',
}
PANELS = (
    ("fwd_s", 1000.0, "forward (ms)"),
    ("fwd_bwd_s", 1000.0, "forward + backward (ms)"),
    ("peak_mib", 1.0, "peak memory in training (MiB)"),
)


def series(rows: list[dict], workload: str) -> dict[str, dict[str, list[float]]]:
    """Return ``{case: {"T": [...], field: [...]}}`` for the cases of :data:`CASES`.

    Rows of another workload, of another case, or with an error or a missing value are
    left out; points are sorted by ``T``.
    """
    out: dict[str, dict[str, list[float]]] = {}
    for case in CASES:
        picked = sorted(
            (r for r in rows if r.get("workload") == workload and r.get("case") == case
             and not r.get("error")),
            key=lambda r: r["T"],
        )
        if not picked:
            continue
        data: dict[str, list[float]] = {"T": [float(r["T"]) for r in picked]}
        for field, _, _ in PANELS:
            data[field] = [float("nan") if r.get(field) is None else float(r[field])
                           for r in picked]
        out[case] = data
    return out


def draw(results: Path = DEFAULT_RESULTS, out: Path = DEFAULT_OUT, workload: str = "w1") -> Path:
    """Draw the figure for ``workload`` of ``results`` and save it at ``out``; return ``out``.

    Raises:
        ValueError: If ``results`` holds no row of the cases for ``workload``.
    """
    rows = json.loads(Path(results).read_text(encoding="utf-8"))["rows"]
    data = series(rows, workload)
    if not data:
        raise ValueError(f"{results} has no rows of workload {workload!r} for the cases {list(CASES)}")
    panels = [
        (title, None, [(CASES[case], v["T"], [x * scale for x in v[field]], case.startswith("floor")) for case, v in data.items()])
        for field, scale, title in PANELS
    ]
    return save_panels(panels, out, width=13)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results JSON")
    parser.add_argument("--workload", default="w1", help="workload to plot (default w1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG file to write")
    args = parser.parse_args(argv)
    draw(args.results, args.out, args.workload)


if __name__ == "__main__":
    main()
