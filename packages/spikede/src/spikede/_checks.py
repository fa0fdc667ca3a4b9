"""Argument checks shared by the neuron layers and the NIR conversion."""

from __future__ import annotations

import math
from numbers import Real


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float after checking it is a finite real number > 0.

    Raises:
        TypeError: If ``value`` is not a real number (a bool is not one).
        ValueError: If it is not finite or not positive.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(
            f"{name} must be a positive real number; got {value!r} of type {type(value).__name__}"
        )
    if not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` after checking it is a bool.

    Raises:
        TypeError: If it is not.
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return value
