"""spikeDE benchmark suite: fractional SNNs against a plain discrete-time LIF loop.

Usage (from the repository root)::

    hatch run bench:run                     # full suite (a few minutes on 2 cores)
    hatch run bench:run --quick             # small smoke subset (seconds)
    python benchmarks/run.py --workloads w1 --T 1000 --repeat 5
    python benchmarks/run.py --workloads w1,w2 --T w1=1000,w2=200 \
        --cases "odeint euler,gl full,gl soe,SpikingJelly,snnTorch"   # the peer table

Workloads (issue 8):

* ``w1``: Linear(64,128)-LIF-Linear(128,10)-LIF, batch 32, inputs ``[T, 32, 64]``.
* ``w2``: Conv(2,16,3,pad 1)-LIF-Conv(16,32,3,stride 2,pad 1)-LIF-Flatten-Linear(2048,10)-LIF,
  inputs ``[T, 16, 2, 16, 16]``.
* ``solver``: ``fdeint`` alone on ``D^a y = -y``, state ``[32, 128]``, ``N`` steps.

Every case is measured against its *floor* in the same run: the same network as a
hand-written discrete-time Euler LIF loop in PyTorch (charge ``u = v + (I - v)/tau``,
fire ``s = H(u - 1)`` with a sigmoid surrogate gradient, soft reset ``v = u - s``), or for
the solver workload the explicit Euler loop ``y <- y - h y``. Figures are reported as
ratios to the floor.

The weight layers of W1 and W2 are PyTorch's default initialisation (seed 0) times a gain
per layer (``GAINS``), so that every neuron layer fires (10-50% of the steps); each case's
firing rate per layer is measured over one extra call and printed with its figures.

Peers (``peers.py``): the same networks, same weights and inputs, in SpikingJelly
(multi-step ``LIFNode``, equal to spikeDE's ``odeint``/``euler`` spike for spike) and in
snnTorch (a ``Leaky`` loop). A peer that is not installed is skipped with a printed note.
The column "vs SJ" divides each case's paired ratio to the floor by SpikingJelly's.

Method:

* Time: one warm-up call on a short input of the same case, then the median of
  ``--repeat`` timed calls (``time.perf_counter``); calls longer than 5 s are repeated
  at most twice. ``fwd`` runs under ``torch.no_grad()``; ``fwd+bwd`` runs the forward
  with gradients and ``loss.backward()`` of the summed output.
* Ratios (paired): the child of every case also builds that workload's floor and times
  one floor call right before each timed call of the case. A time ratio is the median
  over the repeats of ``case / floor`` of these adjacent pairs, so that a slow spell of
  a shared machine, which lasts longer than a pair, affects both sides. (The floor's
  own row times it alone; ratios against that row can differ by the machine's drift
  between cases.)
* Peak memory: the peak of live bytes allocated by torch during one forward+backward
  call, from the allocation and free events that ``torch.profiler`` records with
  ``profile_memory=True`` (summed in time order). It counts every tensor torch allocates
  (autograd graph, history buffers, temporaries) exactly and does not depend on how the
  C library returns memory to the system. Python objects are not counted.
  (``tracemalloc`` does not see torch allocations, and the resident set size mixes in
  the allocator's retention and proved noisy on a shared machine.)
  The probe records only the profiled call and keeps no parsed event tree (about 1 KiB
  of host memory per recorded event; W2 at T=200 records ~2e5 events, ~0.25 GiB). The
  solver workload beyond N = 4000 is not probed by default: its backward records so many
  events that the profiler alone exceeds the 8 GiB cap (``--probe-long`` probes it; give
  it ``--mem-cap-gb 20``).
* Isolation: every case runs in its own child process (forked from the parent, which
  has imported torch but run nothing), under an address-space limit of ``--mem-cap-gb``
  GiB (``RLIMIT_AS``; default 8, 0 for none). Cases therefore cannot inherit each other's
  memory (memory a library fails to release, allocator fragmentation) and a runaway case
  fails alone: its row gets an ``error`` and no figures, the run goes on, and the script
  exits with status 1. Each row also records ``max_rss_mib``, the child's maximum
  resident set size (it includes the ~0.25 GiB of the imported libraries). Where
  ``fork`` is unavailable the children are spawned. ``--in-process`` measures every
  case in the main process instead, without a cap (for debugging or profiling).
* Threads: ``torch.set_num_threads(--threads)`` (default 1, so that other processes on a
  small machine disturb the timings less).

Results: a markdown table on standard output and a JSON file under
``benchmarks/results/`` (``--out`` to choose another path).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers

HERE = Path(__file__).resolve().parent
#: The fractional order of the fdeint cases (odeint integrates order 1 and ignores it).
ALPHA = 0.5
SLOW_CALL = 5.0  # seconds: longer calls are repeated at most twice

# --------------------------------------------------------------------------- floor


class _SpikeFn(torch.autograd.Function):
    """Heaviside forward, sigmoid surrogate backward (the pseudo-derivative of LIFNeuron)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(4.0 * x)
        return grad * 4.0 * s * (1.0 - s)


