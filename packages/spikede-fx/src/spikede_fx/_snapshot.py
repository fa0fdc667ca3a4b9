"""A record of a model's state taken before tracing: what tracing wrote, and how to undo it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["ModelSnapshot", "StateWrite", "describe_module"]

# Module dicts whose entries are reported under their own names.
_STORES = {"_parameters": "parameter", "_buffers": "buffer", "_modules": "submodule"}


def describe_module(path: str, module: nn.Module) -> str:
    """``submodule 'a.b' (pkg.mod.Class)``, or ``the model itself (...)`` for the root."""
    cls = type(module)
    origin = f"{cls.__module__}.{cls.__qualname__}"
    return f"submodule '{path}' ({origin})" if path else f"the model itself ({origin})"


@dataclass(frozen=True)
class StateWrite:
    """One write of module state, found by comparing a model with its snapshot.

    Attributes:
        where: The module written, as :func:`describe_module` names it.
        store: ``'attribute'``, ``'buffer'``, ``'parameter'`` or ``'submodule'``.
        name: The attribute name within that module.
        how: What happened (``'assigned'``, ``'changed in place'``...).
        restored: Whether the snapshot could put the original value back.
    """

    where: str
    store: str
    name: str
    how: str
    restored: bool = True

    def __str__(self) -> str:
        note = "" if self.restored else " (its original value could not be restored)"
        return f"{self.store} '{self.name}' of {self.where} is {self.how}{note}"


def _container_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, set):
        return set(value)
    return None


def _same_contents(saved: Any, current: Any) -> bool:
    if isinstance(saved, dict):
        return saved.keys() == current.keys() and all(saved[k] is current[k] for k in saved)
    if isinstance(saved, list):
        return len(saved) == len(current) and all(a is b for a, b in zip(saved, current))
    return saved == current


def _version(tensor: torch.Tensor) -> int | None:
    try:
        return tensor._version
    except RuntimeError:  # inference tensors carry no version counter
        return None


@dataclass
class _TensorRecord:
    store: str
    name: str
    tensor: torch.Tensor
    version: int | None
    copy: torch.Tensor | None  # values to restore; parameters are not copied


@dataclass
class _ModuleRecord:
    path: str
    module: nn.Module
    attributes: dict[str, Any]
    containers: dict[str, Any]  # attribute name -> copy of the dict/list/set it held
    tensors: list[_TensorRecord]


def _tensor_records(module: nn.Module) -> list[_TensorRecord]:
    found: list[tuple[str, str, torch.Tensor]] = []
    found += [("parameter", n, p) for n, p in module._parameters.items() if p is not None]
    found += [("buffer", n, b) for n, b in module._buffers.items() if b is not None]
    found += [
        ("attribute", n, v) for n, v in vars(module).items() if isinstance(v, torch.Tensor)
    ]
    records = []
    for store, name, tensor in found:
        copy = None
        if store != "parameter":
            try:
                copy = tensor.detach().clone()
            except (RuntimeError, NotImplementedError):  # e.g. uninitialised lazy buffers
                copy = None
        records.append(_TensorRecord(store, name, tensor, _version(tensor), copy))
    return records


class ModelSnapshot:
    """The attributes, containers and tensor versions of every submodule of a model.

    Taken before tracing; :meth:`changes` lists what was written since, and
    :meth:`restore` puts the model back as it was. Tensors are compared by their version
    counters (every in-place operation bumps them); buffers and tensor attributes are
    copied so that their values can be restored, parameters are not (torch.fx hands out
    proxies for parameters, so tracing cannot change them in place through attributes).

    Args:
        root: The model.
        harmless: ``harmless(module, name)`` is true for attributes whose writes are not
            reported by :meth:`changes` (they are restored all the same).
    """

    def __init__(
        self, root: nn.Module, harmless: Callable[[nn.Module, str], bool] | None = None
    ) -> None:
        self._harmless = harmless
        self._records: list[_ModuleRecord] = []
        for path, module in root.named_modules():
            attributes = dict(vars(module))
            containers = {}
            for key, value in attributes.items():
                copy = _container_copy(value)
                if copy is not None:
                    containers[key] = copy
            self._records.append(
                _ModuleRecord(path, module, attributes, containers, _tensor_records(module))
            )

    def tensors(self) -> list[tuple[str, str, str, torch.Tensor]]:
        """``(path, store, name, tensor)`` of every tensor recorded."""
        return [(r.path, t.store, t.name, t.tensor) for r in self._records for t in r.tensors]

    def added_root_attributes(self) -> dict[str, Any]:
        """Attributes of the root that did not exist when the snapshot was taken."""
        root = self._records[0]
        return {k: v for k, v in vars(root.module).items() if k not in root.attributes}

    def changes(self, ignore_root: frozenset[str] = frozenset()) -> list[StateWrite]:
        """The writes made since the snapshot, in module order.

        Args:
            ignore_root: Names of root attributes added by the tracer itself.

        Returns:
            One :class:`StateWrite` per attribute written.
        """
        writes: list[StateWrite] = []
        for record in self._records:
            where = describe_module(record.path, record.module)
            current = vars(record.module)
            ignore = ignore_root if record is self._records[0] else frozenset()
            for key in [*record.attributes, *(k for k in current if k not in record.attributes)]:
                if key in ignore or (self._harmless and self._harmless(record.module, key)):
                    continue
                if key not in current:
                    writes.append(StateWrite(where, "attribute", key, "deleted"))
                elif key not in record.attributes:
                    writes.append(StateWrite(where, "attribute", key, "assigned (a new attribute)"))
                elif current[key] is not record.attributes[key]:
                    writes.append(StateWrite(where, "attribute", key, "assigned"))
                elif key in record.containers:
                    saved = record.containers[key]
                    writes += self._container_changes(where, key, saved, current[key])
            written = {(w.store, w.name) for w in writes if w.where == where}
            for t in record.tensors:
                if t.version is not None and _version(t.tensor) != t.version:
                    if (t.store, t.name) not in written:
                        restored = t.copy is not None
                        writes.append(
                            StateWrite(where, t.store, t.name, "changed in place", restored)
                        )
        return writes

    @staticmethod
    def _container_changes(where: str, key: str, saved: Any, current: Any) -> list[StateWrite]:
        if _same_contents(saved, current):
            return []
        if key == "_non_persistent_buffers_set":
            return []  # goes with a change of _buffers, reported there
        if key not in _STORES:
            return [StateWrite(where, "attribute", key, "modified (its contents changed)")]
        store = _STORES[key]
        writes = []
        for name in [*saved, *(k for k in current if k not in saved)]:
            if name not in current:
                writes.append(StateWrite(where, store, name, "deleted"))
            elif name not in saved:
                writes.append(StateWrite(where, store, name, "registered"))
            elif current[name] is not saved[name]:
                writes.append(StateWrite(where, store, name, "assigned"))
        return writes

    def restore(self) -> None:
        """Put every attribute, container entry and recorded tensor value back."""
        for record in self._records:
            attributes = vars(record.module)
            attributes.clear()
            attributes.update(record.attributes)
            for key, saved in record.containers.items():
                container = record.attributes[key]
                if _same_contents(saved, container):
                    continue
                if isinstance(container, list):
                    container[:] = saved
                else:
                    container.clear()
                    container.update(saved)
            for t in record.tensors:
                if t.copy is not None and t.version is not None and _version(t.tensor) != t.version:
                    with torch.no_grad():
                        t.tensor.copy_(t.copy)
