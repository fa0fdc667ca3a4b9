"""Argument checking for every public entry point (one function per entry point).

Everything is checked before any integration work; errors name the argument, the value
given and what is accepted.
"""

from __future__ import annotations

import difflib
import math
import numbers
import warnings
from typing import Any

import torch
from torch import Tensor

from spikede_solvers._adaptive_options import ADAPTIVE_OPTIONS, check_adaptive_options
from spikede_solvers._base import Component, Problem, Solver
from spikede_solvers._registry import SOLVERS, list_methods

__all__ = [
    "check_fdeint",
    "check_graded_grid",
    "check_mittag_leffler",
    "check_odeint",
    "check_options",
    "check_snn_solve",
    "check_solve",
    "method_options",
]

_FRACTIONAL_OPTIONS = frozenset(
    {"memory", "history", "soe_terms", "soe_tol", "soe_window", "block"}
)
#: Options every integrator accepts.
_COMMON_OPTIONS = frozenset({"checkpoint"})
_HISTORY_MODES = ("full", "soe")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_scalar(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, numbers.Real):
        return True
    return isinstance(x, Tensor) and x.dim() == 0


def _is_order_list(x: Any) -> bool:
    if isinstance(x, Tensor):
        return x.dim() == 1
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(_is_scalar(v) for v in x)


def _check_func(func: Any) -> None:
    if not callable(func):
        raise TypeError(f"func must be callable as func(t, y), got {type(func).__name__}")


def _check_states(y0: Any, *, allow_tensor: bool = True) -> tuple[tuple[Tensor, ...], bool]:
    if isinstance(y0, Tensor):
        if not allow_tensor:
            raise TypeError("y0 must be a tuple of tensors (one per state component), got a Tensor")
        states, is_tuple = (y0,), False
    elif isinstance(y0, (tuple, list)):
        if len(y0) == 0:
            raise ValueError("y0 must hold at least one tensor, got an empty sequence")
        states, is_tuple = tuple(y0), True
    else:
        raise TypeError(f"y0 must be a Tensor or a tuple of Tensors, got {type(y0).__name__}")
    for i, y in enumerate(states):
        where = "y0" if not is_tuple else f"y0[{i}]"
        if not isinstance(y, Tensor):
            raise TypeError(f"{where} must be a Tensor, got {type(y).__name__}")
        if not y.is_floating_point():
            raise TypeError(f"{where} must have a floating dtype (float32/float64), got {y.dtype}")
        if not bool(torch.isfinite(y.detach()).all()):
            raise ValueError(f"{where} must be finite, got NaN or inf values")
        if y.device != states[0].device:
            raise ValueError(
                f"{where} is on {y.device} but y0[0] is on {states[0].device}; use one device"
            )
    return states, is_tuple


#: A step may differ from the mean step by ``1e-6`` of it plus this many units of the
#: dtype's epsilon times ``max |t|`` (the rounding of the grid's values) ...
_ROUNDING_EPS = 4.0
_STEP_RTOL = 1e-6
#: ... but the rounding allowance never exceeds this fraction of the mean step.
_ROUNDING_CAP = 0.05


def _uniform_tolerance(td: Tensor, h: float) -> tuple[float, bool]:
    """How far a step of ``td`` may be from the mean step ``h`` in a uniform grid.

    Returns the tolerance and whether the rounding allowance was capped (the dtype cannot
    resolve steps of ``h`` at ``max |t|``).
    """
    rounding = _ROUNDING_EPS * torch.finfo(td.dtype).eps * float(td.abs().max())
    cap = _ROUNDING_CAP * h
    return _STEP_RTOL * h + min(rounding, cap), rounding > cap


