"""Spike and membrane recording: ``SNNWrapper.forward(..., record=...)``.

Names. A neuron layer is named as ``base.named_modules()`` names its module. A module
called once in the model's forward is one layer under its own name. A module called ``k >
1`` times is ``k`` layers (each call integrates its own membrane), named
``"<name>@0"``, ..., ``"<name>@<k-1>"`` in the order of the calls; asking for the plain
name records all of its calls.

What a call records: the recorded neurons' spikes (the value each neuron call returns
inside the vector field, from the evaluation at grid point ``t_n`` and membrane
``v_n``, which is also what the head reads) and their membranes ``v_n`` (the solver's
states, equal to what ``return_states=True`` returns). Only the asked layers are
returned as extra outputs of the field; a call without ``record`` runs the network's own
graphs, untouched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

__all__ = ["Recording", "RecordingPlan", "layer_names", "plan_recording"]


class Recording:
    """Spikes and membranes of chosen neuron layers on the solver grid.

    Returned by :meth:`spikede.SNNWrapper.forward` with ``record=``. Layers are named as
    ``base.named_modules()`` names them; a neuron module called ``k > 1`` times in the
    model's forward is ``k`` layers ``"<name>@0"`` .. ``"<name>@<k-1>"``.

    Attributes:
        spikes: Per layer, ``[N, B, ...]``: the spikes the neurons emit at each of the
            ``N`` grid points (in training they keep their autograd graph, so a loss on
            them trains the network).
        membrane: Per layer, ``[N, B, ...]``: the membrane potential at each grid point
            (the solver's state, as ``return_states=True`` gives it).
        time: The grid times ``[N]``.
        spike_times: Per layer, with an adaptive method (spikes located as events): a
            float tensor ``[K, 1 + len(neuron_shape) + 1]``, one row ``(batch index,
            neuron index..., time)`` per spike, sorted by time; the times are
            differentiable (implicit-function theorem). Empty for the grid methods,
            whose spikes have no time finer than their step. With an adaptive method
            ``spikes`` holds the spikes counted in ``(t_{n-1}, t_n]`` of the output grid.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from spikede import SNNWrapper, LIFNeuron
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> snn = SNNWrapper(nn.Sequential(nn.Linear(3, 4), LIFNeuron(threshold=0.1)), integrator="odeint")
        >>> out, rec = snn(torch.rand(6, 2, 3), record=True)
        >>> rec.names, rec.spikes["1"].shape, rec.membrane["1"].shape, rec.time.shape
        (['1'], torch.Size([6, 2, 4]), torch.Size([6, 2, 4]), torch.Size([6]))
        >>> sorted(rec.firing_rates())
        ['1']
    """

    def __init__(
        self,
        spikes: dict[str, torch.Tensor],
        membrane: dict[str, torch.Tensor],
        time: torch.Tensor,
        spike_times: dict[str, torch.Tensor] | None = None,
    ) -> None:
        self.spikes = spikes
        self.membrane = membrane
        self.time = time
        self.spike_times: dict[str, torch.Tensor] = {} if spike_times is None else spike_times

    @property
    def names(self) -> list[str]:
        """The recorded layers, in the order of the model's calls."""
        return list(self.spikes)

    def firing_rates(self) -> dict[str, float]:
        """Mean spikes per neuron per grid step of every recorded layer.

        Returns:
            ``{name: spikes[name].mean()}`` as Python floats (averaged over grid points,
            batch and neurons).
        """
        return {name: float(s.detach().float().mean()) for name, s in self.spikes.items()}

    def __iter__(self) -> Iterator[str]:
        return iter(self.spikes)

    def __repr__(self) -> str:
        layers = ", ".join(f"{n}: {tuple(s.shape)}" for n, s in self.spikes.items())
        return f"Recording({self.time.shape[0]} grid points; {layers})"


def layer_names(neuron_names: Sequence[str]) -> list[str]:
    """The layer name of each neuron call: the module's name, ``@i`` added when the module
    is called more than once."""
    total: dict[str, int] = {}
    for name in neuron_names:
        total[name] = total.get(name, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for name in neuron_names:
        if total[name] == 1:
            out.append(name)
        else:
            out.append(f"{name}@{seen.get(name, 0)}")
            seen[name] = seen.get(name, 0) + 1
    return out


@dataclass(frozen=True)
class RecordingPlan:
    """Which neuron calls one forward records, and how to split them off the solve.

    Attributes:
        calls: Indices of the recorded neuron calls, in execution order.
        names: Their layer names.
    """

    calls: tuple[int, ...]
    names: tuple[str, ...]

    def split(
        self, aux: Sequence[torch.Tensor], time: torch.Tensor
    ) -> tuple[tuple[torch.Tensor, ...], Recording]:
        """Split the solve's ``aux`` into the boundaries and the :class:`Recording`."""
        k = len(self.calls)
        boundaries = tuple(aux[: len(aux) - 2 * k])
        spikes = aux[len(aux) - 2 * k : len(aux) - k]
        membranes = aux[len(aux) - k :]
        return boundaries, Recording(
            dict(zip(self.names, spikes)), dict(zip(self.names, membranes)), time
        )


def plan_recording(neuron_names: Sequence[str], record: object) -> RecordingPlan | None:
    """Check ``record`` and resolve it to neuron calls (see the module docstring).

    Args:
        neuron_names: The module name of each neuron call, in execution order.
        record: ``None``/``False`` (nothing), ``True`` (every layer), or a sequence of
            layer or module names.

    Returns:
        The plan, or ``None`` when nothing is recorded.

    Raises:
        TypeError: For a ``record`` of another type (a single string included).
        ValueError: For an empty sequence or a name that is not a neuron layer.
    """
    if record is None or record is False:
        return None
    layers = layer_names(neuron_names)
    if record is True:
        return RecordingPlan(tuple(range(len(layers))), tuple(layers))
    if isinstance(record, str) or not isinstance(record, Sequence):
        hint = f" (a list: record=[{record!r}])" if isinstance(record, str) else ""
        raise TypeError(
            f"record must be None, True or a sequence of neuron layer names{hint}; "
            f"got {type(record).__name__}"
        )
    if not record:
        raise ValueError(f"record must name at least one neuron layer; accepted: {layers}")
    chosen: set[int] = set()
    for name in record:
        hits = [i for i, (layer, module) in enumerate(zip(layers, neuron_names)) if name in (layer, module)]
        if not isinstance(name, str) or not hits:
            raise ValueError(
                f"record: {name!r} is not a neuron layer of the model; accepted: {layers}"
                + (
                    f" (module names of neurons called several times also record all their calls: "
                    f"{sorted({m for m, layer in zip(neuron_names, layers) if m != layer})})"
                    if layers != list(neuron_names)
                    else ""
                )
            )
        chosen.update(hits)
    calls = tuple(sorted(chosen))
    return RecordingPlan(calls, tuple(layers[i] for i in calls))
