"""spikede_fx: trace spiking networks with torch.fx and rewrite them into ODE vector fields."""

from spikede_fx.__about__ import __version__
from spikede_fx._neuron import BaseNeuron

__all__ = ["BaseNeuron", "__version__"]
