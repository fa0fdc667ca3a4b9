"""SNNWrapper: a discrete-time SNN turned into a continuous-time (fractional) dynamical system."""

from __future__ import annotations

import dataclasses
import logging
import math
import numbers
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, TextIO

import torch
from torch import nn

from spikede import _compat, _state
from spikede._alpha import DEFAULT_ALPHA, LayerOrder, PerLayerAlphaConfig, check_checkpoint_orders
from spikede._compiled_blocks import blocked_solve
from spikede._recording import plan_recording
from spikede._spike_events import forward_events
from spikede._state import State
from spikede_fx import ODEFuncFromFX
from spikede_solvers import SOLVERS, check_options, solve

__all__ = ["INTEGRATORS", "SNNWrapper"]

logger = logging.getLogger(__name__)

#: The kind of solver method each integrator runs.
_KINDS = {"fdeint": "fractional", "odeint": "integer"}


class _Integrators(Mapping):
    """Methods each integrator accepts, read from the solver registry (a live view)."""

    _FIRST: ClassVar[dict[str, tuple[str, ...]]] = {
        "fdeint": ("gl", "l1", "trap", "pred", "glmulti"),
        "odeint": ("euler", "midpoint", "rk4"),
    }

    def __getitem__(self, integrator: str) -> tuple[str, ...]:
        kind = _KINDS[integrator]
        first = [m for m in self._FIRST[integrator] if m in SOLVERS]
        # Adaptive methods (integer order) place spikes at located events (_spike_events).
        rest = sorted(m for m, s in SOLVERS.items() if s.kind == kind and m not in first)
        return (*first, *rest)

    def __iter__(self) -> Iterator[str]:
        return iter(_KINDS)

    def __len__(self) -> int:
        return len(_KINDS)


#: Methods each integrator accepts (the solver registry's, by kind); the first is the default.
INTEGRATORS: Mapping[str, tuple[str, ...]] = _Integrators()
_INTERPOLATION_METHODS = ("linear", "nearest", "previous", "cubic", "akima")
#: Options the wrapper reads itself; every other key goes to the solver method.
_WRAPPER_OPTIONS = ("step_size",)


def _check_method(integrator: str, method: str | None, name: str = "method") -> str | None:
    if method is None:
        return None
    if not isinstance(method, str):
        raise TypeError(f"{name} must be a string or None; got {type(method).__name__}")
    if integrator == "fdeint" and getattr(SOLVERS.get(method), "adaptive", False):
        raise ValueError(
            f"{name}={method!r} is an adaptive integer-order method: integrator='fdeint' has no "
            "adaptive method (a fractional derivative's memory of the whole past makes a "
            "rejected step costly); use integrator='odeint' for it, or a fractional method: "
            f"{INTEGRATORS['fdeint']}"
        )
    if method not in INTEGRATORS[integrator]:
        other = [k for k, v in INTEGRATORS.items() if method in v]
        hint = f" ({method!r} belongs to integrator {other[0]!r})" if other else ""
        raise ValueError(
            f"{name}={method!r} is not a method of integrator {integrator!r}{hint}; "
            f"accepted: {INTEGRATORS[integrator]}"
        )
    return method


