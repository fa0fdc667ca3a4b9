"""Exchange networks with other SNN libraries through NIR, the Neuromorphic Intermediate Representation.

NIR describes a network as a graph of continuous-time nodes. The neurons' equations, with
time ``t`` in NIR's units and the input ``I`` the sum of the node's incoming edges::

    LIF   tau dv/dt = (v_leak - v) + R I,   spike when v > v_threshold, then v <- v_reset
    IF        dv/dt = R I,                  spike when v > v_threshold, then v <- v_reset
    LI    tau dv/dt = (v_leak - v) + R I    (no spikes: a readout)

spikeDE's counterparts, with time in units of the grid (``x_time = arange(T)`` by default)::

    HardResetLIFNeuron   tau dv/dt = I - v,  reset to v_reset       <->  NIR LIF
    HardResetIFNeuron        dv/dt = I,      reset to v_reset       <->  NIR IF
    LINeuron             tau dv/dt = I - v,  output the membrane    <->  NIR LI

``dt`` (both directions) is the length, in NIR's time units, of one unit of spikeDE's time
grid: NIR's ``tau`` is spikeDE's ``tau`` times ``dt`` and NIR's IF ``R`` is ``1 / dt``. A
network run by :class:`spikede.SNNWrapper` at ``alpha = 1`` with explicit Euler on unit
steps is then the discrete-time network that steps NIR's equations by Euler with step
``dt``: ``v <- v + (dt/tau)(v_leak - v + R I)``, fire, reset.

What maps exactly, and what raises (never a silent approximation):

- ``nn.Linear`` <-> ``Affine`` (``Linear`` without bias), ``nn.Conv2d`` (zero padding) <->
  ``Conv2d``, ``nn.Flatten`` <-> ``Flatten`` (dims shifted by the batch dimension),
  ``nn.AvgPool2d`` <-> ``AvgPool2d`` (padding 0) and ``nn.AvgPool2d(divisor_override=1)``
  <-> ``SumPool2d``; a residual ``a + b`` <-> two edges into one node (NIR sums a node's
  inputs); ``nn.Identity`` and ``nn.Dropout`` (the identity at inference) are skipped.
- NIR's per-neuron ``R`` and ``v_leak`` are folded into the weights and bias of the
  ``Affine``/``Linear``/``Conv2d`` layer feeding the neuron (per output row, or per
  channel for a convolution): exact in real arithmetic. Where there is no such layer, or
  ``tau``, ``v_threshold`` or ``v_reset`` differ between the neurons of a layer (spikeDE's
  neurons hold one number each), the import raises naming the node.
- spikeDE's :class:`~spikede.LIFNeuron` and :class:`~spikede.IFNeuron` reset by subtracting
  the threshold, NIR resets to ``v_reset``: exporting them raises (use the hard-reset
  neurons). ``CubaLIF``/``CubaLI`` (two states), recurrent graphs, nested graphs and any
  other node raise; so does a :class:`~spikede.SNNWrapper` whose order is not 1 (NIR has no
  fractional node).
- Firing: spikeDE fires when the charged potential reaches the threshold (``>=``), NIR when
  it exceeds it (``>``); the two differ only when the potential equals the threshold exactly.

An imported model runs at any order: ``SNNWrapper(from_nir(graph), alpha=0.6)`` is the
fractional generalisation of the exported network.

Requires the optional extra ``spikede[nir]`` (the ``nir`` package).
"""

from __future__ import annotations

try:
    import nir
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "spikede.nir needs the 'nir' package: install it with `pip install spikede[nir]`"
    ) from exc
import torch
from torch import fx, nn

from spikede._nir._export import export
from spikede._nir._import import build

__all__ = ["from_nir", "to_nir"]


