"""``spikede.profile``: firing rates, synaptic operations, multiply-accumulates and energy.

What is counted, per sample (counts over the batch divided by its size), over the whole
sequence (the ``N`` points of the solver grid, one network evaluation each):

* **synops** (synaptic operations, accumulates): for each layer whose input is spikes,
  the non-zero input entries times the fan-out of each, i.e. the number of weights each
  event is added through. ``nn.Linear``: ``out_features`` per event.
  ``nn.Conv1d/2d/3d``: per event, the output positions whose window holds it (stride,
  padding of any mode, dilation) times ``out_channels / groups``. ``nn.AvgPool1d/2d/3d``
  and ``nn.AdaptiveAvgPool1d/2d/3d``: the windows that hold it. A sum ``a + b`` (residual
  connection): one per event of each spiking operand. "Spikes" are a neuron's output and
  anything made of spikes only by reshaping, indexing, concatenation, max pooling,
  dropout or sums of spikes (an entry of a sum of spikes that is 2 still counts once).
* **macs** (multiply-accumulates): the same layers fed by real values, dense:
  ``nn.Linear`` ``in_features * out_features`` per input row, convolutions
  ``in_channels / groups * prod(kernel_size)`` per output entry (padding included),
  average pooling one per input entry and window. The model's input counts as spikes
  when every value it takes on the grid is 0 or 1 (spike-encoded data, with the samples
  on the grid), and as real valued otherwise (:attr:`Profile.input_spikes`).
* **history_macs**: the multiply-adds of the fractional method's history sums (zero for
  ``odeint``), for every neuron of every layer, as the solver runs them without gradient
  (``full`` grows like ``N^2/2``; ``memory=M`` and ``history="soe"`` are bounded per
  step; see :mod:`spikede._history_cost`).

Not counted: biases, neurons' own updates (leak, threshold, reset), normalisation layers,
elementwise operations on real values, max pooling (comparisons), the head's reductions,
the extra evaluations of multi-stage methods (``midpoint``, ``rk4``, the corrections of
``l1``/``trap``) and of sub-stepping beyond the grid points, and weighted layers of other
types (``ConvTranspose``, ``RNN``, functional ``F.linear``/``matmul``: a warning names
them).

The profile is of the network at inference: :func:`profile` runs one gradient-free
forward with every module in evaluation mode (restored afterwards).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

import spikede_interp
from spikede._counting import _ADD_FUNCTIONS, _ADD_METHODS, COUNTED, StepCounter, uncounted
from spikede._history_cost import history_macs_per_neuron
from spikede._recording import layer_names

__all__ = ["LayerProfile", "Profile", "profile"]

#: Energy per operation at 45 nm (Horowitz, ISSCC 2014): a 32-bit float add, and a
#: 32-bit float multiply plus add.
E_AC = 0.9e-12
E_MAC = 4.6e-12


class LayerProfile(NamedTuple):
    """One row of :attr:`Profile.layers` (counts per sample, whole sequence).

    Attributes:
        name: The module's name in ``base.named_modules()`` (``@i`` for the ``i``-th call
            of a module called several times; the graph node's name for a sum).
        kind: The module's class name, or ``"add"``.
        neurons: Neurons of a neuron layer (per sample), else 0.
        firing_rate: Mean spikes per neuron per grid step of a neuron layer, else ``None``.
        synops: Synaptic operations (accumulates driven by spikes).
        macs: Multiply-accumulates (layers fed by real values).
    """

    name: str
    kind: str
    neurons: int
    firing_rate: float | None
    synops: float
    macs: float


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


@dataclass(frozen=True)
class Profile:
    """Operation counts and firing rates of one forward, per sample (see :func:`profile`).

    Attributes:
        layers: One :class:`LayerProfile` per neuron layer and counted layer, in the order
            the model runs them.
        synops: Total synaptic operations.
        macs: Total multiply-accumulates of layers fed by real values.
        history_macs: Multiply-adds of the fractional history (0 for integer order).
        steps: Grid points ``N`` of the forward.
        method: The solver method.
        history: ``"full"``, ``"memory=M"``, ``"soe"`` or ``"none"`` (integer order).
        input_spikes: Whether the model's input counted as spikes (all its values on the
            grid are 0 or 1).
    """

    layers: tuple[LayerProfile, ...]
    synops: float
    macs: float
    history_macs: float
    steps: int
    method: str
    history: str
    input_spikes: bool = False

    @property
    def neurons(self) -> int:
        """Neurons per sample over all neuron layers."""
        return sum(layer.neurons for layer in self.layers)

    def firing_rates(self) -> dict[str, float]:
        """Firing rate of every neuron layer."""
        return {r.name: r.firing_rate for r in self.layers if r.firing_rate is not None}

    def energy(self, e_ac: float = E_AC, e_mac: float = E_MAC) -> float:
        """Estimated energy per sample, in joules.

        ``synops * e_ac + (macs + history_macs) * e_mac``: a synaptic operation is an
        accumulate, the dense layers and the history sums are multiply-accumulates.

        Args:
            e_ac: Joules per accumulate (default 0.9 pJ, 45 nm, Horowitz 2014).
            e_mac: Joules per multiply-accumulate (default 4.6 pJ, same source).

        Returns:
            Joules per sample.
        """
        for name, value in (("e_ac", e_ac), ("e_mac", e_mac)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a non-negative number of joules; got {value!r}")
        return self.synops * e_ac + (self.macs + self.history_macs) * e_mac

    def table(self) -> str:
        """The profile as a markdown table, one row per layer, then the history and totals.

        Returns:
            The table; counts are per sample over the whole sequence.
        """
        lines = [
            "| layer | type | neurons | firing rate | synops | MACs |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in self.layers:
            neurons = f"{r.neurons:,}" if r.neurons else ""
            rate = "" if r.firing_rate is None else f"{r.firing_rate:.3f}"
            synops = _fmt(r.synops) if r.firing_rate is None else ""
            macs = _fmt(r.macs) if r.firing_rate is None else ""
            lines.append(f"| {r.name} | {r.kind} | {neurons} | {rate} | {synops} | {macs} |")
        lines.append(f"| history | {self.method}, {self.history} |  |  |  | {_fmt(self.history_macs)} |")
        lines.append(
            f"| **total** | {self.steps} steps | {self.neurons:,} |  | {_fmt(self.synops)} | "
            f"{_fmt(self.macs + self.history_macs)} |"
        )
        return "\n".join(lines)


def _rows(gm: Any, neuron_nodes: Sequence[str]) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Row name and kind of every neuron call and counted node, in graph order."""
    neuron_set = set(neuron_nodes)
    nodes = []
    for node in gm.graph.nodes:
        if node.op == "call_module":
            module = gm.get_submodule(str(node.target))
            if node.name in neuron_set or isinstance(module, COUNTED):
                nodes.append((node, str(node.target).removeprefix("model."), type(module).__name__))
        elif (node.op == "call_function" and node.target in _ADD_FUNCTIONS) or (
            node.op == "call_method" and node.target in _ADD_METHODS
        ):
            nodes.append((node, node.name, "add"))
    names = layer_names([name for _, name, _ in nodes])
    rows = {node.name: name for (node, _, _), name in zip(nodes, names)}
    kinds = {name: kind for (_, _, kind), name in zip(nodes, names)}
    return rows, kinds, names


