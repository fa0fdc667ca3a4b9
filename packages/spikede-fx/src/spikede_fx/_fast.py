"""Graph modules that call their layers' ``forward`` directly (no module-call machinery).

A graph module runs a layer as ``getattr(self.model, "1")(...)``: two ``nn.Module``
attribute lookups and ``nn.Module.__call__``, which checks for hooks before it calls
``forward``. In a solve the vector field is evaluated once per step, and for a small
network that machinery costs as much as the layers' arithmetic (W1 of the benchmarks:
about 15 us of a 60 us evaluation). When no layer of a graph has a hook and no global
module hook is set, ``nn.Module.__call__`` does nothing but call ``forward``, so the
graph can call ``forward`` itself. :func:`direct` returns such a copy of a graph module,
with the layers looked up once; it is made again whenever a layer of the model was
replaced, and the plain graph module is used whenever a hook is present (on a layer,
on the graph module itself, or global). The check
runs when a solve starts: a hook registered by a layer during a solve takes effect in
the next one.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

from torch import fx, nn
from torch.nn.modules import module as _module

from spikede_fx._neuron import BaseNeuron

__all__ = ["direct"]

#: The hook registries ``nn.Module.__call__`` consults besides a module's own.
_GLOBAL_HOOKS = (
    "_global_backward_pre_hooks",
    "_global_backward_hooks",
    "_global_forward_hooks",
    "_global_forward_pre_hooks",
)
_OWN_HOOKS = ("_backward_pre_hooks", "_backward_hooks", "_forward_hooks", "_forward_pre_hooks")
#: Per graph module, its layers when the copy was made and the copy's forward. Weak keys:
#: nothing is added to the graph module (copies and pickles of it stay as they were).
_CACHE: weakref.WeakKeyDictionary[fx.GraphModule, tuple[tuple[nn.Module, ...], Any]] = (
    weakref.WeakKeyDictionary()
)


def _hooked(m: nn.Module) -> bool:
    return any(getattr(m, name, None) for name in _OWN_HOOKS)


def _call_of(m: nn.Module, node: fx.Node) -> Any:
    """What ``m(*node.args)`` runs when ``m`` has no hook: ``forward``, or for a neuron
    called as ``(v, current, dt)`` with the base class's ``forward`` its ``_step``."""
    if (
        isinstance(m, BaseNeuron)
        and type(m).forward is BaseNeuron.forward
        and len(node.args) == 3
        and not node.kwargs
    ):
        return m._step
    return m.forward


def _named(call: Any, name: str) -> functools.partial:
    """``call`` as a partial named for fx's code generation, which binds it as a plain
    global (a bound method of a torch class would be looked up by its qualified name)."""
    target = functools.partial(call)
    target.__name__ = target.__qualname__ = f"{name}_forward"  # type: ignore[attr-defined]
    target.__module__ = __name__
    return target


def direct(gm: fx.GraphModule) -> Any:
    """``gm``'s ``forward``, calling its layers' ``forward`` directly when no hook is set.

    Args:
        gm: A graph module whose ``call_module`` targets resolve from ``gm``.

    Returns:
        A callable with ``gm``'s signature: the forward of a cached copy of ``gm`` whose
        layer calls are direct (rebuilt when a layer is replaced), or ``gm`` itself when
        a global or layer hook is set.

    Example:
        >>> import torch
        >>> from torch import fx, nn
        >>> gm = fx.symbolic_trace(nn.Sequential(nn.Linear(3, 2), nn.ReLU()))
        >>> x = torch.randn(4, 3)
        >>> torch.equal(direct(gm)(x), gm(x))
        True
    """
    if _hooked(gm) or any(getattr(_module, name, None) for name in _GLOBAL_HOOKS):
        return gm
    nodes = [n for n in gm.graph.nodes if n.op == "call_module"]
    layers = tuple(gm.get_submodule(str(n.target)) for n in nodes)
    if any(_hooked(m) for m in layers):
        return gm
    cached = _CACHE.get(gm)
    if cached is not None and len(cached[0]) == len(layers) and all(
        a is b for a, b in zip(cached[0], layers)
    ):
        return cached[1]
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for node in gm.graph.nodes:
        new = graph.node_copy(node, lambda n: env[n])
        if node.op == "call_module":
            new.op = "call_function"
            new.target = _named(_call_of(gm.get_submodule(str(node.target)), node), node.name)
        env[node] = new
    fast_gm = fx.GraphModule(gm, graph, f"{type(gm).__name__}Direct")
    if "model" in gm._modules:
        # A graph bound to the user's model (spikede_fx._network._bind) reads its tensors
        # from the model at call time, not from the skeleton the constructor copied.
        fast_gm.model = gm.model
    _CACHE[gm] = (layers, fast_gm.forward)
    return fast_gm.forward
