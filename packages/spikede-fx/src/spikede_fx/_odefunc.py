"""``ODEFuncFromFX``: a traced spiking network rewritten as an ODE vector field."""

from __future__ import annotations

import logging
import numbers
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import fx, nn

import spikede_interp
from spikede_fx._hoist import split_input_part
from spikede_fx._neuron import BaseNeuron
from spikede_fx._surgery import split_graph
from spikede_fx._timemap import TimeMapper, needs_loop
from spikede_fx._tracer import remove_dead_code, symbolic_trace_leaf_neurons

__all__ = ["ODEFuncFromFX"]

_log = logging.getLogger(__name__)

_METHODS = tuple(spikede_interp.METHODS)


def _check_init(backbone: object, interpolation_method: object) -> None:
    if not isinstance(backbone, nn.Module):
        raise TypeError(
            f"backbone must be a torch.nn.Module; got {type(backbone).__name__}"
        )
    if (
        not isinstance(interpolation_method, str)
        or interpolation_method not in _METHODS
    ):
        raise ValueError(
            f"interpolation_method must be one of {list(_METHODS)}; got "
            f"{interpolation_method!r}"
        )


#: Grid times per block of the precomputed input part (:meth:`ODEFuncFromFX.precompute`).
INPUT_BLOCK = 128


class _InputTable:
    """What :meth:`ODEFuncFromFX.precompute` prepares: per grid time, the inputs of a step.

    Block ``b`` covers the grid times ``b * size .. (b + 1) * size - 1``; its rows
    ``(x(t_k), *frontier(t_k))`` are computed in one vectorised call when a step first
    needs them, and the two most recent blocks are kept (memory stays O(block), not
    O(T)). Rows are ``unbind`` views: backward gathers their gradients in one node per
    block, where indexing would allocate a block-sized gradient per step.
    """

    __slots__ = ("blocks", "compute", "extras", "grid", "index", "size", "split", "times")

    def __init__(
        self,
        times: torch.Tensor,
        extras: list[Any],
        split: bool,
        compute: Callable[[int, int], list[torch.Tensor]],
        size: int = INPUT_BLOCK,
    ) -> None:
        self.times = times
        self.index = {t: k for k, t in enumerate(times.tolist())}
        # (storage, offset, stride) of the grid: a solver passing views of it (as
        # spikede_solvers does) is looked up from metadata, without a device sync.
        stride = times.stride(0) if times.shape[0] > 1 else 1
        self.grid = (times.untyped_storage().data_ptr(), times.storage_offset(), stride)
        self.extras = extras
        self.split = split  # rows hold the frontier too: call the state graph
        self.compute = compute  # compute(start, stop) -> list of [stop - start, ...] columns
        self.size = size
        self.blocks: dict[int, list[tuple[torch.Tensor, ...]]] = {}

    def lookup(self, t: float | torch.Tensor) -> int | None:
        """The grid index of time ``t``, or ``None`` when ``t`` is not a grid time.

        A 0-d view into the grid is found from its storage offset; any other 0-d CPU
        tensor or number by value. A tensor on another device that is not such a view
        is not looked up (reading its value would synchronise the device).
        """
        if isinstance(t, torch.Tensor):
            if t.dim() != 0:
                return None
            ptr, offset, stride = self.grid
            if stride > 0 and t.dtype == self.times.dtype and t.untyped_storage().data_ptr() == ptr:
                k, rest = divmod(t.storage_offset() - offset, stride)
                if rest == 0 and 0 <= k < self.times.shape[0]:
                    return k
            if t.device.type != "cpu":
                return None
        return self.index.get(float(t))

    def row(self, k: int) -> tuple[torch.Tensor, ...]:
        b, i = divmod(k, self.size)
        rows = self.blocks.get(b)
        if rows is None:
            columns = self.compute(b * self.size, min((b + 1) * self.size, self.times.shape[0]))
            rows = self.put(b, columns)
        return rows[i]

    def put(self, b: int, columns: list[torch.Tensor]) -> list[tuple[torch.Tensor, ...]]:
        """Store block ``b`` from its ``[n, ...]`` columns, dropping all but the newest block."""
        rows = list(zip(*[c.unbind(0) for c in columns]))
        if len(self.blocks) >= 2:
            del self.blocks[min(self.blocks)]
        self.blocks[b] = rows
        return rows


