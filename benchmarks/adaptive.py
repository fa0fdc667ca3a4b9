"""Adaptive ``odeint`` (``dopri5``, ``bosh3``) against torchdiffeq's methods of the same name.

Usage (from the repository root; needs ``torchdiffeq`` and ``scipy``, see ``[envs.bench]``)::

    hatch run bench:adaptive                  # every problem, rtol 1e-3 ... 1e-9
    python benchmarks/adaptive.py --quick     # two tolerances, one repeat

Problems (float64, values requested at 101 evenly spaced times):

* ``vdp``: Van der Pol, ``mu = 2``, ``y0 = (2, 0)``, ``t in [0, 20]``; reference
  ``scipy.integrate.solve_ivp(method="DOP853", rtol=atol=1e-13)``.
* ``linear``: ``y' = A y``, ``A = S - 0.1 I`` with ``S`` a random skew-symmetric 16x16
  matrix (oscillatory, slowly damped), ``t in [0, 10]``; exact ``expm(A t) y0``.
* ``neural``: a small neural-ODE field ``f(y) = tanh(y W1 + b1) W2 - 0.2 y`` on a
  ``[32, 16]`` state (hidden width 32), ``t in [0, 5]``; reference from ``solve_ivp``
  (DOP853, rtol=atol=1e-12) on the same field in NumPy.

For every problem, method, library and ``rtol`` (``atol = rtol``) the script records the
evaluations of the field (counted by a wrapper, the same for both libraries), the error
(largest absolute deviation from the reference over all requested times and components)
and the time of a solve under ``torch.no_grad()`` (median of ``--repeat`` calls after a
warm-up; one thread). The number of attempted steps is ``(nfe - 2) / s`` for both
libraries (one evaluation at ``t0``, one for the first-step estimate, then ``s`` = 6
(dopri5) or 3 (bosh3) per attempt, FSAL); ours reports it exactly, and the script checks
that the two agree. "time/step" is the solve time divided by the attempted steps. For
``neural`` the forward+backward time (gradient of the summed output) is measured too.

Equal accuracy: for every error that torchdiffeq reaches, the nfe we need for the same
error is read off our (log error, log nfe) curve by linear interpolation; the table
reports the ratio ours / theirs (below 1: we need fewer evaluations).

Results: markdown tables on standard output, JSON under ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.integrate import solve_ivp

from spikede_solvers import odeint

try:
    import torchdiffeq
except ImportError:  # pragma: no cover - benchmark-only dependency
    torchdiffeq = None

F64 = torch.float64
STAGES = {"dopri5": 6, "bosh3": 3}


class Counted:
    """The field with a call counter."""

    def __init__(self, f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        self.f, self.calls = f, 0

    def __call__(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.f(t, y)


def problem_vdp() -> dict[str, Any]:
    mu = 2.0

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.stack([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])

    t = torch.linspace(0.0, 20.0, 101, dtype=F64)
    sol = solve_ivp(
        lambda s, y: [y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]],
        (0.0, 20.0), [2.0, 0.0], t_eval=t.numpy(), rtol=1e-13, atol=1e-13, method="DOP853",
    )  # fmt: skip
    return {"f": f, "y0": torch.tensor([2.0, 0.0], dtype=F64), "t": t,
            "ref": torch.from_numpy(sol.y.T.copy()), "params": []}  # fmt: skip


def problem_linear() -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    m = torch.randn(16, 16, generator=g, dtype=F64)
    a = (m - m.T) / 2 - 0.1 * torch.eye(16, dtype=F64)
    y0 = torch.randn(16, generator=g, dtype=F64)
    t = torch.linspace(0.0, 10.0, 101, dtype=F64)
    ref = torch.stack([torch.linalg.matrix_exp(a * s) @ y0 for s in t])
    return {"f": lambda t, y: a @ y, "y0": y0, "t": t, "ref": ref, "params": []}


def problem_neural() -> dict[str, Any]:
    g = torch.Generator().manual_seed(1)
    w1 = (torch.randn(16, 32, generator=g, dtype=F64) / 4).requires_grad_()
    b1 = (torch.randn(32, generator=g, dtype=F64) / 4).requires_grad_()
    w2 = (torch.randn(32, 16, generator=g, dtype=F64) / 6).requires_grad_()
    y0 = torch.randn(32, 16, generator=g, dtype=F64)

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(y @ w1 + b1) @ w2 - 0.2 * y

    n1, nb, n2 = w1.detach().numpy(), b1.detach().numpy(), w2.detach().numpy()

    def f_np(s: float, y: np.ndarray) -> np.ndarray:
        yy = y.reshape(32, 16)
        return (np.tanh(yy @ n1 + nb) @ n2 - 0.2 * yy).reshape(-1)

    t = torch.linspace(0.0, 5.0, 101, dtype=F64)
    sol = solve_ivp(f_np, (0.0, 5.0), y0.numpy().reshape(-1), t_eval=t.numpy(),
                    rtol=1e-12, atol=1e-12, method="DOP853")  # fmt: skip
    ref = torch.from_numpy(sol.y.T.reshape(101, 32, 16).copy())
    return {"f": f, "y0": y0, "t": t, "ref": ref, "params": [w1, b1, w2]}


PROBLEMS = {"vdp": problem_vdp, "linear": problem_linear, "neural": problem_neural}


def solve(lib: str, method: str, prob: dict[str, Any], rtol: float) -> tuple[Any, int, int | None]:
    f = Counted(prob["f"])
    if lib == "ours":
        y, stats = odeint(f, prob["y0"], prob["t"], method,
                          options={"rtol": rtol, "atol": rtol, "max_num_steps": 10**6},
                          return_stats=True)  # fmt: skip
        assert stats["nfe"] == f.calls
        return y, f.calls, stats["accepted"] + stats["rejected"]
    y = torchdiffeq.odeint(f, prob["y0"], prob["t"], method=method, rtol=rtol, atol=rtol)
    return y, f.calls, None


def seconds(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(lib: str, method: str, name: str, prob: dict[str, Any], rtol: float,
            repeat: int) -> dict[str, Any]:  # fmt: skip
    with torch.no_grad():
        y, nfe, steps = solve(lib, method, prob, rtol)
        fwd = seconds(lambda: solve(lib, method, prob, rtol), repeat)
    est = (nfe - 2) / STAGES[method]
    if steps is not None and steps != est:
        raise AssertionError(f"attempted steps {steps} != (nfe - 2) / s = {est}")
    row = {"problem": name, "method": method, "lib": lib, "rtol": rtol, "nfe": nfe,
           "steps": est, "error": float((y - prob["ref"]).abs().max()),
           "fwd_s": fwd, "fwd_us_per_step": 1e6 * fwd / est}  # fmt: skip
    if prob["params"]:

        def fb() -> None:
            y, _, _ = solve(lib, method, prob, rtol)
            y.sum().backward()

        row["fwd_bwd_s"] = seconds(fb, repeat)
        row["fwd_bwd_us_per_step"] = 1e6 * row["fwd_bwd_s"] / est
        for p in prob["params"]:
            p.grad = None
    return row


def equal_accuracy(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> list[float]:
    """nfe ours / theirs at each error torchdiffeq reaches inside our error range."""
    pts = sorted((np.log(r["error"]), np.log(r["nfe"])) for r in ours if r["error"] > 0)
    le, ln = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    out = []
    for r in theirs:
        e = np.log(r["error"])
        if le[0] <= e <= le[-1]:
            out.append(float(np.exp(np.interp(e, le, ln)) / r["nfe"]))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--problems", default="vdp,linear,neural")
    p.add_argument("--methods", default="dopri5,bosh3")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="rtol 1e-4 and 1e-6, one repeat")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")
    args = p.parse_args(argv)
    if torchdiffeq is None:
        print("torchdiffeq is not installed (pip install --no-deps torchdiffeq)", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    rtols = [1e-4, 1e-6] if args.quick else [10.0**-k for k in range(3, 10)]
    repeat = 1 if args.quick else args.repeat
    rows, summary = [], []
    for name in args.problems.split(","):
        prob = PROBLEMS[name]()
        for method in args.methods.split(","):
            if method == "bosh3":
                tols = [r for r in rtols if r >= 1e-7]  # bosh3 at 1e-9 takes ~1e5 steps
            else:
                tols = rtols
            by_lib = {}
            for lib in ("ours", "torchdiffeq"):
                by_lib[lib] = [measure(lib, method, name, prob, r, repeat) for r in tols]
                rows += by_lib[lib]
            ratios = equal_accuracy(by_lib["ours"], by_lib["torchdiffeq"])
            speed = [a["fwd_us_per_step"] / b["fwd_us_per_step"]
                     for a, b in zip(by_lib["ours"], by_lib["torchdiffeq"])]  # fmt: skip
            summary.append({"problem": name, "method": method,
                            "nfe_ratio_equal_accuracy": ratios,
                            "nfe_ratio_max": max(ratios) if ratios else None,
                            "nfe_ratio_median": statistics.median(ratios) if ratios else None,
                            "time_per_step_ratio_median": statistics.median(speed)})  # fmt: skip
    print("| problem | method | rtol | nfe ours | nfe tdq | error ours | error tdq "
          "| us/step ours | us/step tdq | fwd+bwd us/step ours | tdq |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for a in (r for r in rows if r["lib"] == "ours"):
        b = next(r for r in rows if r["lib"] == "torchdiffeq" and r["problem"] == a["problem"]
                 and r["method"] == a["method"] and r["rtol"] == a["rtol"])  # fmt: skip
        fb = (f"{a['fwd_bwd_us_per_step']:.0f} | {b['fwd_bwd_us_per_step']:.0f}"
              if "fwd_bwd_s" in a else "- | -")  # fmt: skip
        print(f"| {a['problem']} | {a['method']} | {a['rtol']:.0e} | {a['nfe']} | {b['nfe']} "
              f"| {a['error']:.2e} | {b['error']:.2e} | {a['fwd_us_per_step']:.0f} "
              f"| {b['fwd_us_per_step']:.0f} | {fb} |")  # fmt: skip
    print()
    print("| problem | method | nfe ours/tdq at equal accuracy (median, max) "
          "| time/step ours/tdq (median) |")
    print("|---|---|---|---|")
    for s in summary:
        med, mx = s["nfe_ratio_median"], s["nfe_ratio_max"]
        acc = "-" if med is None else f"{med:.2f}, {mx:.2f}"
        print(f"| {s['problem']} | {s['method']} | {acc} | {s['time_per_step_ratio_median']:.2f} |")
    out = Path(args.out) if args.out else (
        Path(__file__).resolve().parent / "results" / f"adaptive-{time.strftime('%Y%m%d-%H%M%S')}.json"
    )  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"torch": torch.__version__, "torchdiffeq": torchdiffeq.__version__,
            "python": platform.python_version(), "machine": platform.machine(), "threads": 1,
            "repeat": repeat}  # fmt: skip
    out.write_text(json.dumps({"meta": meta, "rows": rows, "summary": summary}, indent=1))
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
