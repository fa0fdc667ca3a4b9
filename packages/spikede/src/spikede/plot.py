"""Plots of a :class:`spikede.Recording`: spike rasters, membrane traces, firing rates.

matplotlib is an optional dependency: install it with ``pip install spikede[plot]``. It is
imported when a function is called, not with this module. Each function draws into
``ax`` (a new figure's axes when ``None``) and returns the axes. Neurons are numbered in
the flattened order of a layer's shape (``C*H*W`` for a convolutional layer), and one
sample of the batch is shown (``sample``, the first by default).

Example:
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import torch
    >>> from torch import nn
    >>> from spikede import SNNWrapper, LIFNeuron, plot
    >>> snn = SNNWrapper(nn.Sequential(nn.Linear(3, 6), LIFNeuron(threshold=0.2)), integrator="odeint")
    >>> _, rec = snn(torch.rand(20, 2, 3), record=True)
    >>> ax = plot.raster(rec, "1")
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('time', 'neuron')
    >>> len(plot.membrane(rec, "1", neurons=[0, 2]).get_lines())
    2
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from spikede._recording import Recording

__all__ = ["firing_rates", "membrane", "raster"]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "spikede.plot needs matplotlib; install it with `pip install spikede[plot]` "
            "(or `pip install matplotlib`)"
        ) from exc
    return plt


def _axes(ax: Any) -> Any:
    if ax is None:
        _, ax = _pyplot().subplots()
    else:
        _pyplot()
    return ax


def _layer(rec: object, name: object, what: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    if not isinstance(rec, Recording):
        raise TypeError(f"rec must be a spikede.Recording; got {type(rec).__name__}")
    values = rec.spikes if what is None else what
    if name not in values:
        raise ValueError(f"name={name!r} is not a recorded layer; recorded: {rec.names}")
    return values[name]  # type: ignore[index]


def _sample(values: torch.Tensor, sample: int) -> torch.Tensor:
    batch = values.shape[1]
    if isinstance(sample, bool) or not isinstance(sample, int) or not 0 <= sample < batch:
        raise ValueError(f"sample must be an int in [0, {batch}); got {sample!r}")
    return values[:, sample].detach().reshape(values.shape[0], -1).cpu().float()


def raster(rec: Recording, name: str, ax: Any = None, *, sample: int = 0) -> Any:
    """Spike raster of layer ``name``: a mark at (time, neuron) for every spike.

    Args:
        rec: The recording.
        name: A recorded layer (``rec.names``).
        ax: Matplotlib axes to draw into; ``None`` makes a new figure.
        sample: Which sample of the batch to show.

    Returns:
        The axes.

    Raises:
        TypeError: If ``rec`` is not a :class:`spikede.Recording`.
        ValueError: For a layer that was not recorded or a bad ``sample``.
        ImportError: Without matplotlib.
    """
    spikes = _sample(_layer(rec, name), sample)
    ax = _axes(ax)
    steps, neurons = torch.nonzero(spikes, as_tuple=True)
    ax.scatter(rec.time.detach().cpu()[steps].numpy(), neurons.numpy(), marker="|", s=30, color="black", linewidths=1)
    ax.set(xlabel="time", ylabel="neuron", title=f"spikes of {name}")
    ax.set_ylim(-0.5, spikes.shape[1] - 0.5)
    t0, t1 = float(rec.time[0]), float(rec.time[-1])
    margin = 0.5 * (t1 - t0) / max(rec.time.shape[0] - 1, 1)  # half a step: edge marks show
    ax.set_xlim(t0 - margin, t1 + margin)
    return ax


def membrane(
    rec: Recording, name: str, neurons: Sequence[int] | None = None, ax: Any = None, *, sample: int = 0
) -> Any:
    """Membrane potential of some neurons of layer ``name`` over the grid.

    Args:
        rec: The recording.
        name: A recorded layer (``rec.names``).
        neurons: Flattened neuron indices to draw; ``None`` draws the first five.
        ax: Matplotlib axes to draw into; ``None`` makes a new figure.
        sample: Which sample of the batch to show.

    Returns:
        The axes (one line per neuron).

    Raises:
        TypeError: If ``rec`` is not a :class:`spikede.Recording`.
        ValueError: For a layer that was not recorded, a neuron index out of range or a
            bad ``sample``.
        ImportError: Without matplotlib.
    """
    v = _sample(_layer(rec, name, rec.membrane if isinstance(rec, Recording) else None), sample)
    count = v.shape[1]
    chosen = list(range(min(5, count))) if neurons is None else list(neurons)
    bad = [i for i in chosen if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < count]
    if bad or not chosen:
        raise ValueError(f"neurons must be indices in [0, {count}) of layer {name!r}; got {neurons!r}")
    ax = _axes(ax)
    t = rec.time.detach().cpu().numpy()
    for i in chosen:
        ax.plot(t, v[:, i].numpy(), drawstyle="steps-post", label=f"neuron {i}")
    ax.set(xlabel="time", ylabel="membrane potential", title=f"membranes of {name}")
    if len(chosen) <= 10:
        ax.legend(fontsize=8)
    return ax


def firing_rates(rec: Any, ax: Any = None) -> Any:
    """Bar chart of the firing rate of every recorded layer.

    Args:
        rec: A :class:`spikede.Recording` (or a :class:`spikede.Profile`: anything with a
            ``firing_rates()`` method returning ``{layer: rate}``).
        ax: Matplotlib axes to draw into; ``None`` makes a new figure.

    Returns:
        The axes.

    Raises:
        TypeError: If ``rec`` has no ``firing_rates()``.
        ImportError: Without matplotlib.
    """
    if not callable(getattr(rec, "firing_rates", None)):
        raise TypeError(f"rec must be a spikede.Recording or Profile; got {type(rec).__name__}")
    rates = rec.firing_rates()
    ax = _axes(ax)
    names = list(rates)
    ax.bar(range(len(names)), [rates[n] for n in names], color="tab:blue")
    ax.set_xticks(range(len(names)), names)
    ax.set(xlabel="layer", ylabel="spikes per neuron per step", title="firing rates")
    return ax