def _check_grid(t: Any, solver: Solver, method: str) -> tuple[float, int, bool]:
    """Check the grid; return the mean step, the number of points, whether it is uniform.

    A non-uniform grid raises for a method with ``uniform_only``.
    """
    if not isinstance(t, Tensor):
        raise TypeError(f"t must be a 1-d floating Tensor of time points, got {type(t).__name__}")
    if t.dim() != 1:
        raise ValueError(f"t must be 1-d, got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        raise TypeError(f"t must have a floating dtype, got {t.dtype}")
    n = t.shape[0]
    if n < 1:
        raise ValueError("t must hold at least one time point, got an empty tensor")
    td = t.detach()
    if not bool(torch.isfinite(td).all()):
        raise ValueError("t must be finite, got NaN or inf values")
    if n == 1:
        return 1.0, 1, True
    dt = td[1:] - td[:-1]
    if not bool((dt > 0).all()):
        k = int(torch.nonzero(dt <= 0)[0, 0])
        raise ValueError(
            f"t must be strictly increasing, got t[{k}]={float(td[k])!r} >= t[{k + 1}]={float(td[k + 1])!r}"
        )
    h = float(td[-1] - td[0]) / (n - 1)
    tol, capped = _uniform_tolerance(td, h)
    dev = (dt - h).abs()
    k = int(torch.argmax(dev))
    worst = float(dev[k])
    uniform = worst <= tol
    if solver.uniform_only and not uniform:
        accepting = sorted(
            name for name, s in SOLVERS.items() if s.kind == solver.kind and not s.uniform_only
        )
        hint = (
            f" (a {t.dtype} grid reaching |t| = {float(td.abs().max()):.3g} cannot hold"
            f" uniform steps of {h:.3g}: use a float64 grid)"
            if capped
            else ""
        )
        raise ValueError(
            f"t must be uniformly spaced for method {method!r}: step t[{k + 1}]-t[{k}]="
            f"{float(dt[k])!r} differs from the mean step {h!r} by {worst:.3g} "
            f"({worst / h:.3g} of it), more than the tolerance {tol:.3g}{hint}; "
            f"methods that accept a non-uniform grid: {accepting}"
        )
    return h, n, uniform


def _check_method(method: Any, kind: str, integrator: str) -> tuple[str, Solver]:
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, got {type(method).__name__}")
    solver = SOLVERS.get(method)
    if solver is None or solver.kind != kind:
        raise ValueError(
            f"method={method!r} is not a method of {integrator}; accepted: {list_methods(kind)}"
        )
    return method, solver


def _check_memory(memory: Any) -> int | None:
    if memory is None:
        return None
    if isinstance(memory, bool) or not isinstance(memory, numbers.Integral):
        raise TypeError(f"memory must be None or an int >= 1, got {_short(memory)}")
    if memory < 1:
        raise ValueError(f"memory must be an int >= 1, got {memory}")
    return int(memory)


def _check_options(options: Any, allowed: frozenset[str], method: str) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(f"options must be a dict or None, got {type(options).__name__}")
    unknown = sorted(set(options) - allowed, key=str)
    if unknown:
        close = {k: difflib.get_close_matches(str(k), sorted(allowed), n=1) for k in unknown}
        hint = "".join(f"; did you mean {m[0]!r} for {k!r}?" for k, m in close.items() if m)
        raise ValueError(
            f"options {unknown} are not accepted by method {method!r}; accepted: {sorted(allowed)}{hint}"
        )
    out = dict(options)
    _check_history_options(out)
    if "checkpoint" in out and not isinstance(out["checkpoint"], bool):
        raise TypeError(
            f"options['checkpoint'] must be True or False, got {_short(out['checkpoint'])}"
        )
    if "corrector_steps" in out:
        c = out["corrector_steps"]
        if isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 1:
            raise ValueError(f"options['corrector_steps'] must be an int >= 1, got {_short(c)}")
    return out


def _check_history_options(opts: dict[str, Any]) -> None:
    mode = opts.get("history", "full")
    if mode not in _HISTORY_MODES:
        raise ValueError(
            f"options['history'] must be one of {list(_HISTORY_MODES)}, got {_short(mode)}"
        )
    if "block" in opts:
        v = opts["block"]
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
            raise ValueError(f"options['block'] must be an int >= 0, got {_short(v)}")
    for key, low in (("soe_terms", 1), ("soe_window", 1)):
        if key not in opts:
            continue
        v = opts[key]
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
            raise ValueError(f"options[{key!r}] must be an int >= {low}, got {_short(v)}")
        if mode != "soe":
            raise ValueError(
                f"options[{key!r}] applies to options['history']='soe' only, got history={mode!r}"
            )
    if "soe_tol" in opts:
        v = opts["soe_tol"]
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0.0 < float(v) < 1.0:
            raise ValueError(f"options['soe_tol'] must be a number in (0, 1), got {_short(v)}")
        if mode != "soe":
            raise ValueError(
                f"options['soe_tol'] applies to options['history']='soe' only, got history={mode!r}"
            )
        if "soe_terms" in opts:
            raise ValueError(
                f"options['soe_tol']={_short(v)} and options['soe_terms']="
                f"{_short(opts['soe_terms'])} exclude each other: soe_terms fixes the number "
                "of exponentials, soe_tol chooses it"
            )


def _as_tensor(x: Any, like: Tensor) -> Tensor:
    if isinstance(x, Tensor):
        return x.to(dtype=like.dtype, device=like.device)
    return torch.tensor(float(x), dtype=like.dtype, device=like.device)


def _check_order_values(a: Tensor, name: str) -> None:
    v = a.detach()
    if not bool(torch.isfinite(v).all()) or not bool(((v > 0) & (v <= 1)).all()):
        bad = v[~(torch.isfinite(v) & (v > 0) & (v <= 1))].flatten()[0]
        raise ValueError(f"{name} must lie in (0, 1], got {float(bad)!r}")


def _single(a: Any, y: Tensor, name: str) -> Component:
    if _is_scalar(a):
        t = _as_tensor(a, y)
    elif isinstance(a, Tensor):
        try:
            ok = torch.broadcast_shapes(a.shape, y.shape) == y.shape
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"{name} has shape {tuple(a.shape)}, which does not broadcast to the state shape "
                f"{tuple(y.shape)}; give a scalar or a tensor broadcastable to the state"
            )
        t = _as_tensor(a, y)
        t = t.reshape(*([1] * (y.dim() - t.dim())), *t.shape)
    else:
        raise TypeError(f"{name} must be a float or a Tensor, got {_short(a)}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be floating, got {t.dtype}")
    _check_order_values(t, name)
    return Component(orders=t)


