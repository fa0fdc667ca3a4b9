"""The membrane time constant of the leaky neurons: a number, or learnable as ``log_tau``."""

from __future__ import annotations

import math

import torch
from torch import nn

from spikede_fx import BaseNeuron


class _TimeConstant(BaseNeuron):
    """A neuron with an optional membrane time constant ``tau`` (checked by the caller).

    With ``learn_tau`` the constant is the parameter ``log_tau`` (``tau = exp(log_tau)``,
    positive by construction); otherwise the float given. ``tau=None`` (a neuron without
    a time constant, e.g. integrate-and-fire) makes :attr:`tau` raise ``AttributeError``.
    """

    def __init__(self, tau: float | None, learn_tau: bool) -> None:
        super().__init__()
        self.learn_tau: bool = learn_tau
        self._tau_value: float | None = tau
        if learn_tau and tau is not None:
            self.log_tau = nn.Parameter(torch.tensor(math.log(tau)))

    @property
    def tau(self) -> float | torch.Tensor:
        """Membrane time constant: a float, or a positive 0-d tensor when learnable."""
        if self.learn_tau:
            return self.log_tau.exp()
        if self._tau_value is None:
            raise AttributeError(f"{type(self).__name__} has no time constant")
        return self._tau_value

    def _tau_repr(self) -> str:
        """``tau=..., learn_tau=...`` for the module's repr (the current value of ``tau``)."""
        tau = self.log_tau.detach().exp().item() if self.learn_tau else self._tau_value
        return f"tau={tau:.4g}, learn_tau={self.learn_tau}"