def _history_name(options: dict[str, Any], integer: bool) -> str:
    if integer:
        return "none"
    if options.get("memory") is not None:
        return f"memory={options['memory']}"
    return str(options.get("history", "full"))


def profile(snn: Any, x: torch.Tensor, x_time: torch.Tensor | None = None, **forward_kwargs: Any) -> Profile:
    """Profile one forward of ``snn`` on ``x``: firing rates, synops, MACs, history cost.

    Runs one gradient-free forward with every module in evaluation mode (restored after),
    recording every neuron layer, then counts each layer's operations at every grid point
    from the recorded spikes (what is counted and what is not: :mod:`spikede._profile`).
    Counts are per sample (over the batch of ``x``) and over the whole sequence.

    Args:
        snn: A :class:`spikede.SNNWrapper`.
        x: Input ``[T, B, ...]``, as for the forward.
        x_time: Sample times, as for the forward.
        **forward_kwargs: Further arguments of the forward (``method``, ``options``,
            ``model_args``, ``model_kwargs``); not ``record`` or ``return_states``.

    Returns:
        The :class:`Profile`.

    Raises:
        TypeError: If ``snn`` is not an ``SNNWrapper`` or ``record``/``return_states`` is
            given; the forward's own errors for bad input.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from spikede import SNNWrapper, LIFNeuron, profile
        >>> model = nn.Sequential(nn.Linear(4, 8), LIFNeuron(threshold=0.2), nn.Linear(8, 2))
        >>> p = profile(SNNWrapper(model, alpha=0.5), torch.rand(10, 3, 4))
        >>> [r.name for r in p.layers], p.macs  # the first layer, fed by the input
        (['0', '1', '2'], 320.0)
        >>> p.history_macs  # gl, full history: 8 neurons * (1 + 2 + ... + 9)
        360.0
        >>> print(p.table().splitlines()[0])
        | layer | type | neurons | firing rate | synops | MACs |
    """
    from spikede._wrapper import SNNWrapper

    if not isinstance(snn, SNNWrapper):
        raise TypeError(f"snn must be a spikede.SNNWrapper; got {type(snn).__name__}")
    for key in ("record", "return_states"):
        if key in forward_kwargs:
            raise TypeError(f"profile records every layer itself; do not pass {key}=")
    network = snn.odefunc.network
    modes = {m: m.training for m in snn.modules()}
    try:
        snn.eval()
        with torch.no_grad():
            _, rec = snn(x, x_time, record=True, **forward_kwargs)
            counts = _count(snn, network, rec, x, x_time, forward_kwargs)
    finally:
        for module, mode in modes.items():
            module.training = mode
    return counts