class _CallInputs:
    """What :meth:`ODEFuncFromFX.set_inputs` caches for one solve (one per thread)."""

    __slots__ = ("extra_args", "extra_kwargs", "interpolator", "table", "x", "x_time")

    def __init__(
        self,
        x: torch.Tensor | None = None,
        x_time: torch.Tensor | None = None,
        interpolator: Any = None,
        extra_args: tuple[Any, ...] = (),
        extra_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.x = x
        self.x_time = x_time
        self.interpolator = interpolator
        self.extra_args = extra_args
        self.extra_kwargs = {} if extra_kwargs is None else extra_kwargs
        self.table: _InputTable | None = None


_EMPTY_INPUTS = _CallInputs()


class _ShapeRecorder(fx.Interpreter):
    """Runs the traced model on one time step, recording each neuron's input shape.

    Also checks that every boundary value is a tensor (the solver stacks them over time).
    """

    def __init__(
        self, gm: fx.GraphModule, neuron_nodes: set[str], boundaries: set[str]
    ) -> None:
        super().__init__(gm)
        self.neuron_nodes = neuron_nodes
        self.boundaries = boundaries
        self.shapes: list[torch.Size] = []

    def run_node(self, n: fx.Node) -> Any:
        if n.name in self.neuron_nodes:
            args, _ = self.fetch_args_kwargs_from_env(n)
            current = args[0]
            if not isinstance(current, torch.Tensor):
                raise TypeError(
                    f"neuron '{n.target}' received a {type(current).__name__}, not a tensor"
                )
            self.shapes.append(current.shape)
            neuron = self.fetch_attr(str(n.target))
            result = neuron(torch.zeros_like(current), current)[1]
        else:
            result = super().run_node(n)
        if n.name in self.boundaries and not isinstance(result, torch.Tensor):
            raise TypeError(
                f"the value '{n.name}' ({n.format_node()}) is computed before the last "
                f"neuron and used after it, so it must be recorded at every solver step, "
                f"but it is a {type(result).__name__}, not a tensor. Index or combine it "
                f"into a tensor before the last neuron, or compute it after."
            )
        return result


class ODEFuncFromFX(nn.Module):
    """A discrete-time spiking network, rewritten into a continuous-time vector field.

    The ``backbone`` is traced with :class:`~spikede_fx.SNNLeafTracer` and its graph is
    cut after the last neuron call:

    * the **ODE module** (:meth:`get_ode_module`) holds everything up to the last neuron.
      Each neuron call ``neuron(current)`` becomes ``neuron(v_i, current)`` returning
      ``(dv_i, spike_i)``, with the membrane ``v_i`` supplied by the solver. The first
      input of the backbone's ``forward`` is the time-varying input, interpolated at the
      solver's time from what :meth:`set_inputs` cached; the others (masks, adjacency
      matrices, ...) are passed unchanged to every evaluation;
    * the **post-neuron module** (:meth:`get_post_neuron_module`) holds the rest (heads,
      pooling, voting). It reads the *boundaries*: the tensors computed in the ODE part
      that the rest uses (often the last neuron's spikes; also skip connections across the
      last neuron, or the raw input). The solver records them at each step, and
      :meth:`post` applies the post module to them stacked over time.

    Every call site of a neuron is one integrated state: a neuron module called twice has
    two states (and appears twice in :attr:`neuron_names`). Parameters are shared with
    ``backbone``, the only registered submodule (one ``state_dict`` path per parameter);
    the graph modules are plain attributes kept in sync by ``.to()``/``.cuda()``/``.double()``.

    Attributes:
        backbone: The wrapped discrete-time model.
        traced: The traced backbone (dead code removed, neurons kept).
        ode_gm: The ODE graph module, called as ``ode_gm(*v_mems, x_t, *extra_args,
            **extra_kwargs)``.
        post_neuron_module: The post-neuron graph module, called as
            ``post_neuron_module(*boundaries, *extra_args, **extra_kwargs)`` on one step.
        neuron_count: Number of neuron calls ``N`` (integrated states).
        neuron_names: Qualified module name of each neuron call, in execution order.
        neurons: The neuron module of each call, in the same order.
        boundary_count: Number ``K`` of boundary tensors returned after the derivatives.
        boundary_names: Names of the boundary values in the traced graph.
        input_names: Names of the backbone's inputs; the first is the time-varying one.
        interpolation_method: How the input is evaluated between samples.
        x: The input ``[T, B, ...]`` cached by the calling thread's last
            :meth:`set_inputs` (``None`` before).
        x_time: The sample times cached with it.
        nfe: Number of :meth:`forward` evaluations, cumulative since construction or the
            last :meth:`reset_nfe` (:meth:`set_inputs` does not reset it), summed over
            all threads. The per-solve count is :attr:`spikede_solvers.SNNSolution.nfe`.

    Inputs are cached per thread: one instance may serve solves running in several
    threads at once, each seeing the inputs its own thread set. (The neurons' step size
    :attr:`~spikede_fx.BaseNeuron.dt` is shared: concurrent solves must use one step
    size, or be serialised as :class:`spikede.SNNWrapper` does.)

    Args:
        backbone: A spiking network whose ``forward(x, *extra)`` takes one time step
            ``x`` of shape ``[B, ...]`` and calls each neuron as ``neuron(current)``.
        interpolation_method: ``"linear"``, ``"nearest"``, ``"previous"``, ``"cubic"`` or
            ``"akima"`` (see :func:`spikede_interp.interpolate`).

    Raises:
        TypeError: If ``backbone`` is not a module, or a neuron is called other than as
            ``neuron(current)`` (keyword arguments, several arguments).
        ValueError: If ``interpolation_method`` is unknown, the backbone calls no neuron,
            or its output does not depend on the part up to the last neuron.
        torch.fx.proxy.TraceError: If torch.fx cannot trace the backbone (the message
            names the line and suggests fixes).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from spikede_fx import BaseNeuron, ODEFuncFromFX
        >>> class Leaky(BaseNeuron):
        ...     def step(self, v, current):
        ...         spike = (v >= 1.0).to(current.dtype)
        ...         return current - v, spike
        >>> net = nn.Sequential(nn.Linear(3, 5), Leaky(), nn.Linear(5, 2))
        >>> func = ODEFuncFromFX(net)
        >>> func.neuron_count, func.boundary_count
        (1, 1)
        >>> x = torch.randn(4, 8, 3)  # [T, B, features]
        >>> func.set_inputs(x, torch.arange(4.0))
        >>> func.infer_state_shapes(x[0])
        [torch.Size([8, 5])]
        >>> dv, spikes = func(torch.tensor(0.5), (torch.zeros(8, 5),))
        >>> dv.shape, spikes.shape
        (torch.Size([8, 5]), torch.Size([8, 5]))
        >>> func.post([torch.stack([spikes] * 4)]).shape  # [T, B, classes]
        torch.Size([4, 8, 2])
    """

    def __init__(
        self, backbone: nn.Module, interpolation_method: str = "linear"
    ) -> None:
        _check_init(backbone, interpolation_method)
        super().__init__()
        self.backbone = backbone
        traced = remove_dead_code(symbolic_trace_leaf_neurons(backbone))
        split = split_graph(traced)
        if not split.boundary_names:
            raise ValueError(
                f"the output of {type(backbone).__name__} does not depend on any value "
                "computed up to its last neuron; there is nothing to integrate"
            )
        name = type(backbone).__name__
        ode_gm = remove_dead_code(fx.GraphModule(traced, split.ode_graph, f"{name}ODE"))
        post_gm = remove_dead_code(
            fx.GraphModule(traced, split.post_graph, f"{name}Post")
        )
        # Plain attributes: the parameters are registered once, under ``backbone``.
        object.__setattr__(self, "traced", traced)
        object.__setattr__(self, "ode_gm", ode_gm)
        object.__setattr__(self, "post_neuron_module", post_gm)
        # The input-driven part (computed for all grid times at once by precompute).
        object.__setattr__(
            self, "_input_part", split_input_part(ode_gm, len(split.neuron_nodes))
        )
        self._input_vmap_failed = False
        self.neuron_names: list[str] = [str(n.target) for n in split.neuron_nodes]
        self._neuron_node_names = {n.name for n in split.neuron_nodes}
        self.neuron_count = len(self.neuron_names)
        self.boundary_names: list[str] = list(split.boundary_names)
        self.boundary_count = len(self.boundary_names)
        self.input_names: list[str] = list(split.input_names)
        extras = [n for n in traced.graph.nodes if n.op == "placeholder"][1:]
        self._required_extras = [str(n.target) for n in extras if not n.args]
        self._extra_defaults = {str(n.target): n.args[0] for n in extras if n.args}
        self._extra_names = [str(n.target) for n in extras]
        self._collect_modules()
        self._time_mapper = TimeMapper()
        self.interpolation_method = interpolation_method
        # One cache per thread (keyed by thread id), so that one instance may serve
        # concurrent solves: set_inputs/forward/post of a thread see its own inputs.
        self._inputs_by_thread: dict[int, _CallInputs] = {}
        self.nfe = 0
        if len(set(self.neuron_names)) < self.neuron_count:
            _log.info(
                "%s calls a neuron module more than once; each call is a separate state",
                name,
            )

    # ------------------------------------------------------------------ per-call inputs
    @property
    def _inputs(self) -> _CallInputs:
        return self._inputs_by_thread.get(threading.get_ident(), _EMPTY_INPUTS)

    @property
    def x(self) -> torch.Tensor | None:
        """The input cached by this thread's last :meth:`set_inputs` (``None`` before)."""
        return self._inputs.x

    @property
    def x_time(self) -> torch.Tensor | None:
        """The sample times cached by this thread's last :meth:`set_inputs`."""
        return self._inputs.x_time

    @property
    def _interpolator(self) -> Any:
        return self._inputs.interpolator

    @property
    def _extra_args(self) -> tuple[Any, ...]:
        return self._inputs.extra_args

    @property
    def _extra_kwargs(self) -> dict[str, Any]:
        return self._inputs.extra_kwargs

    def clear_inputs(self) -> None:
        """Forget the inputs this thread cached with :meth:`set_inputs`."""
        self._inputs_by_thread.pop(threading.get_ident(), None)

    def cached_inputs(self) -> object | None:
        """This thread's cached inputs (and precomputed part), as an opaque handle.

        With :meth:`restore_inputs` a caller can reinstate them after
        :meth:`clear_inputs`, e.g. when activation checkpointing re-runs evaluations in
        backward: the re-run then reads the very tensors the forward pass used.

        Returns:
            The handle, or ``None`` when nothing is cached.

        Example:
            >>> import torch
            >>> from torch import nn
            >>> from spikede_fx import BaseNeuron, ODEFuncFromFX
            >>> class Leaky(BaseNeuron):
            ...     def step(self, v, current):
            ...         return current - v, (v >= 1.0).to(current.dtype)
            >>> func = ODEFuncFromFX(nn.Sequential(nn.Linear(3, 5), Leaky()))
            >>> func.set_inputs(torch.randn(4, 2, 3), torch.arange(4.0))
            >>> handle = func.cached_inputs()
            >>> func.clear_inputs()
            >>> func.x is None
            True
            >>> func.restore_inputs(handle)
            >>> func.x.shape
            torch.Size([4, 2, 3])
        """
        return self._inputs_by_thread.get(threading.get_ident())

    def restore_inputs(self, cached: object | None) -> None:
        """Reinstate inputs returned by :meth:`cached_inputs` for this thread.

        Args:
            cached: A handle from :meth:`cached_inputs` (``None`` clears the inputs).

        Raises:
            TypeError: If ``cached`` is not such a handle.
        """
        if cached is None:
            self.clear_inputs()
            return
        if not isinstance(cached, _CallInputs):
            raise TypeError(
                f"cached must be a handle from cached_inputs(); got {type(cached).__name__}"
            )
        self._inputs_by_thread[threading.get_ident()] = cached

    # ------------------------------------------------------------------ bookkeeping
    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> ODEFuncFromFX:
        super()._apply(fn, *args, **kwargs)
        self._resync_attributes()
        return self

    def resync_modules(self) -> bool:
        """Point the graph modules' submodules at the backbone's current ones.

        The graph modules hold references to the backbone's submodules. When a submodule
        of the backbone is replaced after construction (e.g. by
        :meth:`torch.nn.SyncBatchNorm.convert_sync_batchnorm`, quantisation or pruning
        utilities), this makes the ODE and post-neuron graphs call the new module, so both
        still share one module per layer. :class:`spikede.SNNWrapper` calls it at every
        forward; it costs one identity check per ``call_module`` node.

        Returns:
            ``True`` when a submodule was replaced.
        """
        changed = False
        for gm in self._graph_modules():
            for node in gm.graph.nodes:
                if node.op != "call_module":
                    continue
                target = str(node.target)
                source = self.backbone.get_submodule(target)
                if gm.get_submodule(target) is source:
                    continue
                *prefix, field = target.split(".")
                parent = gm.get_submodule(".".join(prefix))
                setattr(parent, field, source)
                changed = True
        if changed:
            self._collect_modules()
        return changed

    def _graph_modules(self) -> list[fx.GraphModule]:
        gms = [self.traced, self.ode_gm, self.post_neuron_module]
        if self._input_part is not None:
            gms += [self._input_part.input_gm, self._input_part.state_gm]
        return gms

    def _collect_modules(self) -> None:
        """Cache the neuron modules and the post and input parts' modules (plain attributes)."""

        def modules(gm: fx.GraphModule) -> list[nn.Module]:
            return [
                gm.get_submodule(str(n.target))
                for n in gm.graph.nodes
                if n.op == "call_module"
            ]

        object.__setattr__(self, "_post_modules", modules(self.post_neuron_module))
        part = self._input_part
        object.__setattr__(
            self, "_input_modules", [] if part is None else modules(part.input_gm)
        )
        object.__setattr__(
            self, "neurons", [self.traced.get_submodule(t) for t in self.neuron_names]
        )

    def _resync_attributes(self) -> None:
        """Point the graph modules' ``get_attr`` tensors at the backbone's current ones."""
        for gm in self._graph_modules():
            for node in gm.graph.nodes:
                if node.op != "get_attr":
                    continue
                *prefix, field = str(node.target).split(".")
                source = self.backbone.get_submodule(".".join(prefix))
                target = gm.get_submodule(".".join(prefix))
                if source is not target:
                    setattr(target, field, getattr(source, field))

    def extra_repr(self) -> str:
        """Summary shown by ``print(odefunc)``."""
        return (
            f"neuron_count={self.neuron_count}, boundary_count={self.boundary_count}, "
            f"interpolation_method={self.interpolation_method!r}"
        )

    def _check_extras(
        self, where: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        names = self._extra_names
        if len(args) > len(names):
            raise TypeError(
                f"{where}: the backbone takes {len(names)} extra input(s) {names} after x; "
                f"got {len(args)} extra positional arguments"
            )
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise TypeError(
                f"{where}: unknown extra input(s) {unknown}; accepted: {names}"
            )
        given = set(names[: len(args)]) | set(kwargs)
        twice = sorted(set(names[: len(args)]) & set(kwargs))
        if twice:
            raise TypeError(
                f"{where}: extra input(s) {twice} given both by position and name"
            )
        missing = [n for n in self._required_extras if n not in given]
        if missing:
            raise TypeError(
                f"{where}: missing extra input(s) {missing} of the backbone"
            )

    def _positional(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
        """All extra inputs by position (defaults filled in), for the interpreter."""
        values = list(args)
        for name in self._extra_names[len(args) :]:
            values.append(
                kwargs[name] if name in kwargs else self._extra_defaults[name]
            )
        return values

    # ------------------------------------------------------------------ public API
    def set_inputs(
        self,
        x: torch.Tensor,
        x_time: torch.Tensor,
        *extra_args: Any,
        **extra_kwargs: Any,
    ) -> None:
        """Cache the input sequence and the backbone's extra inputs for the next solve.

        Args:
            x: Input samples ``[T, B, ...]``.
            x_time: Their times, ``[T]`` (or per sample, ``[B, T]``), strictly increasing.
            *extra_args: Further positional inputs of the backbone's ``forward`` (masks,
                adjacency matrices), passed unchanged to every evaluation.
            **extra_kwargs: Further keyword inputs of the backbone's ``forward``.

        Raises:
            TypeError: If the extra inputs do not match the backbone's ``forward``, or
                ``x``/``x_time`` are not floating-point tensors.
            ValueError: If ``x``/``x_time`` have incompatible shapes or ``x_time`` is not
                strictly increasing (checked by :class:`spikede_interp.Interpolator`).
        """
        self._check_extras("set_inputs", extra_args, extra_kwargs)
        interpolator = spikede_interp.Interpolator(x, x_time, self.interpolation_method)
        self._inputs_by_thread[threading.get_ident()] = _CallInputs(
            x, x_time, interpolator, tuple(extra_args), dict(extra_kwargs)
        )

    def forward(
        self, t: float | torch.Tensor, v_mems: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, ...]:
        """Evaluate the vector field at time ``t`` and membrane states ``v_mems``.

        Args:
            t: Time (float, 0-d tensor, or ``[B]`` per-sample times).
            v_mems: One membrane tensor per neuron call, shaped as
                :meth:`infer_state_shapes` reports.

        Returns:
            ``(dv_1, ..., dv_N, boundary_1, ..., boundary_K)``.

        Raises:
            RuntimeError: If :meth:`set_inputs` was not called.
            ValueError: If ``v_mems`` does not hold :attr:`neuron_count` tensors.
        """
        inputs = self._inputs
        if inputs.interpolator is None:
            raise RuntimeError(
                "call set_inputs(x, x_time) before evaluating the vector field"
            )
        if len(v_mems) != self.neuron_count:
            raise ValueError(
                f"v_mems must hold {self.neuron_count} membrane tensors (one per neuron "
                f"call {self.neuron_names}); got {len(v_mems)}"
            )
        # A plain attribute: nn.Module.__setattr__ would cost more than the count.
        self.__dict__["nfe"] = self.nfe + 1
        table = inputs.table
        if table is not None:
            k = table.lookup(t)
            if k is not None:
                row = table.row(k)
                if table.split:
                    return self._input_part.state_gm(*v_mems, *row, *table.extras)
                return self.ode_gm(*v_mems, row[0], *table.extras)
        x_t = inputs.interpolator(t)
        return self.ode_gm(*v_mems, x_t, *inputs.extra_args, **inputs.extra_kwargs)

    def precompute(self, times: torch.Tensor) -> bool:
        """Evaluate the input-driven part of the network at every time of ``times`` at once.

        Many layers see only the input: in ``Linear -> LIF -> Linear -> LIF`` the first
        ``Linear`` depends on ``x(t)`` and on no membrane. On a fixed grid the solver
        evaluates the field at known times, so this interpolates the input at all of
        ``times`` in one call (:meth:`spikede_interp.Interpolator.at`) and runs the
        input-driven layers on them vectorised over time (:func:`torch.func.vmap`, so
        each layer sees one step's ``[B, ...]`` as in the per-step model). Later
        evaluations at exactly one of ``times`` reuse the result and run only the
        state-driven rest of the graph; other times are evaluated as before. Values are
        those of the per-evaluation path (the same layers on the same inputs).

        Layers that update running statistics in training mode (batch or instance
        normalisation) keep their per-evaluation updates: with such a layer in the
        input-driven part only the interpolation is precomputed, and so under
        :func:`torch.autocast` (whose reduced precision the layers keep that way). If
        vmap cannot run that part, a warning says so and only the interpolation is
        precomputed.

        The work is done in blocks of 128 times, each when the solve first reaches
        it, and only the two most recent blocks are kept (do not combine this with
        activation checkpointing of the evaluations: a block computed inside a
        checkpointed evaluation would change what it saves).

        Args:
            times: The solver's evaluation times ``[N]`` (the grid), on the device of
                the input.

        Returns:
            ``True`` when the input-driven layers were precomputed, ``False`` when only
            the interpolated input was (nothing input-driven to hoist, or see above).

        Raises:
            RuntimeError: If :meth:`set_inputs` was not called.
            TypeError: If ``times`` is not a floating-point tensor.
            ValueError: If ``times`` is not 1-d or on another device.

        Example:
            >>> import torch
            >>> from torch import nn
            >>> from spikede_fx import BaseNeuron, ODEFuncFromFX
            >>> class Leaky(BaseNeuron):
            ...     def step(self, v, current):
            ...         return current - v, (v >= 1.0).to(current.dtype)
            >>> func = ODEFuncFromFX(nn.Sequential(nn.Linear(3, 5), Leaky()))
            >>> x, grid = torch.randn(4, 2, 3), torch.arange(4.0)
            >>> func.set_inputs(x, grid)
            >>> slow = func(grid[2], (torch.ones(2, 5),))
            >>> func.precompute(grid)  # the Linear layer runs once for all 4 times
            True
            >>> fast = func(grid[2], (torch.ones(2, 5),))
            >>> all(torch.allclose(a, b) for a, b in zip(slow, fast))
            True
        """
        inputs = self._inputs
        if inputs.interpolator is None:
            raise RuntimeError("call set_inputs(x, x_time) before precompute(times)")
        interpolator = inputs.interpolator
        # Checks times (an empty query when it is a 1-d tensor, else the failing call).
        one_d = isinstance(times, torch.Tensor) and times.dim() == 1
        interpolator.at(times[:0] if one_d else times)
        x_samples = inputs.x
        knots = interpolator.x_time
        on_knots = (
            interpolator.shared_grid
            and times.shape == knots.shape
            and bool(torch.equal(times.to(knots.dtype), knots))
        )

        def input_at(start: int, stop: int) -> torch.Tensor:
            """``interpolator.at(times[start:stop])``; on the sample times, the samples
            themselves (the same values: the interpolant reproduces every sample but the
            last exactly), so the first layer saves views of ``x``, not a copy."""
            if not on_knots:
                return interpolator.at(times[start:stop])
            last = x_samples.shape[0] - 1
            if stop <= last:
                return x_samples[start:stop]
            return torch.cat([x_samples[start:last], interpolator.at(times[last:stop])])

        x_first = input_at(0, INPUT_BLOCK)
        extras = self._positional(inputs.extra_args, inputs.extra_kwargs)
        part = self._input_part
        split = (
            part is not None
            and not self._input_vmap_failed
            and not needs_loop(self._input_modules)
            # vmap'ed layers would escape autocast: keep its per-evaluation precision.
            and not torch.is_autocast_enabled(x_first.device.type)
        )
        if split:
            assert part is not None
            frontier_of = torch.func.vmap(
                part.input_gm, in_dims=(0, *[None] * len(extras)), randomness="different"
            )
            try:
                frontier = frontier_of(x_first, *extras)
                if not all(isinstance(f, torch.Tensor) for f in frontier):
                    raise TypeError("an input-driven value is not a tensor")
            except Exception as exc:
                self._input_vmap_failed, split = True, False
                warnings.warn(
                    f"the input-driven layers cannot be vectorised over time with "
                    f"torch.func.vmap ({type(exc).__name__}: {exc}); they run at every "
                    "evaluation instead",
                    RuntimeWarning,
                    stacklevel=2,
                )
                _log.debug("vmap of the input part failed", exc_info=exc)

        def compute(start: int, stop: int) -> list[torch.Tensor]:
            x_block = input_at(start, stop)
            return [x_block, *frontier_of(x_block, *extras)] if split else [x_block]

        table = _InputTable(times, extras, split, compute)
        # Block 0 is already computed (it served as the vmap check).
        table.put(0, [x_first, *frontier] if split else [x_first])
        inputs.table = table
        return split

    def post(
        self, boundaries: Sequence[torch.Tensor], *extra_args: Any, **extra_kwargs: Any
    ) -> Any:
        """Apply the post-neuron module to boundaries stacked over time.

        Each time step is computed on its own ``[B, ...]`` values, as in the per-step
        model (``flatten(1)``, ``mean(1)``, convolutions, reshapes with the batch size
        all keep their meaning), by vectorising over time with :func:`torch.func.vmap`;
        modules that update running statistics in training mode, or that vmap cannot
        handle (a warning says so), are run in a loop over time steps instead.

        Args:
            boundaries: :attr:`boundary_count` tensors ``[T, B, ...]``, the boundaries
                returned by :meth:`forward` stacked over the solver's steps (a single
                tensor is accepted when there is one boundary).
            *extra_args: The backbone's extra inputs; when none are given, those cached
                by :meth:`set_inputs` are used.
            **extra_kwargs: Extra keyword inputs, under the same rule.

        Returns:
            The backbone's output with a leading time axis (``[T, B, C]`` for a linear
            head); tuple (or other nested) outputs have each tensor stacked over time.

        Raises:
            ValueError: If ``boundaries`` has the wrong length or inconsistent time axes.
            TypeError: If a boundary is not a tensor or the extra inputs do not match.
        """
        if isinstance(boundaries, torch.Tensor):
            if self.boundary_count != 1:
                raise TypeError(
                    f"boundaries must be a sequence of {self.boundary_count} tensors "
                    f"{self.boundary_names}; got a single tensor"
                )
            boundaries = [boundaries]
        if len(boundaries) != self.boundary_count:
            raise ValueError(
                f"boundaries must hold {self.boundary_count} tensors {self.boundary_names}; "
                f"got {len(boundaries)}"
            )
        for i, b in enumerate(boundaries):
            if not isinstance(b, torch.Tensor) or b.dim() < 1:
                raise TypeError(
                    f"boundaries[{i}] must be a tensor [T, ...]; got {type(b).__name__}"
                )
        steps = {b.shape[0] for b in boundaries}
        if len(steps) != 1:
            raise ValueError(
                f"boundaries must share their time length; got lengths {steps}"
            )
        if extra_args or extra_kwargs:
            self._check_extras("post", extra_args, extra_kwargs)
        else:
            extra_args, extra_kwargs = self._extra_args, self._extra_kwargs
        post = self.post_neuron_module

        def one_step(*step_boundaries: torch.Tensor) -> Any:
            return post(*step_boundaries, *extra_args, **extra_kwargs)

        return self._time_mapper(one_step, list(boundaries), self._post_modules)

    def set_step_size(self, h: float | torch.Tensor) -> None:
        """Set the step size ``dt`` of every neuron of the backbone (the solver's step).

        Args:
            h: Positive step size (a number or a 0-d tensor).

        Raises:
            TypeError: If ``h`` is neither a real number nor a 0-d tensor.
            ValueError: If ``h`` is not positive.
        """
        if isinstance(h, torch.Tensor):
            if h.dim() != 0:
                raise TypeError(
                    f"h must be a number or a 0-d tensor; got shape {tuple(h.shape)}"
                )
            positive = bool(h > 0)
        elif isinstance(h, numbers.Real) and not isinstance(h, bool):
            positive = h > 0
            h = float(h)
        else:
            raise TypeError(
                f"h must be a positive real number; got {type(h).__name__} {h!r}"
            )
        if not positive:
            raise ValueError(f"h must be positive; got {h!r}")
        for module in self.backbone.modules():
            if isinstance(module, BaseNeuron):
                module.dt = h

    def infer_state_shapes(
        self, x_example: torch.Tensor, *extra_args: Any, **extra_kwargs: Any
    ) -> list[torch.Size]:
        """Membrane shape of each neuron call for inputs shaped like ``x_example``.

        Runs the traced backbone once (without gradients, with every module temporarily
        in eval mode so that no running statistic changes), recording the shape of each
        neuron's input current; each neuron is evaluated at a zero membrane.

        Args:
            x_example: One time step of input, ``[B, ...]``.
            *extra_args: The backbone's extra positional inputs.
            **extra_kwargs: The backbone's extra keyword inputs.

        Returns:
            One shape (batch included) per neuron call, in :attr:`neuron_names` order.

        Raises:
            TypeError: If ``x_example`` is not a tensor, the extra inputs do not match, or
                a boundary value is not a tensor (e.g. a tuple from ``chunk``).
        """
        if not isinstance(x_example, torch.Tensor):
            raise TypeError(
                f"x_example must be a tensor [B, ...]; got {type(x_example).__name__}"
            )
        self._check_extras("infer_state_shapes", extra_args, extra_kwargs)
        modes = {m: m.training for m in self.backbone.modules()}
        recorder = _ShapeRecorder(
            self.traced, self._neuron_node_names, set(self.boundary_names)
        )
        try:
            self.backbone.eval()
            with torch.no_grad():
                recorder.run(x_example, *self._positional(extra_args, extra_kwargs))
        finally:
            for module, mode in modes.items():
                module.training = mode
        return recorder.shapes

    def get_ode_module(self) -> fx.GraphModule:
        """The ODE graph module; ``print(func.get_ode_module().code)`` shows its code.

        Returns:
            :attr:`ode_gm`.
        """
        return self.ode_gm

    def get_post_neuron_module(self) -> fx.GraphModule:
        """The post-neuron graph module (one time step; see :meth:`post`).

        Returns:
            :attr:`post_neuron_module`.
        """
        return self.post_neuron_module

    def reset_nfe(self) -> None:
        """Set the evaluation counter :attr:`nfe` back to zero."""
        self.nfe = 0
