"""The peers of the benchmark suite: the workloads' networks in SpikingJelly and snnTorch.

Both are built from the spikeDE model of a workload (``nn.Sequential`` of weight layers,
``nn.Flatten`` and :class:`spikede.LIFNeuron`) and run the same discrete-time neuron as
spikeDE's explicit Euler solve at ``alpha = 1`` with a unit step (see ``LIFNeuron``)::

    u_t = v_{t-1} + (I_t - v_{t-1}) / tau,   s_t = H(u_t - theta),   v_t = u_t - theta s_t

* SpikingJelly: ``LIFNode(tau, decay_input=True, v_reset=None)`` in multi-step mode
  (``step_mode="m"``), the idiomatic form: each weight layer runs once on the whole
  sequence (``[T, B, ...]``; convolutions through ``layer.SeqToANNContainer``, which folds
  time into the batch) and each neuron layer loops over time. SpikingJelly 2 has no
  ``backend=`` argument any more: on the CPU its registered LIF operator runs a loop of
  torch operations over time with a hand-written backward (the "torch" backend of earlier
  versions; the CuPy and Triton kernels are CUDA only). Its default surrogate,
  ``Sigmoid(alpha=4)``, is spikeDE's default (``sigmoid``, sharpness 1): the same
  pseudo-derivative ``4 s(4x) (1 - s(4x))``. Same weights (the very modules), same
  equations and the same operations in the same order: the spikes equal spikeDE's spike
  for spike (``tests/test_peers.py``).
* snnTorch: a loop over time of the weight layers and ``Leaky`` neurons, the form of
  snnTorch's tutorials. ``Leaky`` computes ``U_t = beta U_{t-1} + X_t - R theta`` and fires
  ``S_t = H(U_t - theta)``: it has no input decay, so the same network is
  ``beta = 1 - 1/tau`` with the weight layers scaled by ``1/tau`` (``X_t = I_t / tau``;
  for ``tau = 2`` the scaling by 0.5 is exact in floating point, so ``X_t`` is bitwise
  ``I_t / 2``), ``reset_mechanism="subtract"``, ``reset_delay=False`` (the reset is
  applied in the step that fires, as in spikeDE; snnTorch's default delays it by one
  step, with ``beta`` not applied to it) and the surrogate ``sigmoid(slope=4)``. The
  state update is then spikeDE's, ``v_t = beta v_{t-1} + X_t - theta s_t``, but one rule
  of the firing differs: a neuron whose membrane is still at or above threshold after its
  reset (``R = 1``: a step with ``u >= 2 theta``) has the threshold subtracted before the
  next comparison, so in that next step it fires only if ``u >= 2 theta``, where spikeDE
  and SpikingJelly fire at ``u >= theta`` (and it fires on ``U > theta``, strictly, where
  they fire on ``u >= theta``). While every membrane ends its steps below threshold the
  spikes equal spikeDE's spike for spike (``tests/test_peers.py`` checks this and pins
  the rule on a hand-computed case). The suite's workloads have strong currents, so the
  rule acts often there and snnTorch's firing rates come out lower (they are printed with
  each case); the operations per step are the same.

Each peer is optional: :func:`missing` names the ones that are not installed, and the
suite then skips their cases with a printed note.
"""

from __future__ import annotations

import copy
import importlib.util

import torch
from torch import nn

#: The peer libraries by the integrator name of their cases in ``run.py``.
PEERS = {"spikingjelly": "SpikingJelly", "snntorch": "snnTorch"}


def missing(name: str) -> str | None:
    """A note saying why peer ``name`` cannot run, or ``None`` when it is installed."""
    module = {"spikingjelly": "spikingjelly", "snntorch": "snntorch"}[name]
    if importlib.util.find_spec(module) is None:
        return (
            f"{PEERS[name]} is not installed: its cases are skipped "
            "(install it as benchmarks/README.md says)"
        )
    return None


def _lif_layers(model: nn.Sequential) -> list[nn.Module]:
    """The neuron layers of ``model``, checked to be the workloads' kind."""
    from spikede import LIFNeuron

    out = []
    for m in model:
        if isinstance(m, LIFNeuron):
            if m.learn_tau or m.detach_reset or m.surrogate.name != "sigmoid":
                raise ValueError(f"the peers mirror a plain LIFNeuron only, got {m!r}")
            out.append(m)
        elif not isinstance(m, nn.Linear | nn.Conv2d | nn.Flatten):
            raise TypeError(f"the peers mirror Linear, Conv2d, Flatten and LIF, got {m!r}")
    return out


