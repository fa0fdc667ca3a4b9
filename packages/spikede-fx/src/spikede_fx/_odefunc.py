"""``ODEFuncFromFX``: a traced spiking network rewritten as an ODE vector field."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import fx, nn

import spikede_interp
from spikede_fx._direct import DirectCalls, check_step_size
from spikede_fx._fast import direct
from spikede_fx._field import FieldArgs, network_field
from spikede_fx._inputs import build_table
from spikede_fx._network import Network
from spikede_fx._post import apply_post
from spikede_fx._timemap import TimeMapper

__all__ = ["ODEFuncFromFX"]

_METHODS = tuple(spikede_interp.METHODS)


def _check_init(backbone: object, interpolation_method: object) -> None:
    if not isinstance(backbone, nn.Module):
        raise TypeError(f"backbone must be a torch.nn.Module; got {type(backbone).__name__}")
    if not isinstance(interpolation_method, str) or interpolation_method not in _METHODS:
        raise ValueError(
            f"interpolation_method must be one of {list(_METHODS)}; got {interpolation_method!r}"
        )


def _check_calls(record: object, count: int) -> tuple[int, ...]:
    calls = tuple(record)  # type: ignore[call-overload]
    bad = [c for c in calls if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < count]
    if bad or not calls:
        raise ValueError(
            f"record must hold indices of neuron calls in [0, {count}); got {list(calls)!r}"
        )
    return calls


class ODEFuncFromFX(DirectCalls, nn.Module):
    """A discrete-time spiking network, rewritten into a continuous-time vector field.

    The ``backbone`` is traced with :class:`~spikede_fx.SNNLeafTracer` and its graph is
    cut after the last neuron call:

    * the **ODE module** (:meth:`get_ode_module`) holds everything up to the last neuron.
      Each neuron call ``neuron(current)`` becomes ``neuron(v_i, current, dt)`` returning
      ``(dv_i, spike_i)``, with the membrane ``v_i`` supplied by the solver and ``dt`` the
      size of the step being taken. The first input of the backbone's ``forward`` is the
      time-varying input, interpolated at the solver's time; the others (masks,
      adjacency matrices, ...) are passed unchanged to every evaluation;
    * the **post-neuron module** (:meth:`get_post_neuron_module`) holds the rest (heads,
      pooling, voting). It reads the *boundaries*: the tensors computed in the ODE part
      that the rest uses (often the last neuron's spikes; also skip connections across the
      last neuron, or the raw input). The solver records them at each step, and
      :meth:`post` applies the post module to them stacked over time.

    The field itself is a pure function of explicit arguments: :meth:`field_args` builds
    one call's inputs (a :class:`~spikede_fx.FieldArgs`) and :meth:`solver_field` is what
    :func:`spikede_solvers.solve` integrates, receiving them and each step's size.
    :meth:`set_inputs` and :meth:`forward` are a convenience layer over it for direct
    use. Nothing is written into the backbone: its modules are looked up when the
    graphs run, so a layer replaced after construction is used as it is.

    Every call site of a neuron is one integrated state: a neuron module called twice has
    two states (and appears twice in :attr:`neuron_names`). ``backbone`` is the only
    registered submodule (one ``state_dict`` path per parameter).

    Attributes:
        backbone: The wrapped discrete-time model.
        network: The traced, split network (:class:`spikede_fx.Network`).
        neuron_count: Number of neuron calls ``N`` (integrated states).
        neuron_names: Qualified module name of each neuron call, in execution order.
        boundary_count: Number ``K`` of boundary tensors returned after the derivatives.
        boundary_names: Names of the boundary values in the traced graph.
        input_names: Names of the backbone's inputs; the first is the time-varying one.
        interpolation_method: How the input is evaluated between samples.
        nfe: Number of evaluations by :meth:`forward` (and solves that report theirs),
            cumulative since construction or the last :meth:`reset_nfe`.

    Using it as a `torchdiffeq <https://github.com/rtqichen/torchdiffeq>`_ field is one
    line, ``torchdiffeq.odeint(func.vector_field(x, x_time, dt=h), v0, t)`` (derivatives
    only; the boundaries are left out).

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
        ...     def step(self, v, current, dt):
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

    def __init__(self, backbone: nn.Module, interpolation_method: str = "linear") -> None:
        _check_init(backbone, interpolation_method)
        super().__init__()
        self.backbone = backbone
        self.network = Network(backbone)
        self.interpolation_method = interpolation_method
        self.neuron_names: list[str] = list(self.network.neuron_names)
        self.neuron_count = len(self.neuron_names)
        self.boundary_names: list[str] = list(self.network.boundary_names)
        self.boundary_count = len(self.boundary_names)
        self.input_names: list[str] = list(self.network.input_names)
        self._time_mapper = TimeMapper()
        self._args: FieldArgs | None = None  # what set_inputs gave forward()
        self._dt: float | torch.Tensor = 1.0
        self.nfe = 0

    # ------------------------------------------------------------------ the graphs
    @property
    def traced(self) -> fx.GraphModule:
        """The traced backbone (dead code removed, neurons kept)."""
        return self.network.traced

    @property
    def ode_gm(self) -> fx.GraphModule:
        """The ODE graph module, ``ode_gm(*v_mems, x_t, *extra_args, spikede_dt=1.0)``."""
        return self.network.ode

    @property
    def post_neuron_module(self) -> fx.GraphModule:
        """The post-neuron graph module, ``post(*boundaries, *extra_args)`` on one step."""
        return self.network.post

    @property
    def neurons(self) -> list[nn.Module]:
        """The neuron module of each call, in :attr:`neuron_names` order."""
        return self.network.neurons()

    def get_ode_module(self) -> fx.GraphModule:
        """The ODE graph module; ``print(func.get_ode_module().code)`` shows its code.

        Returns:
            :attr:`ode_gm`.
        """
        return self.network.ode

    def get_post_neuron_module(self) -> fx.GraphModule:
        """The post-neuron graph module (one time step; see :meth:`post`).

        Returns:
            :attr:`post_neuron_module`.
        """
        return self.network.post

    # ------------------------------------------------------------------ pure field
    def field_args(
        self,
        x: torch.Tensor,
        x_time: torch.Tensor,
        *extra_args: Any,
        grid: torch.Tensor | None = None,
        hoist: bool = True,
        ode: Callable[..., Any] | None = None,
        state: Callable[..., Any] | None = None,
        record: Sequence[int] | None = None,
        **extra_kwargs: Any,
    ) -> FieldArgs:
        """One call's inputs of the field, built once and passed to every evaluation.

        Args:
            x: Input samples ``[T, B, ...]``.
            x_time: Their times, ``[T]`` (or per sample, ``[B, T]``), strictly increasing.
            *extra_args: Further positional inputs of the backbone's ``forward``.
            grid: The solver's grid; when given, the interpolated input (and, with
                ``hoist``, the input-driven layers) is computed for blocks of grid times
                at once, and evaluations at grid index ``k`` reuse it.
            hoist: Precompute the input-driven layers too (see :func:`build_table`).
            ode: What runs the ODE graph instead of its graph module (e.g. compiled).
            state: What runs the state-driven graph on precomputed rows (e.g. compiled).
            record: Indices of neuron calls (in :attr:`neuron_names` order) whose spikes
                and membranes every evaluation also returns, after the boundaries: the
                spikes of each call, then the membranes, in the order given (the
                recording graphs run instead of ``ode``/``state``).
            **extra_kwargs: Further keyword inputs of the backbone's ``forward``.

        Returns:
            The :class:`~spikede_fx.FieldArgs`.

        Raises:
            TypeError: If the extra inputs do not match the backbone's ``forward``.
            ValueError: If ``x``/``x_time`` have incompatible shapes or ``x_time`` is not
                strictly increasing (checked by :class:`spikede_interp.Interpolator`).

        Example:
            >>> import torch
            >>> from torch import nn
            >>> from spikede_fx import BaseNeuron, ODEFuncFromFX
            >>> class Leaky(BaseNeuron):
            ...     def step(self, v, current, dt):
            ...         return current - v, (v >= 1.0).to(current.dtype)
            >>> func = ODEFuncFromFX(nn.Sequential(nn.Linear(3, 5), Leaky()))
            >>> x, grid = torch.randn(4, 2, 3), torch.arange(4.0)
            >>> args = func.field_args(x, grid, grid=grid)
            >>> args.table.split  # the Linear layer runs once for all 4 times
            True
        """
        net = self.network
        net.check_extras("field_args", extra_args, extra_kwargs)
        interpolator = spikede_interp.Interpolator(x, x_time, self.interpolation_method)
        extras = net.positional(extra_args, extra_kwargs)
        table = None if grid is None else build_table(net, interpolator, x, grid, extras, hoist)
        graphs = None if record is None else net.recording(_check_calls(record, self.neuron_count))
        if graphs is None:
            # The layers' forwards called directly (no module-call machinery per step)
            # unless a hook is set; see spikede_fx._fast.
            if ode is None:
                ode = direct(net.ode)
            if state is None and net.input_part is not None:
                state = direct(net.input_part.state_gm)
        return FieldArgs(net, x, x_time, interpolator, extras, table, ode, state, graphs)

    @staticmethod
    def solver_field(
        t: torch.Tensor, v: tuple[torch.Tensor, ...], args: FieldArgs, step: Any
    ) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        """The field as :func:`spikede_solvers.solve` takes it (``has_aux=True``).

        Args:
            t: Time.
            v: One membrane per neuron call.
            args: This call's :class:`~spikede_fx.FieldArgs`.
            step: The solver's :class:`spikede_solvers.Step` (``h``, grid ``index``).

        Returns:
            ``((dv_1, ..., dv_N), (boundary_1, ..., boundary_K))``.
        """
        out = network_field(t, v, args, step.h, step.index)
        n = len(v)
        return out[:n], out[n:]

    def vector_field(
        self,
        x: torch.Tensor,
        x_time: torch.Tensor,
        *extra_args: Any,
        dt: float = 1.0,
        **extra_kwargs: Any,
    ) -> Callable[[torch.Tensor, tuple[torch.Tensor, ...]], tuple[torch.Tensor, ...]]:
        """``f(t, v) -> (dv_1, ..., dv_N)`` for an external ODE solver (e.g. torchdiffeq).

        Args:
            x: Input samples ``[T, B, ...]``.
            x_time: Their times.
            *extra_args: Further positional inputs of the backbone's ``forward``.
            dt: The step size the neurons' resets assume (the external solver's step).
            **extra_kwargs: Further keyword inputs of the backbone's ``forward``.

        Returns:
            A function of ``(t, v)`` returning the derivatives only.

        Example:
            >>> import torch
            >>> from torch import nn
            >>> from spikede_fx import BaseNeuron, ODEFuncFromFX
            >>> class Leaky(BaseNeuron):
            ...     def step(self, v, current, dt):
            ...         return current - v, (v >= 1.0).to(current.dtype)
            >>> func = ODEFuncFromFX(nn.Sequential(nn.Linear(3, 5), Leaky()))
            >>> f = func.vector_field(torch.randn(4, 2, 3), torch.arange(4.0))
            >>> [d.shape for d in f(torch.tensor(0.5), (torch.zeros(2, 5),))]
            [torch.Size([2, 5])]
        """
        h = check_step_size(dt)
        args = self.field_args(x, x_time, *extra_args, **extra_kwargs)
        n = self.neuron_count

        def f(t: torch.Tensor, v: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
            return network_field(t, tuple(v), args, h, None)[:n]  # type: ignore[arg-type]

        return f

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
            *extra_args: The backbone's extra inputs; when none are given, those of
                :meth:`set_inputs` are used.
            **extra_kwargs: Extra keyword inputs, under the same rule.

        Returns:
            The backbone's output with a leading time axis (``[T, B, C]`` for a linear
            head); tuple (or other nested) outputs have each tensor stacked over time.

        Raises:
            ValueError: If ``boundaries`` has the wrong length or inconsistent time axes.
            TypeError: If a boundary is not a tensor or the extra inputs do not match.
        """
        net = self.network
        if extra_args or extra_kwargs:
            net.check_extras("post", extra_args, extra_kwargs)
            extras = net.positional(extra_args, extra_kwargs)
        else:
            extras = () if self._args is None else self._args.extras
        return apply_post(net, self._time_mapper, boundaries, extras)

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
            raise TypeError(f"x_example must be a tensor [B, ...]; got {type(x_example).__name__}")
        net = self.network
        net.check_extras("infer_state_shapes", extra_args, extra_kwargs)
        return net.state_shapes(x_example, net.positional(extra_args, extra_kwargs))

    def reset_nfe(self) -> None:
        """Set the evaluation counter :attr:`nfe` back to zero."""
        self.nfe = 0

    def extra_repr(self) -> str:
        return (
            f"neuron_count={self.neuron_count}, boundary_count={self.boundary_count}, "
            f"interpolation_method={self.interpolation_method!r}"
        )
