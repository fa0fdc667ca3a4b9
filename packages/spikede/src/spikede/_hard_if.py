"""Integrate-and-fire neuron with a hard reset to ``v_reset`` (NIR's ``IF`` node)."""

from __future__ import annotations

from typing import Any

from torch import nn

from spikede._neurons import _HardResetNeuron
from spikede._surrogate import Surrogate

__all__ = ["HardResetIFNeuron"]


class HardResetIFNeuron(_HardResetNeuron):
    """Integrate-and-fire neuron with hard reset to ``v_reset``.

    With ``h`` the solver's step and ``theta`` the threshold::

        u      = v + h I                    (pure integration)
        s      = H(u - theta)               (Heaviside forward, surrogate backward)
        dv/dt  = I + s (v_reset - u) / h    (the reset as an impulse over the step)

    so one explicit Euler step gives ``v <- u (1 - s) + v_reset s``. Unlike
    :class:`spikede.IFNeuron` (reset by subtracting the threshold) the charge above the
    threshold is lost at a spike; this is NIR's ``IF`` node (see :mod:`spikede.nir`).

    Args:
        threshold: Firing threshold ``theta > 0``: a number, or an ``nn.Parameter`` (0-d).
        v_reset: Reset potential, below ``threshold``.
        surrogate: Surrogate name (see :func:`spikede.get_surrogate`) or instance.
        sharpness: Peak of the surrogate's pseudo-derivative (``None``: the default).
        detach_reset: Detach the spikes in the reset term from the graph.
        learn_threshold: Make ``threshold`` a trainable ``nn.Parameter`` (one given as an
            ``nn.Parameter`` is used as is); not kept positive.
        **reference_args: The reference spikeDE's names ``surrogate_grad_scale`` and
            ``surrogate_opt``, accepted with a ``DeprecationWarning`` that states the
            conversion (see the migration guide); other names raise ``TypeError``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``threshold`` is not positive, ``v_reset`` is not below it, or the
            surrogate name is unknown.

    Example:
        >>> import torch
        >>> neuron = HardResetIFNeuron(threshold=1.0)
        >>> [neuron(torch.tensor([0.6])).item() for _ in range(4)]
        [0.0, 1.0, 0.0, 1.0]
    """

    def __init__(
        self,
        threshold: float | nn.Parameter = 1.0,
        v_reset: float = 0.0,
        surrogate: str | Surrogate = "sigmoid",
        sharpness: float | None = None,
        detach_reset: bool = False,
        learn_threshold: bool = False,
        **reference_args: Any,
    ) -> None:
        super().__init__(
            threshold,
            surrogate,
            sharpness,
            detach_reset,
            v_reset,
            learn_threshold=learn_threshold,
            reference_args=reference_args,
        )