def to_nir(model: nn.Module, input_shape: tuple[int, ...], dt: float = 1.0) -> nir.NIRGraph:
    """Export a spikeDE model to a NIR graph.

    The model is traced with :func:`spikede_fx.symbolic_trace_leaf_neurons` and never run
    or changed: shapes are propagated on zeros, with each neuron passing its input's shape
    through. Weights are copied as numpy arrays in the model's dtype.

    Args:
        model: A plain model (an ``nn.Sequential`` or any traceable module of the supported
            layers, neurons and additions) or an :class:`~spikede.SNNWrapper` whose every
            layer has order 1 (``integrator="odeint"``, or ``fdeint`` with all orders 1).
        input_shape: One sample's shape, without the batch dimension, as NIR's ``Input``
            node holds it (e.g. ``(784,)`` or ``(1, 28, 28)``).
        dt: Length, in NIR's time units, of one unit of spikeDE's time grid (NIR
            ``tau = tau * dt``, IF ``R = 1 / dt``).

    Returns:
        A ``nir.NIRGraph`` with nodes ``input``, one per module call (named after the
        module) and ``output``.

    Raises:
        TypeError: If ``model`` is not a module, or ``input_shape`` or ``dt`` has the
            wrong type.
        ValueError: If ``input_shape`` or ``dt`` is invalid, the wrapper's order is not 1,
            or a module or operation has no exact NIR counterpart (named in the message).

    Example:
        >>> from torch import nn
        >>> from spikede import HardResetLIFNeuron, LINeuron
        >>> model = nn.Sequential(nn.Linear(3, 4), HardResetLIFNeuron(tau=2.0), nn.Linear(4, 2), LINeuron(tau=5.0))
        >>> graph = to_nir(model, input_shape=(3,), dt=1e-3)
        >>> [type(node).__name__ for node in graph.nodes.values()]
        ['Input', 'Affine', 'LIF', 'Affine', 'LI', 'Output']
        >>> graph.nodes["1"].tau.tolist()
        [0.002, 0.002, 0.002, 0.002]
    """
    return export(model, input_shape, dt)


def from_nir(
    graph: nir.NIRGraph, dt: float = 1.0, *, dtype: torch.dtype | None = None
) -> fx.GraphModule:
    """Build a spikeDE model from a NIR graph.

    The result is a ``torch.fx.GraphModule`` of torch layers and spikeDE neurons (one
    submodule per NIR node, named after it with non-identifier characters replaced by
    ``_``), with the edges into a node summed. Wrap it in :class:`~spikede.SNNWrapper` to
    run it, at any order. The graph is not changed.

    Args:
        graph: A flat, feed-forward ``nir.NIRGraph`` with one ``Input`` and one ``Output``.
        dt: Length, in the graph's time units, of one unit of spikeDE's time grid: the
            spikeDE neurons get ``tau / dt``, and the model run on ``x_time = arange(T)``
            steps NIR's equations with step ``dt`` (for a graph exported by snnTorch, whose
            export assumes a step of ``1e-4``, use ``dt=1e-4``).
        dtype: Floating dtype of the parameters (``None``: torch's default dtype). The
            folding of ``R`` and ``v_leak`` is computed in float64 and rounded once.

    Returns:
        The model, a ``GraphModule`` of class ``NIRNetwork``.

    Raises:
        TypeError: If ``graph`` is not a ``nir.NIRGraph``, ``dt`` not a number or
            ``dtype`` not a floating dtype.
        ValueError: If ``dt`` is not positive, or a node or parameter has no exact spikeDE
            counterpart (named in the message).

    Example:
        >>> import numpy as np
        >>> import torch
        >>> from spikede import SNNWrapper
        >>> graph = nir.NIRGraph.from_list(
        ...     nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2)),
        ...     nir.LIF(tau=np.full(2, 0.02), r=np.ones(2), v_leak=np.zeros(2),
        ...             v_threshold=np.ones(2), v_reset=np.zeros(2)))
        >>> model = from_nir(graph, dt=0.01)
        >>> type(model.lif).__name__, model.lif.tau, model.lif.v_reset
        ('HardResetLIFNeuron', 2.0, 0.0)
        >>> SNNWrapper(model, integrator="odeint")(torch.ones(4, 1, 3)).squeeze(1)[:, 0].tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    return build(graph, dt, dtype)