def _multi(a: Any, c: Any, y: Tensor, name: str, cname: str) -> Component:
    if not _is_order_list(a):
        raise ValueError(
            f"{name} must be a 1-d list/tensor of orders for a multi-term equation, got {_short(a)}"
        )
    if not _is_order_list(c):
        raise ValueError(f"{cname} must be a 1-d list/tensor of positive weights, got {_short(c)}")
    orders = (
        a.to(y.dtype).to(y.device)
        if isinstance(a, Tensor)
        else torch.stack([_as_tensor(v, y) for v in a])
    )
    coefs = (
        c.to(y.dtype).to(y.device)
        if isinstance(c, Tensor)
        else torch.stack([_as_tensor(v, y) for v in c])
    )
    if orders.shape[0] != coefs.shape[0]:
        raise ValueError(
            f"{cname} has {coefs.shape[0]} entries but {name} has {orders.shape[0]} orders; give one weight per order"
        )
    _check_order_values(orders, name)
    cv = coefs.detach()
    if not bool(torch.isfinite(cv).all()) or not bool((cv > 0).all()):
        raise ValueError(f"{cname} must be finite and positive, got {cv.tolist()}")
    return Component(orders=orders, coefficients=coefs)


def _components(
    alpha: Any, coefficients: Any, states: tuple[Tensor, ...], is_tuple: bool
) -> list[Component]:
    n = len(states)
    if alpha is None:
        raise TypeError(
            "alpha is required for a fractional method: a float in (0, 1], a Tensor, or a sequence"
        )
    if not (_is_scalar(alpha) or isinstance(alpha, (Tensor, list, tuple))):
        raise TypeError(
            f"alpha must be a float in (0, 1], a Tensor, or a list/tuple of orders; "
            f"got {type(alpha).__name__} {_short(alpha)}"
        )
    if coefficients is None:
        if _is_scalar(alpha):
            return [_single(alpha, y, "alpha") for y in states]
        if not is_tuple:
            if isinstance(alpha, Tensor):
                return [_single(alpha, states[0], "alpha")]
            raise ValueError(
                f"alpha={_short(alpha)} is a list of orders (a multi-term equation) but coefficients is None; "
                "give coefficients, or a Tensor for per-element orders"
            )
        entries = list(alpha) if isinstance(alpha, (list, tuple, Tensor)) else None
        if entries is None or len(entries) != n:
            raise ValueError(
                f"alpha must be a scalar or hold one entry per state component ({n}), got {_short(alpha)}"
            )
        out = []
        for i, (a, y) in enumerate(zip(entries, states)):
            if _is_order_list(a) and not isinstance(a, Tensor):
                raise ValueError(f"alpha[{i}]={_short(a)} is multi-term but coefficients is None")
            out.append(_single(a, y, f"alpha[{i}]"))
        return out
    # multi-term
    if not isinstance(coefficients, (list, tuple, Tensor)):
        raise TypeError(
            f"coefficients must be a sequence or Tensor, got {type(coefficients).__name__}"
        )
    per_component = is_tuple and not _is_order_list(coefficients)
    if not per_component:
        return [_multi(alpha, coefficients, y, "alpha", "coefficients") for y in states]
    if len(coefficients) != n:
        raise ValueError(
            f"coefficients must hold one entry per state component ({n}), got {len(coefficients)}"
        )
    if _is_scalar(alpha) or not isinstance(alpha, (list, tuple)) or len(alpha) != n:
        raise ValueError(
            f"alpha must hold one entry per state component ({n}) when coefficients does, got {_short(alpha)}"
        )
    out = []
    for i, (a, c, y) in enumerate(zip(alpha, coefficients, states)):
        if c is None:
            out.append(_single(a, y, f"alpha[{i}]"))
        else:
            out.append(_multi(a, c, y, f"alpha[{i}]", f"coefficients[{i}]"))
    return out


