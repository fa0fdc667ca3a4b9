"""Parameter helpers shared by the NIR export and import."""

from __future__ import annotations

import numpy as np


def as_array(value: object) -> np.ndarray:
    """A NIR parameter (array, list or number) as a float64 numpy array."""
    return np.asarray(value, dtype=np.float64)


def uniform(node: str, param: str, value: object, what: str) -> float:
    """The single value of a per-neuron NIR parameter, or an error naming the node.

    Args:
        node: Name of the NIR node (for the message).
        param: Name of the parameter (for the message).
        value: The parameter's array.
        what: The spikeDE parameter that holds one number for the whole layer.

    Raises:
        ValueError: If the entries differ (or there are none).
    """
    array = as_array(value)
    if array.size == 0:
        raise ValueError(f"NIR node {node!r}: parameter {param} is empty")
    first = float(array.flat[0])
    if not np.all(array == first):
        raise ValueError(
            f"NIR node {node!r}: {param} differs between neurons (from {array.min():.6g} to "
            f"{array.max():.6g}); spikeDE's {what} is one number per layer, so this node "
            "cannot be represented exactly"
        )
    return first