def _count(snn: Any, network: Any, rec: Any, x: torch.Tensor, x_time: Any, kw: dict[str, Any]) -> Profile:
    gm = network.traced
    nodes = network.neuron_node_order
    missing = uncounted(gm, set(nodes))
    if missing:
        warnings.warn(
            f"profile counts no operation of {', '.join(missing)}: only Linear, Conv1d/2d/3d, "
            "average pooling and sums are counted",
            RuntimeWarning,
            stacklevel=3,
        )
    rows, kinds, names = _rows(gm, nodes)
    if x_time is None:
        x_time = torch.arange(x.shape[0], dtype=x.dtype, device=x.device)
    xs = spikede_interp.Interpolator(x, x_time.to(x), snn.interpolation_method).at(rec.time)
    args, kwargs = kw.get("model_args", ()), kw.get("model_kwargs") or {}
    extras = network.positional(tuple(args), dict(kwargs))
    input_spikes = bool(((xs == 0) | (xs == 1)).all())
    counter = StepCounter(gm, nodes, rows, input_spikes)
    spikes = list(rec.spikes.values())
    for n in range(rec.time.shape[0]):
        counter.step(xs[n], extras, [s[n] for s in spikes])
    batch = x.shape[1]
    rates = rec.firing_rates()
    layers = []
    for name in names:
        if name in rates:
            neurons = rec.spikes[name][0, 0].numel()
            layers.append(LayerProfile(name, kinds[name], neurons, rates[name], 0.0, 0.0))
        elif kinds[name] != "add" or name in counter.adds_with_events:
            layers.append(
                LayerProfile(name, kinds[name], 0, None, counter.synops[name] / batch, counter.macs[name] / batch)
            )
    method = snn._default_method(kw.get("method"))
    options = dict(snn.options)
    options.update(kw.get("options") or {})
    integer = snn.integrator == "odeint"
    neurons = sum(m[0, 0].numel() for m in rec.membrane.values())
    history = 0.0
    if not integer:  # per neuron layer: with soe_tol the number of terms follows the order
        orders = [float(o.alpha().detach().reshape(-1)[0]) for o in snn.orders]
        sizes = [m[0, 0].numel() for m in rec.membrane.values()]
        if len(orders) != len(sizes):
            orders = orders[:1] * len(sizes)
        history = sum(
            history_macs_per_neuron(method, rec.time.shape[0], options, a, x.dtype) * size
            for a, size in zip(orders, sizes)
        )
    return Profile(
        tuple(layers),
        sum(r.synops for r in layers),
        sum(r.macs for r in layers),
        float(history),
        int(rec.time.shape[0]),
        method,
        _history_name(options, integer),
        input_spikes,
    )