def _fractional(
    func: Any,
    states: tuple[Tensor, ...],
    is_tuple: bool,
    t: Any,
    alpha: Any,
    method: Any,
    coefficients: Any,
    memory: Any,
    options: Any,
    integrator: str,
) -> tuple[Solver, Problem]:
    name, solver = _check_method(method, "fractional", integrator)
    memory = _check_memory(memory)
    comps = _components(alpha, coefficients, states, is_tuple)
    if any(c.multi_term for c in comps) and not solver.multi_term:
        warnings.warn(
            f"method {name!r} solves single-term equations; this problem is multi-term, using 'glmulti'",
            UserWarning,
            stacklevel=3,
        )
        name, solver = "glmulti", SOLVERS["glmulti"]
    opts = _check_options(options, solver.options | _FRACTIONAL_OPTIONS | _COMMON_OPTIONS, name)
    if "memory" in opts:
        m = _check_memory(opts.pop("memory"))
        if memory is not None and m != memory:
            raise ValueError(f"memory={memory} and options['memory']={m} disagree; give one")
        memory = m
    if memory is not None and opts.get("history", "full") == "soe":
        raise ValueError(
            f"memory={memory} and options['history']='soe' exclude each other: the SOE "
            "history approximates the full memory; give one"
        )
    h, n, uniform = _check_grid(t, solver, name)
    if not uniform and opts.get("history", "full") == "soe":
        raise ValueError(
            f"options['history']='soe' needs a uniform grid (its exponential sums are fitted "
            f"to the coefficients of uniform steps), but t is not uniform; method {name!r} "
            "takes a non-uniform grid with the full history or with memory=M"
        )
    return solver, Problem(states, t, h, n, comps, memory, opts, uniform)


def check_fdeint(
    func: Any,
    y0: Any,
    t: Any,
    alpha: Any,
    method: Any,
    coefficients: Any,
    memory: Any,
    options: Any,
) -> tuple[Solver, Problem, bool]:
    """Check ``fdeint``'s arguments; return the solver, the problem and whether y0 is a tuple."""
    _check_func(func)
    states, is_tuple = _check_states(y0)
    solver, problem = _fractional(
        func,
        states,
        is_tuple,
        t,
        alpha,
        method,
        coefficients,
        memory,
        options,
        "fdeint",
    )
    return solver, problem, is_tuple