def _check_options(options: object, name: str, method: str) -> dict[str, Any]:
    """The one check of ``options``: the wrapper's own keys here, the rest by ``method``'s."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(f"{name} must be a dict of solver options or None; got {type(options).__name__}")
    opts = dict(options)
    h = opts.get("step_size")
    if h is not None and (
        isinstance(h, bool) or not isinstance(h, numbers.Real) or not math.isfinite(h) or h <= 0
    ):
        raise ValueError(f"{name}['step_size'] must be a positive finite number or None; got {h!r}")
    if h is not None and getattr(SOLVERS[method], "adaptive", False):
        raise ValueError(
            f"{name}['step_size'] does not apply to the adaptive method {method!r}, which "
            "chooses its own steps (give first_step, rtol, atol instead)"
        )
    checked = check_options(method, {k: v for k, v in opts.items() if k not in _WRAPPER_OPTIONS})
    if h is not None:
        checked["step_size"] = float(h)
    return checked


def _all_finite(x: torch.Tensor) -> bool:
    """Whether every value of ``x`` is finite. NaN and infinity reach the sum, so a
    finite sum settles it in one reduction; otherwise (a NaN, an infinity, or a sum of
    finite values that overflows) every element is checked."""
    return bool(torch.isfinite(x.detach().sum())) or bool(torch.isfinite(x).all())


class SNNWrapper(nn.Module):
    """Run a discrete-time spiking network as a continuous-time, fractional-order system.

    The wrapped model ``base`` is an ordinary ``nn.Module`` whose forward maps the input of
    one time step ``[B, ...]`` through layers and neuron modules
    (:class:`spikede_fx.BaseNeuron`). The wrapper traces it with ``torch.fx``
    (:class:`spikede_fx.ODEFuncFromFX`): the part up to the last neuron becomes the vector
    field ``f(t, v)`` over the membrane potentials of every neuron layer, the part after it
    (the classifier head) is applied to the spikes recorded at every solver step. The
    input ``x(t)`` between samples is interpolated, and the membranes are integrated by

    * ``integrator="fdeint"``: Caputo ``D^alpha v = f(t, v)`` (or multi-term
      ``sum_j c_j D^{alpha_j} v = f``) with ``method`` ``gl`` (default), ``l1``, ``trap``,
      ``pred`` or ``glmulti`` (:func:`spikede_solvers.snn_solve`);
    * ``integrator="odeint"``: ``dv/dt = f(t, v)`` with ``euler`` (default), ``midpoint``
      or ``rk4``; ``alpha`` is not used. The adaptive ``dopri5`` and ``bosh3`` place
      spikes at located threshold crossings instead (sub-threshold dynamics between them,
      options ``rtol``, ``atol``, ``first_step``, ``max_num_steps``): output row ``n`` is
      the head applied to the spikes counted in ``(t_{n-1}, t_n]``, and ``record=`` adds
      ``rec.spike_times`` (see :mod:`spikede._spike_events`).

    The solver grid is ``x_time`` itself, or, with ``options={"step_size": h}``, a uniform
    grid of step ``h`` from ``x_time[0]`` to ``x_time[-1]`` (sub-stepping evaluates the
    interpolated input between samples). The output has one entry per grid point. Each
    neuron's :attr:`~spikede_fx.BaseNeuron.dt` is set to the step, so with ``alpha = 1``
    (or ``odeint``/``euler``) and unit steps a :class:`spikede.LIFNeuron` network equals the
    standard discrete-time LIF loop spike for spike. The layers that see only the input
    (typically the first ``Linear`` or ``Conv2d``) run vectorised over blocks of grid times
    rather than once per step (:meth:`spikede_fx.ODEFuncFromFX.precompute`), with the same
    values; with ``compile=True`` or ``options={"checkpoint": True}`` every evaluation runs
    the whole graph.

    Under ``fdeint`` the neuron's right-hand side, reset impulse ``threshold * s / h``
    included, drives ``D^alpha v``: one Grünwald–Letnikov step of size ``h`` adds
    ``h^alpha f``, so a spike removes ``threshold * h^(alpha - 1)`` from the membrane —
    exactly the threshold on the usual unit grid, and proportionally more or less when
    sub-stepping with ``alpha < 1``. Choose the threshold (or the time unit of
    ``x_time``) with that in mind.

    Orders (``alpha``, ``alpha_mode``, ``multi_coefficient``, see
    :class:`spikede.PerLayerAlphaConfig`): a scalar for all layers; a flat list with
    ``alpha_mode="per_layer"`` (one order per neuron layer) or ``"multiterm"`` (the same
    terms in every layer, weighted by ``multi_coefficient``); a nested list for per-layer
    multi-term. The state of layer ``i`` is ``orders.{i}.order`` and
    ``orders.{i}.coefficient`` whether they are learnable or not (parameters when
    learnable, from construction on, so an optimizer can be built at once; buffers when
    fixed): the stored number ``r`` is the order itself on ``[0.1, 1]``, and in general
    ``alpha = g(1 - |1 - r|)`` with ``g`` the identity above 0.1 and the positive tail
    ``0.01 / (0.2 - q)`` below (the weight is ``g(r)``). So a learnable order stays inside
    (0, 1] by construction, without clamping, and ``d alpha / d r = 1`` on ``[0.1, 1]``,
    at ``alpha = 1`` included: an order started at 1 moves at the optimizer's rate (past
    1 the stored number is reflected, order ``2 - r``). See
    :class:`spikede._alpha.LayerOrder`. A checkpoint holds the values, not the
    learnability: it loads into a wrapper built with other ``learn_alpha`` /
    ``learn_coefficient`` flags, and checkpoints of spikede 0.1.0 (``alpha_raw``,
    ``alpha_value``, ``coefficient_log``, ``coefficient_value``) load as the same orders.
    A checkpoint with another layer count or term count raises ``ValueError`` before
    anything is loaded.

    Args:
        base: The discrete-time SNN, a module with at least one neuron layer.
        integrator: ``"fdeint"`` (fractional order) or ``"odeint"`` (integer order).
        alpha: The fractional order(s), each in (0, 1]: numbers, or tensors that do not
            require grad (to learn the orders use ``learn_alpha``). Default 0.5; not used
            by ``odeint``, which warns when it is given.
        method: Solver method of the integrator; ``None`` picks ``gl`` (``glmulti`` for
            multi-term orders) or ``euler``.
        options: Solver options: ``memory`` (keep the last M history terms),
            ``step_size`` (sub-stepping), ``history="soe"`` (fast history),
            ``checkpoint=True`` (recompute the network in backward), and method options
            such as ``corrector_steps``.
        interpolation_method: How ``x(t)`` is reconstructed between samples: ``linear``,
            ``nearest``, ``previous``, ``cubic`` or ``akima``.
        multi_coefficient: Weights of the multi-term orders (ones when omitted).
        learn_alpha: Learn the orders: one bool, or one per layer.
        learn_coefficient: Learn the multi-term weights: one bool, or one per layer.
        alpha_mode: ``"auto"``, ``"per_layer"`` or ``"multiterm"``.
        compile: Compile with ``torch.compile`` (once; later calls reuse it). Solves
            with ``euler`` or with ``gl`` and a streamed history (``history="soe"`` or
            ``memory`` up to 65 steps; fixed orders) compile a block of 8 steps, the
            field and the updates together, into one graph (``record``,
            ``return_states``, ``return_state`` and ``initial_state`` included); other
            solves, and calls that set ``output_time``, compile the vector field.
            A new batch size or sequence length compiles new graphs.

    Raises:
        TypeError: When ``base`` is not a module or an argument has the wrong type.
        ValueError: For an unknown integrator, a method that does not belong to the
            integrator, a bad ``alpha`` configuration, bad options, or a model with no
            neuron.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from spikede import SNNWrapper, LIFNeuron
        >>> model = nn.Sequential(nn.Linear(4, 8), LIFNeuron(), nn.Linear(8, 3), LIFNeuron())
        >>> snn = SNNWrapper(model, alpha=[0.5, 0.9], alpha_mode="per_layer", learn_alpha=True)
        >>> out = snn(torch.rand(10, 2, 4))
        >>> out.shape
        torch.Size([10, 2, 3])
        >>> [round(float(a), 3) for a in snn.get_per_layer_alpha()]
        [0.5, 0.9]
    """

    def __init__(
        self,
        base: nn.Module,
        integrator: str = "fdeint",
        alpha: float | Sequence[float] | Sequence[Sequence[float]] | torch.Tensor = DEFAULT_ALPHA,
        method: str | None = None,
        options: dict[str, Any] | None = None,
        interpolation_method: str = "linear",
        multi_coefficient: Sequence[float] | Sequence[Sequence[float]] | None = None,
        learn_alpha: bool | Sequence[bool] = False,
        learn_coefficient: bool | Sequence[bool] = False,
        alpha_mode: str = "auto",
        compile: bool = False,
    ) -> None:
        super().__init__()
        integrator, options = _compat.wrapper_arguments(integrator, alpha, options)  # the reference's names
        if not isinstance(base, nn.Module):
            raise TypeError(f"base must be an nn.Module; got {type(base).__name__}")
        if integrator not in INTEGRATORS:
            raise ValueError(f"integrator must be one of {tuple(INTEGRATORS)}; got {integrator!r}")
        method = _check_method(integrator, method)
        if interpolation_method not in _INTERPOLATION_METHODS:
            raise ValueError(
                f"interpolation_method must be one of {_INTERPOLATION_METHODS}; got {interpolation_method!r}"
            )
        if not isinstance(compile, bool):
            raise TypeError(f"compile must be a bool; got {type(compile).__name__}")

        odefunc = ODEFuncFromFX(base, interpolation_method=interpolation_method)
        n_layers = odefunc.neuron_count
        if integrator == "odeint":
            config = PerLayerAlphaConfig.integer_order(
                n_layers,
                alpha=alpha,
                multi_coefficient=multi_coefficient,
                learn_alpha=learn_alpha,
                learn_coefficient=learn_coefficient,
            )
        else:
            config = PerLayerAlphaConfig.from_spec(
                alpha,
                n_layers,
                alpha_mode=alpha_mode,
                multi_coefficient=multi_coefficient,
                learn_alpha=learn_alpha,
                learn_coefficient=learn_coefficient,
            )

        self.integrator = integrator
        self.method = method
        self._multiterm = config.is_multiterm
        self.options = _check_options(options, "options", self._default_method())
        self.interpolation_method = interpolation_method
        self.alpha_mode = config.mode
        self.compile = compile
        # The user's model owns every weight: one state_dict path per parameter. The traced
        # graphs share its submodules and are kept outside the module tree.
        self.model = base
        self.orders = nn.ModuleList(
            LayerOrder(o, c, la, lc)
            for o, c, la, lc in zip(config.orders, config.coefficients, config.learn_alpha, config.learn_coefficient)
        )
        # Kept outside the module tree: the traced graphs hold no parameter of their own.
        object.__setattr__(self, "_odefunc", odefunc)
        self._compiled_graphs: dict[str, Any] | None = None  # with compile=True, see _compiled
        self._shapes: tuple[Any, list[torch.Size]] | None = None  # (key, membrane shapes)
        self._silence_checked = False  # see _warn_silent_layers

    # ------------------------------------------------------------------ checkpoints
    def _load_from_state_dict(
        self,
        state_dict: Mapping[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        # Runs before the children load: a checkpoint with other layer or term counts is
        # refused with a clear message before anything is copied.
        check_checkpoint_orders(state_dict, prefix, list(self.orders), self.alpha_mode)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    # ------------------------------------------------------------------ properties
    @property
    def odefunc(self) -> ODEFuncFromFX:
        """The traced vector field (:class:`spikede_fx.ODEFuncFromFX`)."""
        return self._odefunc

    @property
    def neuron_count(self) -> int:
        """Number of neuron layers (integrated states)."""
        return self._odefunc.neuron_count

    @property
    def post_neuron_module(self) -> nn.Module:
        """The part of the model after the last neuron, applied to the recorded spikes."""
        return self._odefunc.get_post_neuron_module()

    # ------------------------------------------------------------------ orders
    def get_per_layer_alpha(self) -> list[torch.Tensor]:
        """Current orders of every neuron layer.

        Returns:
            One detached tensor per layer: a 0-d tensor for a single-term layer, a 1-d
            tensor of orders for a multi-term layer. Under ``odeint`` every order is 1.

        Example:
            >>> from torch import nn
            >>> from spikede import SNNWrapper, LIFNeuron
            >>> snn = SNNWrapper(nn.Sequential(nn.Linear(2, 2), LIFNeuron()), alpha=0.7)
            >>> [round(float(a), 2) for a in snn.get_per_layer_alpha()]
            [0.7]
        """
        out = []
        for layer in self.orders:
            a = layer.alpha().detach().clone()
            out.append(a[0] if a.numel() == 1 and not self._multiterm else a)
        return out

    def get_per_layer_coefficient(self) -> list[torch.Tensor]:
        """Current multi-term weights of every neuron layer.

        Returns:
            One detached 1-d tensor per layer (``[1.]`` for a single-term layer).

        Example:
            >>> from torch import nn
            >>> from spikede import SNNWrapper, LIFNeuron
            >>> snn = SNNWrapper(nn.Sequential(nn.Linear(2, 2), LIFNeuron()),
            ...                  alpha=[0.4, 0.8], alpha_mode="multiterm", multi_coefficient=[1.0, 2.0])
            >>> snn.get_per_layer_coefficient()[0].tolist()
            [1.0, 2.0]
        """
        return [layer.coefficients().detach().clone() for layer in self.orders]

    def alpha_info(self) -> str:
        """A readable summary of the orders of every layer.

        Returns:
            One line per neuron layer with its orders, weights and learnability.

        Example:
            >>> from torch import nn
            >>> from spikede import SNNWrapper, LIFNeuron
            >>> snn = SNNWrapper(nn.Sequential(nn.Linear(2, 2), LIFNeuron()), alpha=0.5)
            >>> print(snn.alpha_info().splitlines()[0])
            SNNWrapper: integrator=fdeint, method=gl, alpha mode=scalar, 1 neuron layer(s)
        """
        names = list(getattr(self._odefunc, "neuron_names", [f"neuron{i}" for i in range(self.neuron_count)]))
        lines = [
            f"SNNWrapper: integrator={self.integrator}, method={self._default_method()}, "
            f"alpha mode={self.alpha_mode}, {self.neuron_count} neuron layer(s)"
        ]
        for i, layer in enumerate(self.orders):
            a = [round(float(v), 6) for v in layer.alpha().detach().reshape(-1)]
            c = [round(float(v), 6) for v in layer.coefficients().detach().reshape(-1)]
            flags = []
            if layer.learns_alpha:
                flags.append("learnable alpha")
            if layer.learns_coefficient:
                flags.append("learnable coefficients")
            name = names[i] if i < len(names) else f"neuron{i}"
            extra = f" ({', '.join(flags)})" if flags else ""
            lines.append(f"  layer {i} [{name}]: alpha={a}, coefficients={c}{extra}")
        return "\n".join(lines)

    def print_alpha_info(self, file: TextIO | None = None) -> None:
        """Print :meth:`alpha_info` (to ``file``, standard output by default).

        Args:
            file: A text stream; ``None`` means ``sys.stdout``.

        Example:
            >>> from torch import nn
            >>> from spikede import SNNWrapper, LIFNeuron
            >>> SNNWrapper(nn.Sequential(nn.Linear(2, 2), LIFNeuron()), alpha=0.5).print_alpha_info()  # doctest: +ELLIPSIS
            SNNWrapper: integrator=fdeint, method=gl, ...
        """
        stream = sys.stdout if file is None else file
        stream.write(self.alpha_info() + "\n")

    # ------------------------------------------------------------------ shapes
    def _set_neuron_shapes(self, input_shape: Sequence[int] | torch.Size) -> list[torch.Size]:
        """Infer the membrane shape of every neuron layer from one time step's input shape.

        Optional: the first forward does it. Calling it again is harmless and never touches
        the learned orders or weights.

        Args:
            input_shape: Shape of one time step's input, batch first, e.g. ``(B, 64)``.

        Returns:
            The per-sample membrane shape of each neuron layer (without the batch size).

        Example:
            >>> from torch import nn
            >>> from spikede import SNNWrapper, LIFNeuron
            >>> snn = SNNWrapper(nn.Sequential(nn.Linear(4, 8), LIFNeuron()))
            >>> snn._set_neuron_shapes((2, 4))
            [torch.Size([8])]
        """
        shape = tuple(int(s) for s in input_shape)
        if len(shape) < 1:
            raise ValueError(f"input_shape must include the batch dimension; got {input_shape!r}")
        ref = next(iter(self.parameters()), None)
        dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.get_default_dtype()
        device = ref.device if ref is not None else torch.device("cpu")
        example = torch.zeros(shape, dtype=dtype, device=device)
        return self._infer_shapes(example, (), {})

    def _infer_shapes(self, example: torch.Tensor, args: tuple, kwargs: dict) -> list[torch.Size]:
        # The membrane shapes depend on the input's shape and on the extra inputs' shapes.
        def sig(a: Any) -> Any:
            return (tuple(a.shape), a.dtype) if isinstance(a, torch.Tensor) else type(a)

        key = (
            tuple(example.shape[1:]),
            tuple(sig(a) for a in args),
            tuple((k, sig(v)) for k, v in sorted(kwargs.items())),
        )
        cached = self._shapes  # one read: another thread may replace it meanwhile
        if cached is not None and cached[0] == key:
            return list(cached[1])
        with torch.no_grad():
            shapes = [torch.Size(s[1:]) for s in self._odefunc.infer_state_shapes(example, *args, **kwargs)]
        self._shapes = (key, shapes)
        return list(shapes)

    # ------------------------------------------------------------------ forward
    def _default_method(self, method: str | None = None) -> str:
        method = method if method is not None else self.method
        if method is not None:
            return method
        if self.integrator == "odeint":
            return "euler"
        return "glmulti" if self._multiterm else "gl"

    def _grid(self, x_time: torch.Tensor, step_size: float | None) -> torch.Tensor:
        if step_size is None:
            return x_time
        t0, t1 = float(x_time[0]), float(x_time[-1])
        ratio = (t1 - t0) / step_size
        # The last sample is kept when the span is a multiple of h to the dtype's precision.
        n = math.floor(ratio + 16 * torch.finfo(x_time.dtype).eps * max(1.0, ratio)) + 1
        return t0 + step_size * torch.arange(n, dtype=x_time.dtype, device=x_time.device)

    def _check_inputs(self, x: object, x_time: object, min_steps: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a tensor [T, B, ...]; got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor; got dtype {x.dtype}")
        if x.dim() < 2:
            raise ValueError(f"x must have shape [T, B, ...] (at least 2 dimensions); got shape {tuple(x.shape)}")
        if x.shape[0] < min_steps:
            raise ValueError(f"x must hold at least {min_steps} time steps; got T={x.shape[0]}")
        ref = next((p for p in self.model.parameters() if p.is_floating_point()), None)
        if ref is not None and ref.device != x.device:
            raise ValueError(
                f"x is on {x.device} but the model's parameters are on {ref.device}; move one with .to()"
            )
        if ref is not None and ref.dtype != x.dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(
                f"x has dtype {x.dtype} but the model's parameters have dtype {ref.dtype}; "
                f"convert with x.to({ref.dtype}) or model.to({x.dtype})"
            )
        if not _all_finite(x):
            raise ValueError("x contains NaN or infinite values")
        T = x.shape[0]
        if x_time is None:
            x_time = torch.arange(T, dtype=x.dtype, device=x.device)
        elif not isinstance(x_time, torch.Tensor):
            raise TypeError(f"x_time must be a 1-d tensor of {T} times or None; got {type(x_time).__name__}")
        else:
            if not x_time.is_floating_point():
                raise TypeError(f"x_time must be a floating-point tensor; got dtype {x_time.dtype}")
            if x_time.dim() != 1 or x_time.shape[0] != T:
                raise ValueError(f"x_time must have shape [T] = [{T}]; got shape {tuple(x_time.shape)}")
            if not bool(torch.isfinite(x_time).all()):
                raise ValueError("x_time contains NaN or infinite values")
            if not bool((x_time[1:] > x_time[:-1]).all()):
                raise ValueError("x_time must be strictly increasing")
            x_time = x_time.to(device=x.device, dtype=x.dtype)
        return x, x_time

    def _compiled(self) -> dict[str, Any]:
        """``torch.compile`` of the ODE and state graphs (``compile=True``), made once."""
        if not self.compile:
            return {}
        if self._compiled_graphs is None:
            net = self._odefunc.network
            # Bound forwards, not the modules: a compiled module would be registered as a
            # submodule and repeat every parameter in the state_dict.
            graphs = {"ode": torch.compile(net.ode.forward)}
            if net.input_part is not None:
                graphs["state"] = torch.compile(net.input_part.state_gm.forward)
            self._compiled_graphs = graphs
        return self._compiled_graphs

    def forward(
        self,
        x: torch.Tensor,
        x_time: torch.Tensor | None = None,
        method: str | None = None,
        options: dict[str, Any] | None = None,
        *,
        model_args: tuple = (),
        model_kwargs: dict[str, Any] | None = None,
        return_states: bool = False,
        record: bool | Sequence[str] | None = None,
        initial_state: State | Sequence[torch.Tensor] | None = None,
        return_state: bool = False,
        output_time: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[Any, ...]:
        """Integrate the network over the input's time span and apply the head.

        Args:
            x: Input samples ``[T, B, ...]``, floating point, on the model's device.
            x_time: Sample times ``[T]``, strictly increasing (default ``arange(T)``).
            method: Overrides the constructor's method for this call.
            options: Overrides/extends the constructor's options for this call.
            model_args: Extra positional inputs of the model's forward (masks, adjacency),
                passed unchanged to every evaluation.
            model_kwargs: Extra keyword inputs of the model's forward.
            return_states: Also return the membrane potential of every neuron layer at
                every grid point.
            record: Also return a :class:`spikede.Recording` of spikes and membranes on
                the solver grid: ``True`` for every neuron layer, or a sequence of neuron
                module names as ``base.named_modules()`` gives them (a module called
                ``k > 1`` times is the layers ``"<name>@0"`` .. ``"<name>@<k-1>"``; its
                plain name records them all). Only the asked layers are kept.
            initial_state: ``None`` (zero membranes), a tuple of membrane tensors ``[B,
                ...]`` (one per neuron layer: a fresh start from these values), or a
                :class:`spikede.State` from an earlier call (continue it: this call's
                ``x_time`` starts after the state's time; by default one unit after the
                last sample, and ``x`` may then hold a single sample).
            return_state: Also return the :class:`spikede.State` at the end of the call.
            output_time: Increasing times ``[M]`` of the output rows (and of ``states``),
                from the start of the call on. The grid includes them: times between
                samples are inserted (a method that needs a uniform grid refuses them),
                times beyond the last sample extend the grid, the input held at its last
                value.

        Returns:
            The head's output over time, e.g. ``[N, B, C]`` for a Linear head, with ``N``
            the number of grid points (``T`` without sub-stepping; ``M`` with
            ``output_time``; a continued call omits the state's own point). With extras,
            a tuple ``(output, ...)`` with, in this order, ``states`` (``return_states``:
            ``states[i]`` is ``[N, B, ...]`` for neuron layer ``i``), the
            :class:`spikede.Recording` (``record``, on the solver grid) and the ``State``
            (``return_state``).

        Raises:
            TypeError: For a non-tensor or integer ``x``/``x_time``, or a dtype that does
                not match the model's.
            ValueError: For wrong shapes, non-finite or non-increasing times, NaN in ``x``,
                a device mismatch, bad ``method``/``options``, or a ``record`` name that
                is not a neuron layer (the message lists the valid ones).

        Example:
            >>> import torch
            >>> from torch import nn
            >>> from spikede import SNNWrapper, LIFNeuron
            >>> snn = SNNWrapper(nn.Sequential(nn.Linear(3, 4), LIFNeuron()), integrator="odeint")
            >>> out, states = snn(torch.rand(6, 2, 3), return_states=True)
            >>> out.shape, states[0].shape
            (torch.Size([6, 2, 4]), torch.Size([6, 2, 4]))
        """
        continuing = isinstance(initial_state, State)
        if continuing and x_time is None and isinstance(x, torch.Tensor) and x.is_floating_point():
            x_time = _state.default_times(initial_state, x)
        x, x_time = self._check_inputs(x, x_time, min_steps=1 if continuing else 2)
        for name, flag in (("return_state", return_state), ("return_states", return_states)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False; got {type(flag).__name__}")
        plan = plan_recording(self._odefunc.neuron_names, record)
        # The first training-mode call looks for layers that never fire (a network that
        # learns nothing, often time constants far from the units of x_time).
        probe_silence = self.training and not self._silence_checked and plan is None
        if probe_silence:
            plan = plan_recording(self._odefunc.neuron_names, True)
        options = _compat.forward_arguments(method, options)  # the reference's forms
        method = _check_method(self.integrator, method)
        run_method = self._default_method(method)
        opts = dict(self.options)
        if options is not None or method is not None:
            opts.update(_check_options(options, "options", run_method))
        step_size = opts.pop("step_size", None)
        if model_kwargs is None:
            model_kwargs = {}
        if getattr(SOLVERS[run_method], "adaptive", False):
            return forward_events(
                self, x, x_time, run_method, opts, step_size=step_size, model_args=model_args, model_kwargs=model_kwargs,
                return_states=return_states, plan=plan, probe_silence=probe_silence,
                initial_state=initial_state, return_state=return_state, output_time=output_time,
            )

        odefunc = self._odefunc
        shapes = self._infer_shapes(x[0], model_args, model_kwargs)
        batch = x.shape[1]
        v0: tuple[torch.Tensor, ...] | None
        history = None
        if continuing:
            _state.check_state(initial_state, shapes, x, run_method, self.integrator == "fdeint")
            history = initial_state.history
            x, x_time = _state.continued_inputs(initial_state, x, x_time)
            start = initial_state.time.to(x_time).reshape(1)
            grid = self._grid(torch.cat([start, x_time[x_time > start]]), step_size)
            v0 = None
        else:
            grid = self._grid(x_time, step_size)
            if initial_state is None:
                v0 = tuple(torch.zeros((batch, *s), dtype=x.dtype, device=x.device) for s in shapes)
            else:
                v0 = _state.check_membranes(initial_state, shapes, batch, x)
        rows: Any = slice(1, None) if continuing else slice(None)
        if output_time is not None:
            t_out = _state.check_output_time(output_time, grid, float(grid[0]))
            grid, rows = _state.output_grid(grid, t_out, run_method)
        if grid.shape[0] < 2:
            raise ValueError(f"the solver grid needs at least 2 points; got {grid.shape[0]} (check options['step_size'])")
        alphas, coefs = self._solver_orders(x.dtype)
        # Everything this call's evaluations read, built once and passed to each of them.
        # The input-driven layers run once per block of grid times, except when
        # checkpointed (whose evaluations keep no activations, those layers' included).
        compiled = self._compiled()
        args = odefunc.field_args(
            x,
            x_time,
            *model_args,
            grid=None if opts.get("checkpoint") else grid,
            ode=compiled.get("ode") if plan is None else None,
            state=compiled.get("state") if plan is None else None,
            record=None if plan is None else plan.calls,
            **model_kwargs,
        )
        if plan is not None and self.compile and not probe_silence:
            args = dataclasses.replace(args, ode=args.record.compiled_ode())
        if step_size is None and SOLVERS[run_method].uniform_only and x_time.shape[0] > 2:
            steps = x_time[1:] - x_time[:-1]
            if bool((steps - steps.mean()).abs().max() > 1e-3 * steps.mean()):
                accepting = [m for m in INTEGRATORS[self.integrator] if not SOLVERS[m].uniform_only]
                raise ValueError(
                    f"x_time is not uniformly spaced (steps from {float(steps.min()):.4g} to "
                    f"{float(steps.max()):.4g}) and method {run_method!r} needs a uniform grid: "
                    f"pass options={{'step_size': h}} (a uniform solver grid; the input is "
                    f"interpolated between samples) or a method that accepts it: {accepting}"
                )
        blocked = None
        # The first training call's look for silent layers (once per wrapper) runs
        # eager, per step: compiling its recording graph would serve one call.
        if self.compile and not probe_silence and output_time is None:
            blocked = blocked_solve(
                self._compiled(), args, v0, grid, run_method, alphas, coefs, opts,
                keep_states=return_states, initial_history=history, return_history=return_state,
            )
        sol = None
        if blocked is None:
            sol = solve(
                ODEFuncFromFX.solver_field,
                v0,
                grid,
                run_method,
                alpha=alphas,
                coefficients=coefs,
                options=opts or None,
                args=args,
                has_aux=True,
                keep_states=return_states,
                initial_history=history,
                return_history=return_state,
            )
        solved, states, nfe, saved = blocked if sol is None else (sol.aux, sol.ys, sol.nfe, sol.history)
        odefunc.nfe += nfe
        aux, rec = (solved, None) if plan is None else plan.split(solved, grid)
        out = odefunc.post(tuple(a[rows] for a in aux), *model_args, **model_kwargs)
        extras: list[Any] = []
        if return_states:
            assert states is not None
            extras.append(tuple(y[rows] for y in states))
        if rec is not None and probe_silence:
            self._warn_silent_layers(rec, grid)
        elif rec is not None:
            extras.append(rec)
        if return_state:
            assert saved is not None
            samples, times = _state.kept_samples(x, x_time, saved.end_time)
            extras.append(State(saved, samples, times))
        return (out, *extras) if extras else out

    def _warn_silent_layers(self, rec: Any, grid: torch.Tensor) -> None:
        """Warn (once per wrapper) naming every neuron layer that emitted no spike."""
        self._silence_checked = True
        silent = [name for name in rec.names if not bool(rec.spikes[name].detach().any())]
        if not silent:
            return
        h = float(grid[1] - grid[0])
        neurons = dict(self.model.named_modules())
        details = []
        for name in silent:
            tau = getattr(neurons.get(name.split("@")[0]), "tau", None)
            tau_text = "" if tau is None else f", tau={float(tau):.4g}"
            details.append(f"{name!r} (h={h:.4g}{tau_text})")
        warnings.warn(
            f"neuron layer(s) {', '.join(details)} emitted no spike in this training call, so "
            "no surrogate gradient flows through their spikes' values and the loss may not "
            f"move. Time constants and thresholds count in units of x_time (here "
            f"[{float(grid[0]):.4g}, {float(grid[-1]):.4g}]): a neuron with tau much longer "
            "than that span, or whose input stays below threshold, never fires. Scale x_time, "
            "tau or the input (warned once per wrapper).",
            RuntimeWarning,
            stacklevel=3,
        )

    def _solver_orders(
        self, dtype: torch.dtype
    ) -> tuple[list[torch.Tensor] | None, list[torch.Tensor] | None]:
        """The orders (and multi-term weights) of every layer, as ``snn_solve`` takes them."""
        if self.integrator == "odeint":
            return None, None
        if self._multiterm:
            return (
                [layer.alpha().to(dtype) for layer in self.orders],
                [layer.coefficients().to(dtype) for layer in self.orders],
            )
        return [layer.alpha().to(dtype)[0] for layer in self.orders], None

    def extra_repr(self) -> str:
        return (
            f"integrator={self.integrator!r}, method={self._default_method()!r}, alpha_mode={self.alpha_mode!r}, "
            f"interpolation_method={self.interpolation_method!r}, neuron_layers={self.neuron_count}"
        )
