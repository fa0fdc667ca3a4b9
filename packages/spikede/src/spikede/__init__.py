"""spikeDE: continuous-time and fractional-order spiking neural networks in PyTorch.

The umbrella package: :class:`SNNWrapper` turns an ordinary discrete-time SNN into a
continuous-time (integer or fractional order) dynamical system; neurons, surrogate
gradients and readout layers to build such networks.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from spikede import SNNWrapper, LIFNeuron
    >>> snn = SNNWrapper(nn.Sequential(nn.Linear(4, 6), LIFNeuron(), nn.Linear(6, 2)), alpha=0.6)
    >>> snn(torch.rand(12, 3, 4)).shape
    torch.Size([12, 3, 2])
"""

from spikede import plot as plot  # matplotlib is imported when a plot is drawn
from spikede.__about__ import __version__
from spikede._alpha import PerLayerAlphaConfig
from spikede._hard_if import HardResetIFNeuron
from spikede._layers import ClassificationHead, VotingLayer
from spikede._li import LINeuron
from spikede._neurons import HardResetLIFNeuron, IFNeuron, LIFNeuron, NoisyLIFNeuron
from spikede._profile import LayerProfile, Profile, profile
from spikede._recording import Recording
from spikede._state import State
from spikede._surrogate import (
    ArctanSurrogate,
    GaussianSurrogate,
    NoisyThresholdSurrogate,
    SigmoidSurrogate,
    Surrogate,
    TriangleSurrogate,
    get_surrogate,
    heaviside,
)
from spikede._wrapper import SNNWrapper
from spikede_fx import BaseNeuron

__all__ = [
    "ArctanSurrogate",
    "BaseNeuron",
    "ClassificationHead",
    "GaussianSurrogate",
    "HardResetIFNeuron",
    "HardResetLIFNeuron",
    "IFNeuron",
    "LIFNeuron",
    "LINeuron",
    "LayerProfile",
    "NoisyLIFNeuron",
    "NoisyThresholdSurrogate",
    "PerLayerAlphaConfig",
    "Profile",
    "Recording",
    "SNNWrapper",
    "SigmoidSurrogate",
    "State",
    "Surrogate",
    "TriangleSurrogate",
    "VotingLayer",
    "__version__",
    "get_surrogate",
    "heaviside",
    "profile",
]