def check_odeint(
    func: Any, y0: Any, t: Any, method: Any, options: Any
) -> tuple[Solver, Problem, bool]:
    """Check ``odeint``'s arguments; return the solver, the problem and whether y0 is a tuple."""
    _check_func(func)
    states, is_tuple = _check_states(y0)
    name, solver = _check_method(method, "integer", "odeint")
    adaptive = getattr(solver, "adaptive", False)
    if not adaptive and isinstance(options, dict) and ADAPTIVE_OPTIONS & set(options):
        raise ValueError(
            f"options {sorted(ADAPTIVE_OPTIONS & set(options))} are not accepted by method "
            f"{name!r} (it steps on the grid t); they apply to the adaptive methods "
            f"{[m for m in list_methods('integer') if getattr(SOLVERS[m], 'adaptive', False)]}"
        )
    opts = _check_options(options, solver.options | _COMMON_OPTIONS, name)
    if adaptive:
        opts = check_adaptive_options(opts, states)
    h, n, uniform = _check_grid(t, solver, name)
    return (
        solver,
        Problem(states, t, h, n, [Component(None) for _ in states], None, opts, uniform),
        is_tuple,
    )


def check_snn_solve(
    func: Any,
    y0: Any,
    t: Any,
    integrator: Any,
    method: Any,
    alpha: Any,
    coefficients: Any,
    memory: Any,
    options: Any,
    keep_states: Any = True,
) -> tuple[Solver, Problem]:
    """Check ``snn_solve``'s arguments; return the solver and the problem."""
    _check_func(func)
    if not isinstance(keep_states, bool):
        raise TypeError(f"keep_states must be True or False, got {_short(keep_states)}")
    states, _ = _check_states(y0, allow_tensor=False)
    if integrator == "odeint":
        if alpha is not None or coefficients is not None:
            raise ValueError(
                "integrator='odeint' is integer order: alpha and coefficients must be None"
            )
        if memory is not None:
            raise ValueError(f"memory={memory!r} applies to integrator='fdeint' only")
        name, solver = _check_method("euler" if method is None else method, "integer", "odeint")
        if getattr(solver, "adaptive", False):
            raise ValueError(
                f"method={name!r} is adaptive (odeint only); snn_solve steps on the grid t: "
                f"use one of {[m for m in list_methods('integer') if not getattr(SOLVERS[m], 'adaptive', False)]}"
            )
        opts = _check_options(options, solver.options | _COMMON_OPTIONS, name)
        h, n, uniform = _check_grid(t, solver, name)
        return solver, Problem(
            states, t, h, n, [Component(None) for _ in states], None, opts, uniform
        )
    if integrator != "fdeint":
        raise ValueError(f"integrator must be 'fdeint' or 'odeint', got {_short(integrator)}")
    return _fractional(
        func,
        states,
        True,
        t,
        alpha,
        "gl" if method is None else method,
        coefficients,
        memory,
        options,
        "fdeint",
    )


def check_mittag_leffler(alpha: Any, z: Any) -> tuple[float, Tensor, torch.dtype, bool]:
    """Check ``mittag_leffler``'s arguments; return alpha, z as float64, output dtype, scalar flag."""
    if isinstance(alpha, Tensor):
        if alpha.numel() != 1:
            raise ValueError(f"alpha must be a scalar, got a tensor of shape {tuple(alpha.shape)}")
        a = float(alpha.detach())
    elif isinstance(alpha, numbers.Real) and not isinstance(alpha, bool):
        a = float(alpha)
    else:
        raise TypeError(f"alpha must be a float in (0, 1], got {_short(alpha)}")
    if not (math.isfinite(a) and 0.0 < a <= 1.0):
        raise ValueError(f"alpha must lie in (0, 1], got {a!r}")
    scalar = False
    if isinstance(z, Tensor):
        if not z.is_floating_point():
            raise TypeError(f"z must be a real floating tensor, got {z.dtype}")
        out_dtype = z.dtype
        zz = z.detach().to(torch.float64)
    elif isinstance(z, numbers.Real) and not isinstance(z, bool):
        out_dtype, scalar = torch.float64, True
        zz = torch.tensor(float(z), dtype=torch.float64)
    else:
        raise TypeError(f"z must be a float or a real Tensor, got {_short(z)}")
    if not bool(torch.isfinite(zz).all()) or not bool((zz <= 0).all()):
        bad = zz[~(torch.isfinite(zz) & (zz <= 0))].flatten()[0]
        raise ValueError(f"z must be finite and <= 0, got {float(bad)!r}")
    return a, zz, out_dtype, scalar


