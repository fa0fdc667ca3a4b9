"""Argument checks shared by the event-camera emulator (raised before any work starts)."""

from __future__ import annotations

import math
import numbers

import numpy as np


def positive_float(name: str, value: object) -> float:
    """Return ``value`` as a float after checking it is a finite real number > 0."""
    number = _real(name, value, "a finite number > 0")
    if not number > 0.0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return number


def non_negative_float(name: str, value: object) -> float:
    """Return ``value`` as a float after checking it is a finite real number >= 0."""
    number = _real(name, value, "a finite number >= 0")
    if not number >= 0.0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return number


def non_negative_int(name: str, value: object) -> int:
    """Return ``value`` after checking it is an int >= 0 (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int >= 0; got {value!r} of type {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be an int >= 0; got {value!r}")
    return int(value)


def generator(name: str, value: object) -> np.random.Generator:
    """Return a numpy Generator from ``value``: a Generator, an int seed or None (fresh)."""
    if isinstance(value, np.random.Generator):
        return value
    if value is None:
        return np.random.default_rng()
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{name} as a seed must be an int >= 0; got {value!r}")
        return np.random.default_rng(int(value))
    raise TypeError(
        f"{name} must be a numpy.random.Generator, an int seed or None; "
        f"got {value!r} of type {type(value).__name__}"
    )


def _real(name: str, value: object, accepted: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {accepted}; got {value!r} of type {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be {accepted}; got {value!r}")
    return number
