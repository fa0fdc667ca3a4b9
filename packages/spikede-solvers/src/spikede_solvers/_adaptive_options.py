"""Checking the options of the adaptive ``odeint`` methods (``rtol``, ``atol``, ...)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
from torch import Tensor

from spikede_solvers._adaptive import DEFAULTS

__all__ = ["ADAPTIVE_OPTIONS", "check_adaptive_options"]

#: The options only the adaptive methods take.
ADAPTIVE_OPTIONS = frozenset(DEFAULTS)


def _real(x: Any) -> float | None:
    """``x`` as a float if it is a real number (Python, NumPy or a 0-d tensor), else None."""
    if isinstance(x, bool):
        return None
    if isinstance(x, numbers.Real):
        return float(x)
    if isinstance(x, Tensor) and x.dim() == 0 and not x.is_complex() and x.dtype != torch.bool:
        return float(x.detach())
    return None


def _tolerance(name: str, value: Any, states: tuple[Tensor, ...]) -> list[float]:
    n = len(states)
    accepted = "a positive finite number" + (
        f" or a sequence of {n} of them (one per state component)" if n > 1 else ""
    )
    single = _real(value)
    if single is not None:
        values = [single] * n
    elif isinstance(value, (list, tuple)) and n > 1:
        if len(value) != n:
            raise ValueError(
                f"options[{name!r}] has {len(value)} entries for {n} state components; give {accepted}"
            )
        values = [_real(v) for v in value]
        if any(v is None for v in values):
            raise TypeError(f"options[{name!r}]={value!r} must be {accepted}")
    else:
        raise TypeError(f"options[{name!r}] must be {accepted}, got {value!r}")
    for i, v in enumerate(values):
        if not (math.isfinite(v) and v > 0.0):
            raise ValueError(f"options[{name!r}] must be {accepted}, got {value!r}")
        if name == "rtol":
            eps = torch.finfo(states[i].dtype).eps
            if v < eps:
                where = "y0" if n == 1 else f"y0[{i}]"
                raise ValueError(
                    f"options['rtol']={v!r} is below the resolution of {where}'s dtype "
                    f"{states[i].dtype} (eps {eps:.3g}), which no step can meet; give "
                    f"rtol >= {eps:.3g} or a float64 state"
                )
    return values


def check_adaptive_options(opts: dict[str, Any], states: tuple[Tensor, ...]) -> dict[str, Any]:
    """Check and complete the options of an adaptive method.

    Returns a new dict with every adaptive option: ``rtol`` and ``atol`` as one float per
    state component, ``first_step`` a positive float or ``None`` (automatic),
    ``max_num_steps`` an int, plus the other options unchanged.
    """
    out = {**DEFAULTS, **opts}
    out["rtol"] = _tolerance("rtol", out["rtol"], states)
    out["atol"] = _tolerance("atol", out["atol"], states)
    h0 = out["first_step"]
    if h0 is not None:
        value = _real(h0)
        if value is None:
            raise TypeError(f"options['first_step'] must be a positive number or None, got {h0!r}")
        if not (math.isfinite(value) and value > 0.0):
            raise ValueError(f"options['first_step'] must be positive and finite, got {h0!r}")
        out["first_step"] = value
    n = out["max_num_steps"]
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"options['max_num_steps'] must be an int >= 1, got {n!r}")
    if n < 1:
        raise ValueError(f"options['max_num_steps'] must be an int >= 1, got {n!r}")
    out["max_num_steps"] = int(n)
    return out