def _lif(v: torch.Tensor, current: torch.Tensor, tau: float = 2.0) -> tuple[torch.Tensor, ...]:
    u = v + (current - v) / tau
    s = _SpikeFn.apply(u - 1.0)
    return u - s, s


def floor_forward(
    layers: list[nn.Module], x: torch.Tensor, record: dict[int, list] | None = None
) -> torch.Tensor:
    """Plain discrete-time Euler LIF loop: ``layers`` alternate weights and LIF.

    With ``record``, the spikes of neuron layer ``i`` at every step are appended to
    ``record[i]``.
    """
    v: list[torch.Tensor | None] = [None] * len(layers)
    out = []
    for t in range(x.shape[0]):
        h = x[t]
        for i, layer in enumerate(layers):
            if isinstance(layer, nn.Flatten | nn.Linear | nn.Conv2d):
                h = layer(h)
            else:
                vi = v[i] if v[i] is not None else torch.zeros_like(h)
                v[i], h = _lif(vi, h)
                if record is not None:
                    record.setdefault(i, []).append(h)
        out.append(h)
    return torch.stack(out)


# --------------------------------------------------------------------------- workloads


#: Gains on the default initialisation of each weight layer (weight and bias), so that
#: every neuron layer fires on 10-50% of the steps (with PyTorch's default initialisation
#: alone W1's output layer and W2's last two layers never fire). The rates each case
#: measures are printed with its figures.
GAINS = {"w1": (3.0, 10.0), "w2": (5.0, 10.0, 12.0)}


def _scaled(model: nn.Sequential, gains: tuple[float, ...]) -> nn.Sequential:
    weights = [m for m in model if isinstance(m, nn.Linear | nn.Conv2d)]
    with torch.no_grad():
        for m, gain in zip(weights, gains, strict=True):
            m.weight.mul_(gain)
            m.bias.mul_(gain)
    return model


def _w1_model() -> nn.Sequential:
    from spikede import LIFNeuron

    model = nn.Sequential(nn.Linear(64, 128), LIFNeuron(), nn.Linear(128, 10), LIFNeuron())
    return _scaled(model, GAINS["w1"])