def method_options(method: str) -> frozenset[str]:
    """Every option key that ``method`` accepts (its own, plus its kind's common ones)."""
    solver = SOLVERS[method]
    common = _COMMON_OPTIONS | (_FRACTIONAL_OPTIONS if solver.kind == "fractional" else frozenset())
    return solver.options | common


def check_options(method: str, options: Any) -> dict[str, Any]:
    """Check ``options`` for a registered ``method``; return them as a new dict.

    The one check of solver options: an unknown key is refused with the closest valid
    name, and each value is checked by the rule of the option that reads it.

    Args:
        method: A registered method name.
        options: A dict of options, or ``None``.

    Returns:
        The options (``{}`` for ``None``).

    Raises:
        TypeError: If ``options`` is not a dict or a value has the wrong type.
        ValueError: If a key is unknown to ``method`` or a value is out of range.

    Example:
        >>> check_options("gl", {"history": "soe"})
        {'history': 'soe'}
    """
    opts = _check_options(options, method_options(method), method)
    if getattr(SOLVERS[method], "adaptive", False):
        # Values checked here once (the dtype-dependent floor of rtol again at the solve).
        check_adaptive_options(opts, (torch.zeros((), dtype=torch.float64),))
    m = opts.get("memory")
    if m is not None and (isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1):
        raise ValueError(f"options['memory'] must be an int >= 1 or None, got {_short(m)}")
    if m is not None:
        opts["memory"] = int(m)
    return opts


def check_solve(
    func: Any,
    y0: Any,
    t: Any,
    method: Any,
    alpha: Any,
    coefficients: Any,
    memory: Any,
    options: Any,
    has_aux: Any,
    keep_states: Any,
) -> tuple[Solver, Problem]:
    """Check ``solve``'s arguments; return the solver and the problem."""
    if not callable(func):
        raise TypeError(f"func must be callable as func(t, y, args, step), got {type(func).__name__}")
    for name, flag in (("has_aux", has_aux), ("keep_states", keep_states)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {_short(flag)}")
    states, is_tuple = _check_states(y0)
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, got {type(method).__name__}")
    solver = SOLVERS.get(method)
    if solver is None:
        close = difflib.get_close_matches(method, sorted(SOLVERS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"method={method!r} is not registered{hint}; accepted: {list_methods()}")
    if getattr(solver, "adaptive", False):
        raise ValueError(
            f"method={method!r} is adaptive: solve integrates on the given grid; use "
            f"odeint(func, y0, t, method={method!r})"
        )
    if solver.kind == "fractional":
        return _fractional(
            func, states, is_tuple, t, alpha, method, coefficients, memory, options, "solve"
        )
    for name, value in (("alpha", alpha), ("coefficients", coefficients), ("memory", memory)):
        if value is not None:
            raise ValueError(
                f"{name}={_short(value)} applies to fractional methods only; method "
                f"{method!r} is integer order"
            )
    opts = _check_options(options, method_options(method), method)
    h, n, uniform = _check_grid(t, solver, method)
    return solver, Problem(states, t, h, n, [Component(None) for _ in states], None, opts, uniform)


def _real(value: Any, name: str) -> float:
    if isinstance(value, Tensor) and value.numel() == 1 and value.is_floating_point():
        value = float(value.detach())
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_short(value)}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out!r}")
    return out


def check_graded_grid(
    t_end: Any, n: Any, r: Any, t0: Any, dtype: Any
) -> tuple[float, int, float, float, torch.dtype]:
    """Check ``graded_grid``'s arguments; return them as numbers and a floating dtype."""
    end, start, grading = _real(t_end, "t_end"), _real(t0, "t0"), _real(r, "r")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an int >= 1 (the number of steps), got {_short(n)}")
    if n < 1:
        raise ValueError(f"n must be an int >= 1 (the number of steps), got {n}")
    if not end > start:
        raise ValueError(f"t_end must be greater than t0, got t_end={end!r} and t0={start!r}")
    if grading < 1.0:
        raise ValueError(f"r must be >= 1 (r = 1 is the uniform grid), got {grading!r}")
    if dtype is None:
        dtype = torch.get_default_dtype()
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype or None, got {_short(dtype)}")
    return end, int(n), grading, start, dtype
