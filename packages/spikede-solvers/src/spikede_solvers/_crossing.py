"""The event record that :func:`~spikede_solvers.odeint_events` passes to ``on_event``."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

__all__ = ["Crossing"]

State = tuple[Tensor, ...]


@dataclass(frozen=True)
class Crossing:
    """An upward threshold crossing located by :func:`odeint_events`.

    With ``batched=True`` every tensor has the batch as its first dimension and
    :attr:`rows` says which samples have an event at this call; the others hold their
    state at the end of their current step, with no element crossed (what ``on_event``
    returns for them is ignored).

    Attributes:
        time: The event time: a 0-d tensor, or ``[B]`` when batched (a row without an
            event holds the end of its step, without gradient); differentiable
            (implicit-function theorem) in whatever the trajectory and the thresholds
            depend on.
        time_value: The same time as a Python float (a tuple of floats when batched).
        states: The state at the event, before ``on_event`` (one tensor per component);
            its derivative with respect to :attr:`time` is the field.
        fixed_states: The same values with the time held fixed (no dependence on
            :attr:`time`); e.g. what a surrogate derivative at the crossing should see.
        derivatives: The field at ``(time, states)``.
        crossed: Per component, a bool mask of the elements that cross at this time
            (``None`` for components without a threshold).
        element_times: Per component, the event time of each crossed element, each with
            its own implicit-function gradient (values equal :attr:`time`; elements not
            crossed hold :attr:`time` without gradient), or ``None``.
        rows: When batched, the ``[B]`` bool mask of the samples with an event; ``None``
            otherwise.
    """

    time: Tensor
    time_value: float | tuple[float, ...]
    states: State
    fixed_states: State
    derivatives: State
    crossed: tuple[Tensor | None, ...]
    element_times: tuple[Tensor | None, ...]
    rows: Tensor | None = None