class SpikingJellyNet(nn.Module):
    """The workload in SpikingJelly, multi-step: input and output ``[T, B, ...]``.

    The weight layers are ``model``'s own modules (the same parameters). State is reset
    at every call, so each call is one independent sequence.
    """

    def __init__(self, model: nn.Sequential) -> None:
        super().__init__()
        from spikingjelly.activation_based import layer, neuron, surrogate

        from spikede import LIFNeuron

        _lif_layers(model)
        mods: list[nn.Module] = []
        for m in model:
            if isinstance(m, LIFNeuron):
                mods.append(
                    neuron.LIFNode(
                        tau=float(m.tau),
                        decay_input=True,
                        v_threshold=m.threshold,
                        v_reset=None,
                        surrogate_function=surrogate.Sigmoid(alpha=4.0 * m.surrogate.sharpness),
                        detach_reset=False,
                        step_mode="m",
                    )
                )
            elif isinstance(m, nn.Linear):
                mods.append(m)  # acts on the last dimension of [T, B, F]
            else:
                mods.append(layer.SeqToANNContainer(m))  # folds T into the batch
        self.net = nn.Sequential(*mods)

    def neurons(self) -> list[nn.Module]:
        """The neuron layers, in order."""
        from spikingjelly.activation_based import neuron

        return [m for m in self.net if isinstance(m, neuron.LIFNode)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from spikingjelly.activation_based import functional

        functional.reset_net(self.net)
        return self.net(x)


class SnnTorchNet(nn.Module):
    """The workload in snnTorch, a loop over time: input and output ``[T, B, ...]``.

    The weight layers are copies of ``model``'s scaled by ``1/tau`` (``Leaky`` has no
    input decay; see the module docstring).
    """

    def __init__(self, model: nn.Sequential) -> None:
        super().__init__()
        import snntorch
        from snntorch import surrogate

        from spikede import LIFNeuron

        lifs = _lif_layers(model)
        taus = {float(m.tau) for m in lifs}
        if len(taus) != 1:
            raise ValueError(f"the snnTorch peer needs one tau for every layer, got {taus}")
        (tau,) = taus
        mods: list[nn.Module] = []
        for m in model:
            if isinstance(m, LIFNeuron):
                mods.append(
                    snntorch.Leaky(
                        beta=1.0 - 1.0 / float(m.tau),
                        threshold=m.threshold,
                        spike_grad=surrogate.sigmoid(slope=4.0 * m.surrogate.sharpness),
                        reset_mechanism="subtract",
                        reset_delay=False,
                    )
                )
            elif isinstance(m, nn.Flatten):
                mods.append(m)
            else:
                scaled = copy.deepcopy(m)
                with torch.no_grad():
                    scaled.weight.mul_(1.0 / tau)
                    if scaled.bias is not None:
                        scaled.bias.mul_(1.0 / tau)
                mods.append(scaled)
        self.layers = nn.ModuleList(mods)

    def neurons(self) -> list[nn.Module]:
        """The neuron layers, in order."""
        import snntorch

        return [m for m in self.layers if isinstance(m, snntorch.Leaky)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import snntorch

        mems = {
            i: m.init_leaky() for i, m in enumerate(self.layers) if isinstance(m, snntorch.Leaky)
        }
        out = []
        for t in range(x.shape[0]):
            h = x[t]
            for i, m in enumerate(self.layers):
                if i in mems:
                    h, mems[i] = m(h, mems[i])
                else:
                    h = m(h)
            out.append(h)
        return torch.stack(out)


def build_peer(name: str, model: nn.Sequential) -> nn.Module:
    """The network of peer ``name`` (``"spikingjelly"`` or ``"snntorch"``) for ``model``."""
    if name == "spikingjelly":
        return SpikingJellyNet(model)
    if name == "snntorch":
        return SnnTorchNet(model)
    raise ValueError(f"peer must be one of {sorted(PEERS)}, got {name!r}")


def record_spikes(net: nn.Module) -> tuple[list[list[torch.Tensor]], list]:
    """Forward hooks on the neuron layers of a peer network that collect their spikes.

    Returns:
        ``(records, handles)``: ``records[k]`` the spike tensors of layer ``k`` in call
        order (one ``[T, ...]`` tensor for SpikingJelly, one per step for snnTorch);
        remove the hooks with ``handle.remove()``.
    """
    records: list[list[torch.Tensor]] = []
    handles = []
    for k, m in enumerate(net.neurons()):
        records.append([])

        def hook(mod: nn.Module, inp: object, out: object, k: int = k) -> None:
            spikes = out[0] if isinstance(out, tuple) else out
            records[k].append(spikes.detach().clone())

        handles.append(m.register_forward_hook(hook))
    return records, handles
