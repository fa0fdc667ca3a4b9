"""spikede_fx: trace spiking networks with torch.fx and rewrite them into ODE vector fields."""

from spikede_fx.__about__ import __version__
from spikede_fx._field import FieldArgs
from spikede_fx._network import Network
from spikede_fx._neuron import BaseNeuron
from spikede_fx._odefunc import ODEFuncFromFX
from spikede_fx._tracer import (
    SNNLeafTracer,
    remove_dead_code,
    symbolic_trace_leaf_neurons,
)

__all__ = [
    "BaseNeuron",
    "FieldArgs",
    "Network",
    "ODEFuncFromFX",
    "SNNLeafTracer",
    "__version__",
    "remove_dead_code",
    "symbolic_trace_leaf_neurons",
]