def _w2_model() -> nn.Sequential:
    from spikede import LIFNeuron

    model = nn.Sequential(
        nn.Conv2d(2, 16, 3, padding=1),
        LIFNeuron(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        LIFNeuron(),
        nn.Flatten(),
        nn.Linear(2048, 10),
        LIFNeuron(),
    )
    return _scaled(model, GAINS["w2"])


def _input(workload: str, T: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    if workload == "w1":
        return 2.0 * torch.rand(T, 32, 64, generator=g)
    return 2.0 * torch.rand(T, 16, 2, 16, 16, generator=g)


@dataclass
class Case:
    """One measured configuration."""

    workload: str
    T: int
    label: str
    integrator: str = "floor"  # floor | fdeint | odeint | solver | solver-floor
    method: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    compile: bool = False  # SNNWrapper(compile=True); its firing rates come from eager

    @property
    def key(self) -> str:
        return f"{self.workload}/T={self.T}/{self.label}"


def _layer_rates(records: list[list[torch.Tensor]], T: int) -> list[float]:
    """Firing rate of each neuron layer from its recorded spikes: the mean over the last
    ``T`` recorded calls (one call per step, or one call of a whole multi-step sequence)."""
    rates = []
    for calls in records:
        kept = calls[-T:]
        count = sum(c.numel() for c in kept)
        rates.append(float(sum(float(c.sum()) for c in kept) / count) if count else float("nan"))
    return rates


def _network(
    case: Case, T: int
) -> tuple[Callable[[], torch.Tensor], Callable[[], list[float]] | None]:
    """``(run, rates)`` of a case: ``run()`` one call; ``rates()`` the firing rate of
    every neuron layer over one call without gradients (``None`` for the solver)."""
    if case.workload == "solver":
        from spikede_solvers import fdeint

        y0 = torch.ones(32, 128, requires_grad=True)
        h = 0.01
        if case.integrator == "solver-floor":

            def run() -> torch.Tensor:
                y, ys = y0, [y0]
                for _ in range(T):
                    y = y + h * (-y)
                    ys.append(y)
                return torch.stack(ys)

        else:
            t = h * torch.arange(T + 1, dtype=torch.float32)

            def run() -> torch.Tensor:
                return fdeint(
                    lambda t, y: -y, y0, t, 0.5, case.method or "gl", options=case.options
                )

        return run, None

    model = _w1_model() if case.workload == "w1" else _w2_model()
    x = _input(case.workload, T)
    if case.integrator == "floor":
        layers = list(model)

        def run() -> torch.Tensor:
            return floor_forward(layers, x)

        def rates() -> list[float]:
            record: dict[int, list[torch.Tensor]] = {}
            with torch.no_grad():
                floor_forward(layers, x, record)
            return _layer_rates([record[i] for i in sorted(record)], T)

        return run, rates

    if case.integrator in peers.PEERS:
        net = peers.build_peer(case.integrator, model)

        def run() -> torch.Tensor:
            return net(x)

        def rates() -> list[float]:
            records, handles = peers.record_spikes(net)
            try:
                with torch.no_grad():
                    net(x)
            finally:
                for handle in handles:
                    handle.remove()
            return _layer_rates(records, T)

        return run, rates

    from spikede import LIFNeuron, SNNWrapper

    wrapper = SNNWrapper(
        model, integrator=case.integrator, alpha=ALPHA, method=case.method, compile=case.compile
    )
    # Rates through forward hooks, from an eager wrapper: hooks inside a compiled graph
    # would be traced into it (the values are the same).
    eager = SNNWrapper(model, integrator=case.integrator, alpha=ALPHA, method=case.method) if case.compile else wrapper

    def run() -> torch.Tensor:
        return wrapper(x, options=case.options or None)

    def rates() -> list[float]:
        # The neuron modules are called once per field evaluation as neuron(v, I, dt) ->
        # (dv, spike); the last T evaluations are those of the T grid points.
        neurons = [m for m in model if isinstance(m, LIFNeuron)]
        records: list[list[torch.Tensor]] = [[] for _ in neurons]
        handles = [
            m.register_forward_hook(
                lambda mod, inp, out, k=k: records[k].append(out[1].detach().clone())
            )
            for k, m in enumerate(neurons)
        ]
        try:
            with torch.no_grad():
                eager(x, options=case.options or None)
        finally:
            for handle in handles:
                handle.remove()
        return _layer_rates(records, T)

    return run, rates


def build(case: Case, T: int | None = None) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """Return ``(forward, forward_backward)`` closures of a case (``T`` overrides its length)."""
    torch.manual_seed(0)
    run, _ = _network(case, case.T if T is None else T)

    def forward() -> Any:
        with torch.no_grad():
            return run()

    def forward_backward() -> Any:
        out = run()
        out.sum().backward()
        return out

    return forward, forward_backward


def firing_rates(case: Case) -> list[float] | None:
    """The firing rate of every neuron layer of ``case`` over one call (``None``: solver)."""
    torch.manual_seed(0)
    _, rates = _network(case, case.T)
    return None if rates is None else rates()


FLOORS = ("floor", "solver-floor")
FLOOR_LABEL = "floor (Euler LIF loop)"
SOLVER_FLOOR_LABEL = "floor (Euler loop)"

#: The labels of the peer cases (``--cases`` matches labels case-insensitively).
PEER_LABELS = {"spikingjelly": "SpikingJelly", "snntorch": "snnTorch"}

#: A leaner fast history: 16 exponentials and 8 exact lags instead of 24 and 16 (error on
#: W1 at T = 1000 in float64: membranes 5e-8 relative, no spike differs; soe_error.py).
LEAN_SOE = {"history": "soe", "soe_terms": 16, "soe_window": 8}


def available_peers() -> tuple[list[str], list[str]]:
    """``(names, notes)``: the installed peer libraries and a note for each missing one."""
    names, notes = [], []
    for name in peers.PEERS:
        note = peers.missing(name)
        if note is None:
            names.append(name)
        else:
            notes.append(note)
    return names, notes


def cases_for(
    workloads: list[str],
    Ts: dict[str, list[int]],
    quick: bool,
    peer_names: list[str] | None = None,
) -> list[Case]:
    """The case list: every workload with its floor first, then the peers (the installed
    ones of ``peer_names``, default all), then spikeDE; then the solver variants."""
    peer_names = list(peers.PEERS) if peer_names is None else peer_names
    out: list[Case] = []
    for wl in ("w1", "w2"):
        if wl not in workloads:
            continue
        for T in Ts[wl]:
            out.append(Case(wl, T, FLOOR_LABEL))
            for name in peer_names:
                out.append(Case(wl, T, PEER_LABELS[name], name))
            out.append(Case(wl, T, "odeint euler", "odeint", "euler"))
            methods = ["gl"] if quick or T > 1000 else ["gl", "l1", "trap", "pred"]
            for m in methods:
                out.append(Case(wl, T, f"{m} full", "fdeint", m))
                out.append(Case(wl, T, f"{m} memory=50", "fdeint", m, {"memory": 50}))
            out.append(Case(wl, T, "gl soe", "fdeint", "gl", {"history": "soe"}))
            out.append(Case(wl, T, "gl soe 16/8", "fdeint", "gl", dict(LEAN_SOE)))
            if not quick:
                soe = {"history": "soe"}
                out.append(Case(wl, T, "gl soe compiled", "fdeint", "gl", soe, compile=True))
            if not quick and T <= 1000:
                out.append(Case(wl, T, "gl full checkpoint", "fdeint", "gl", {"checkpoint": True}))
            if not quick:
                out.append(
                    Case(
                        wl,
                        T,
                        "gl soe checkpoint",
                        "fdeint",
                        "gl",
                        {"history": "soe", "checkpoint": True},
                    )
                )
    if "solver" in workloads:
        for N in Ts["solver"]:
            out.append(Case("solver", N, SOLVER_FLOOR_LABEL, "solver-floor"))
            if N <= 4000:
                out.append(Case("solver", N, "gl full", "solver", "gl"))
            out.append(Case("solver", N, "gl soe", "solver", "gl", {"history": "soe"}))
    return out


# --------------------------------------------------------------------------- measuring


def _seconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_seconds(
    fn: Callable[[], Any], repeat: int, floor: Callable[[], Any] | None = None
) -> tuple[float, float | None]:
    """Median time of ``fn`` and, with ``floor``, the median of the paired ratios
    ``fn / floor`` (one floor call timed right before each call of ``fn``)."""
    times: list[float] = []
    ratios: list[float] = []
    for i in range(repeat):
        before = _seconds(floor) if floor is not None else None
        times.append(_seconds(fn))
        if before:
            ratios.append(times[-1] / before)
        if times[-1] > SLOW_CALL and i >= 1:
            break
    return statistics.median(times), (statistics.median(ratios) if ratios else None)


def _floor_of(case: Case) -> Case | None:
    """The floor case of ``case``'s workload and length (``None`` for a floor)."""
    if case.integrator in ("floor", "solver-floor"):
        return None
    if case.workload == "solver":
        return Case("solver", case.T, SOLVER_FLOOR_LABEL, "solver-floor")
    return Case(case.workload, case.T, FLOOR_LABEL)


def peak_memory_mib(fb: Callable[[], Any]) -> float:
    """Peak live torch-allocated MiB during ``fb()`` (profiler memory events)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fb()
    # The raw kineto results (not prof.events(), which would build a FunctionEvent tree).
    changes = sorted(
        (e.start_ns(), e.nbytes())
        for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]"
    )
    del prof
    live = peak = 0
    for _, nbytes in changes:
        live += nbytes
        peak = max(peak, live)
    return peak / 2**20


def _probed(case: Case, probe_long: bool) -> bool:
    """Whether the memory probe runs for ``case`` (see the module docstring)."""
    return probe_long or case.workload != "solver" or case.T <= 4000


def _describe(case: Case) -> dict[str, Any]:
    """The fields of a result row that name its case."""
    return {
        "workload": case.workload,
        "T": case.T,
        "case": case.label,
        "integrator": case.integrator,
        "method": case.method,
        "options": case.options,
    }


def measure(case: Case, repeat: int, memory: bool) -> dict[str, Any]:
    warm_T = min(case.T, 20)
    wf, wfb = build(case, warm_T)
    wf()
    wfb()
    fwd, fb = build(case)
    if case.compile:
        # A compiled wrapper compiles on its own first calls (the training probe for
        # silent layers runs eager; each grad mode has its graphs): warm these closures.
        for _ in range(2):
            fwd()
            fb()
    floor_case = _floor_of(case)
    floor_fwd = floor_fb = None
    if floor_case is not None:
        floor_fwd, floor_fb = build(floor_case)
        floor_fwd()
        floor_fb()
    fwd_s, fwd_ratio = median_seconds(fwd, repeat, floor_fwd)
    fb_s, fb_ratio = median_seconds(fb, repeat, floor_fb)
    row: dict[str, Any] = {
        **_describe(case),
        "fwd_s": fwd_s,
        "fwd_bwd_s": fb_s,
        "fwd_ratio": fwd_ratio,
        "fwd_bwd_ratio": fb_ratio,
    }
    row["peak_mib"] = peak_memory_mib(fb) if memory else None
    row["rates"] = firing_rates(case)
    row["max_rss_mib"] = _max_rss_mib()
    row["error"] = None
    return row


def _version(module: str) -> str | None:
    """The installed version of distribution ``module`` (``None`` if unknown)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return None


def _max_rss_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes vs KiB


def _child(
    conn: Any, case: dict[str, Any], repeat: int, memory: bool, threads: int, cap: int
) -> None:
    """Child process body: cap the address space, measure one case, send the row."""
    try:
        if cap > 0:
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            soft = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        torch.set_num_threads(threads)
        conn.send(measure(Case(**case), repeat, memory))
    except Exception as exc:  # reported to the parent as the row's error (e.g. MemoryError)
        traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0]
        conn.send({"error": f"{type(exc).__name__}: {first}"})
    finally:
        conn.close()


def measure_isolated(
    case: Case, repeat: int, memory: bool, threads: int, cap_gib: float
) -> dict[str, Any]:
    """``measure(case)`` in a child process whose address space is capped at ``cap_gib``."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    recv, send = ctx.Pipe(duplex=False)
    cap = int(cap_gib * 2**30)
    proc = ctx.Process(target=_child, args=(send, asdict(case), repeat, memory, threads, cap))
    proc.start()
    send.close()
    try:
        result = recv.recv()
    except EOFError:
        result = {}
    proc.join()
    if proc.exitcode != 0 and not result.get("error"):
        result = {"error": f"child process exited with code {proc.exitcode}"}
    if result.get("error"):
        return {
            **_describe(case),
            "fwd_s": None,
            "fwd_bwd_s": None,
            "peak_mib": None,
            "max_rss_mib": None,
            "rates": None,
            "error": result["error"],
        }
    return result


def add_ratios(rows: list[dict[str, Any]]) -> None:
    floors = {
        (r["workload"], r["T"]): r for r in rows if r["integrator"] in ("floor", "solver-floor")
    }
    for r in rows:
        f = floors.get((r["workload"], r["T"]))
        for key in ("fwd_s", "fwd_bwd_s", "peak_mib"):
            name = key.replace("_s", "").replace("_mib", "") + "_ratio"
            if r.get(name) is not None:  # paired ratio, measured in the case's child
                continue
            ok = f is not None and r[key] is not None and f[key]
            r[name] = r[key] / f[key] if ok else None
        if r["workload"] == "solver" and r["fwd_s"] is not None:
            r["fwd_us_per_step"] = 1e6 * r["fwd_s"] / r["T"]
    # Ratios to SpikingJelly: quotients of the two paired ratios to the floor (each case
    # and SpikingJelly were both timed against the same floor, pair by pair).
    jelly = {(r["workload"], r["T"]): r for r in rows if r["integrator"] == "spikingjelly"}
    for r in rows:
        j = jelly.get((r["workload"], r["T"]))
        for key in ("fwd", "fwd_bwd", "peak"):
            mine, ref = r.get(f"{key}_ratio"), None if j is None else j.get(f"{key}_ratio")
            r[f"{key}_vs_spikingjelly"] = mine / ref if mine is not None and ref else None


def markdown(rows: list[dict[str, Any]]) -> str:
    def fmt(v: float | None, unit: str = "", scale: float = 1.0) -> str:
        return "–" if v is None else f"{scale * v:.3g}{unit}"

    def rates(r: dict[str, Any]) -> str:
        return "–" if not r.get("rates") else " / ".join(f"{v:.3f}" for v in r["rates"])

    lines = [
        "| workload | T / N | case | fwd | fwd ratio | fwd vs SJ | fwd+bwd | fwd+bwd ratio "
        "| fwd+bwd vs SJ | peak MiB | memory ratio | memory vs SJ | firing rates |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['workload']} | {r['T']} | {r['case']} | {fmt(r['fwd_s'], ' ms', 1e3)} | "
            f"{fmt(r['fwd_ratio'], 'x')} | {fmt(r.get('fwd_vs_spikingjelly'), 'x')} | "
            f"{fmt(r['fwd_bwd_s'], ' ms', 1e3)} | {fmt(r['fwd_bwd_ratio'], 'x')} | "
            f"{fmt(r.get('fwd_bwd_vs_spikingjelly'), 'x')} | {fmt(r['peak_mib'])} | "
            f"{fmt(r['peak_ratio'], 'x')} | {fmt(r.get('peak_vs_spikingjelly'), 'x')} | "
            f"{rates(r)} |"
        )
    failed = [r for r in rows if r.get("error")]
    if failed:
        lines.append("")
        lines.extend(
            f"Failed: {r['workload']}/T={r['T']}/{r['case']}: {r['error']}" for r in failed
        )
    return "\n".join(lines)


def _lengths(
    p: argparse.ArgumentParser, spec: str, Ts: dict[str, list[int]]
) -> dict[str, list[int]]:
    """``--T``: plain lengths for every workload, ``WORKLOAD=LENGTH`` for one."""
    plain: list[int] = []
    per: dict[str, list[int]] = {}
    for item in (i.strip() for i in spec.split(",")):
        name, _, value = item.rpartition("=")
        if name and name.strip() not in Ts:
            p.error(f"--T: unknown workload {name.strip()!r} in {item!r}; use w1, w2, solver")
        try:
            length = int(value)
        except ValueError:
            p.error(f"--T takes integers or WORKLOAD=INTEGER entries; got {item!r}")
        if length < 1:
            p.error(f"--T lengths must be >= 1; got {item!r}")
        (per.setdefault(name.strip(), []) if name else plain).append(length)
    out = dict.fromkeys(Ts, plain) if plain else dict(Ts)
    out.update(per)
    return out


def _select(p: argparse.ArgumentParser, cases: list[Case], spec: str) -> list[Case]:
    """``--cases``: keep the floors and the cases whose label is listed."""
    wanted = {c.strip().lower() for c in spec.split(",") if c.strip()}
    known = {c.label.lower() for c in cases}
    unknown = sorted(wanted - known)
    if unknown:
        labels = sorted({c.label for c in cases if c.integrator not in FLOORS})
        p.error(f"--cases: unknown (or skipped) labels {unknown}; the labels are {labels}")
    return [c for c in cases if c.integrator in FLOORS or c.label.lower() in wanted]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small subset for a CI smoke run")
    p.add_argument("--workloads", default="w1,w2,solver", help="comma list of w1, w2, solver")
    p.add_argument(
        "--T",
        default=None,
        help="comma list of sequence lengths (steps N for the solver workload) for every "
        "selected workload, or of WORKLOAD=LENGTH entries for one workload each (e.g. "
        "w1=1000,w2=200); default w1 50,200,1000,4000, w2 50,200, solver 1000,4000,16000",
    )
    p.add_argument(
        "--cases",
        default=None,
        help="comma list of case labels to run (case-insensitive, e.g. 'odeint euler,gl full,"
        "gl soe,SpikingJelly,snnTorch'); each workload's floor always runs; default all",
    )
    p.add_argument("--repeat", type=int, default=3, help="timed calls per case (median)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    p.add_argument(
        "--probe-long",
        action="store_true",
        help="also probe the memory of solver cases beyond N = 4000 (needs --mem-cap-gb 20)",
    )
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")
    p.add_argument(
        "--mem-cap-gb",
        type=float,
        default=8.0,
        help="address-space limit (GiB) of each case's child process; 0 for none",
    )
    p.add_argument(
        "--in-process",
        action="store_true",
        help="measure every case in this process (no child processes, no memory cap)",
    )
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error(f"--repeat must be >= 1, got {args.repeat}")
    if args.mem_cap_gb < 0:
        p.error(f"--mem-cap-gb must be >= 0 (0: no limit), got {args.mem_cap_gb}")
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    bad = sorted(set(workloads) - {"w1", "w2", "solver"})
    if bad:
        p.error(f"--workloads accepts w1, w2, solver; got {bad}")
    if args.in_process:
        torch.set_num_threads(args.threads)
    # else: the parent runs no torch work, so that forked children start clean
    if args.quick:
        Ts = {"w1": [50], "w2": [10], "solver": [200]}
    else:
        Ts = {"w1": [50, 200, 1000, 4000], "w2": [50, 200], "solver": [1000, 4000, 16000]}
    if args.T:
        Ts = _lengths(p, args.T, Ts)
    peer_names, notes = available_peers()
    for note in notes:
        print(f"note: {note}", file=sys.stderr, flush=True)
    cases = cases_for(workloads, Ts, args.quick, peer_names)
    if args.cases:
        cases = _select(p, cases, args.cases)
    rows = []
    start = time.perf_counter()
    for case in cases:
        probe = not args.no_memory and _probed(case, args.probe_long)
        if args.in_process:
            row = measure(case, args.repeat, probe)
        else:
            row = measure_isolated(case, args.repeat, probe, args.threads, args.mem_cap_gb)
        rows.append(row)
        if row["error"]:
            msg = f"FAILED: {row['error']}"
        else:
            peak = "–" if row["peak_mib"] is None else f"{row['peak_mib']:.1f}"
            msg = (
                f"fwd {1e3 * row['fwd_s']:.1f} ms, fwd+bwd {1e3 * row['fwd_bwd_s']:.1f} ms, "
                f"peak {peak} MiB, process max RSS {row['max_rss_mib']:.0f} MiB"
            )
        print(f"  {case.key}: {msg}", file=sys.stderr, flush=True)
    add_ratios(rows)
    table = markdown(rows)
    print(table)
    out = (
        Path(args.out)
        if args.out
        else HERE
        / "results"
        / ("quick.json" if args.quick else f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": " ".join(
            [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]
        ),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "threads": args.threads,
        "repeat": args.repeat,
        "isolation": "in-process" if args.in_process else "child process per case",
        "mem_cap_gib": None if args.in_process or not args.mem_cap_gb else args.mem_cap_gb,
        "alpha": ALPHA,
        "gains": GAINS,
        "peers": {name: _version(name) for name in peer_names},
        "skipped": notes,
        "date": time.strftime("%Y-%m-%d"),
        "wall_s": time.perf_counter() - start,
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out}", file=sys.stderr)
    return 1 if any(r["error"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
