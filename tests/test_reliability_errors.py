"""The bad-input table: every row is one call with a bad argument and the error it raises.

The rows below are the single source of truth for ``docs/reference/errors.md``:
``python tests/test_reliability_errors.py`` prints the page, and
``test_docs_page_lists_every_row`` fails when the page and the rows drift apart.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import torch
from torch import nn

from spikede import (
    ClassificationHead,
    HardResetLIFNeuron,
    IFNeuron,
    LIFNeuron,
    LINeuron,
    NoisyLIFNeuron,
    SNNWrapper,
    VotingLayer,
    get_surrogate,
)
from spikede._surrogate import SigmoidSurrogate
from spikede_fx import ODEFuncFromFX, symbolic_trace_leaf_neurons
from spikede_interp import Interpolator, interpolate
from spikede_solvers import fdeint, mittag_leffler, odeint, odeint_events, snn_solve

PAGE = Path(__file__).resolve().parents[1] / "docs" / "reference" / "errors.md"


class Row(NamedTuple):
    entry: str  # entry point
    argument: str
    bad: str  # the bad value, as shown in the docs
    call: Callable[[], Any]
    error: type[BaseException]
    fragment: str  # a fragment of the message


def _x(t: int = 5, b: int = 2) -> torch.Tensor:
    return torch.rand(t, b)


T5 = torch.arange(5.0)
T6 = torch.linspace(0.0, 1.0, 6)
Y0 = torch.ones(2)


def _decay(t: torch.Tensor, y: Any) -> Any:
    return -y


def _snn_field(t: torch.Tensor, y: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return (-y[0], y[0])


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), LIFNeuron(), nn.Linear(4, 2))


def _wrapper(**kw: Any) -> SNNWrapper:
    return SNNWrapper(_mlp(), **kw)


def _with_nan(x: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x[1, 0, 0] = float("nan")
    return x


class _NoNeuron(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class _Untraceable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.lif = nn.Linear(3, 2), LIFNeuron()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # data-dependent control flow
            x = -x
        return self.lif(self.fc(x))


class _Masked(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.lif = nn.Linear(3, 2), LIFNeuron()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.lif(self.fc(x)) * mask


class _Feedback(nn.Module):
    """Feeds its spikes back at the next call through ``self.prev`` (attribute or buffer)."""

    def __init__(self, how: str = "attribute") -> None:
        super().__init__()
        self.fc, self.lif, self.how = nn.Linear(3, 2), LIFNeuron(), how
        if how == "attribute":
            self.prev = torch.zeros(2)
        else:
            self.register_buffer("prev", torch.zeros(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spikes = self.lif(self.fc(x) + self.prev)
        if self.how == "in place":
            self.prev.copy_(spikes)
        else:
            self.prev = spikes
        return spikes


class _Recording(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.lif = nn.Linear(3, 2), LIFNeuron()
        self.record: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spikes = self.lif(self.fc(x))
        self.record.append(spikes)
        return spikes


class _Membrane(nn.Module):
    """A neuron written without spikeDE: membrane on the module, data-dependent reset."""

    def __init__(self) -> None:
        super().__init__()
        self.mem = torch.zeros(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.mem = 0.9 * self.mem + x
        spikes = (self.mem > 1.0).to(x.dtype)
        if spikes.any():
            self.mem = self.mem - spikes
        return spikes


class _Leaky(_Membrane):
    __module__ = "snntorch._neurons.leaky"  # stands in for snnTorch's Leaky


class _LIFNode(_Membrane):
    __module__ = "spikingjelly.activation_based.neuron"  # stands in for SpikingJelly's LIFNode


def _host(neuron: nn.Module) -> nn.Module:
    return nn.Sequential(nn.Linear(3, 2), neuron, LIFNeuron())


def _odefunc(model: nn.Module | None = None) -> ODEFuncFromFX:
    return ODEFuncFromFX(_mlp() if model is None else model)


def _odefunc_ready() -> ODEFuncFromFX:
    f = _odefunc()
    f.set_inputs(torch.rand(5, 2, 3), T5)
    return f


R = Row
ROWS: list[Row] = [
    # ---------------------------------------------------------------- interpolate / Interpolator
    R("interpolate", "x", "1-d tensor `[T]`", lambda: interpolate(torch.rand(5), T5, 1.0), ValueError, "x must have shape [T, B, ...]"),
    R("interpolate", "x", "integer tensor", lambda: interpolate(torch.ones(5, 2, dtype=torch.int64), T5, 1.0), TypeError, "x must be a real floating-point tensor"),
    R("interpolate", "x_time", "integer times `arange(5)`", lambda: interpolate(_x(), torch.arange(5), 1.0), TypeError, "x_time must be a real floating-point tensor"),
    R("interpolate", "x_time", "length 4 for T = 5", lambda: interpolate(_x(), T5[:4], 1.0), ValueError, "must have length T = 5"),
    R("interpolate", "x_time", "repeated time `[0, 1, 1, 2, 3]`", lambda: interpolate(_x(), torch.tensor([0.0, 1, 1, 2, 3]), 1.0), ValueError, "strictly increasing"),
    R("interpolate", "x_time", "decreasing times", lambda: interpolate(_x(), -T5, 1.0), ValueError, "strictly increasing"),
    R("interpolate", "x_time", "NaN time", lambda: interpolate(_x(), torch.tensor([0.0, 1, float("nan"), 3, 4]), 1.0), ValueError, "x_time"),
    R("interpolate", "t", "`[3]` tensor for B = 2", lambda: interpolate(_x(), T5, torch.rand(3)), ValueError, "t must be a float, a 0-d tensor or a tensor of shape [B]"),
    R("interpolate", "t", "`nan` (Python float)", lambda: interpolate(_x(), T5, float("nan")), ValueError, "t must be a finite time"),
    R("interpolate", "t", "integer tensor", lambda: interpolate(_x(), T5, torch.tensor(1)), TypeError, "t must be a real floating-point tensor"),
    R("interpolate", "t", "`True`", lambda: interpolate(_x(), T5, True), TypeError, "got bool"),
    R("interpolate", "method", "`'spline'`", lambda: interpolate(_x(), T5, 1.0, "spline"), ValueError, "method must be one of"),
    R("interpolate", "method", "`'cubic'` with T = 3", lambda: interpolate(_x(3), T5[:3], 1.0, "cubic"), ValueError, "needs at least 4 samples"),
    R("interpolate", "method", "`'akima'` with T = 4", lambda: interpolate(_x(4), T5[:4], 1.0, "akima"), ValueError, "needs at least 5 samples"),
    R("Interpolator", "x", "float64 x with float32 x_time", lambda: Interpolator(_x().double(), T5, "linear"), TypeError, "dtype of x"),
    R("Interpolator", "method", "`None`", lambda: Interpolator(_x(), T5, None), TypeError, "method"),
    # ---------------------------------------------------------------- fdeint
    R("fdeint", "func", "`None`", lambda: fdeint(None, Y0, T6, 0.5), TypeError, "func must be callable"),
    R("fdeint", "y0", "list of floats", lambda: fdeint(_decay, [1.0, 2.0], T6, 0.5), TypeError, "y0[0] must be a Tensor"),
    R("fdeint", "y0", "integer tensor", lambda: fdeint(_decay, torch.ones(2, dtype=torch.int64), T6, 0.5), TypeError, "floating dtype"),
    R("fdeint", "y0", "NaN entry", lambda: fdeint(_decay, torch.tensor([1.0, float("nan")]), T6, 0.5), ValueError, "y0 must be finite"),
    R("fdeint", "t", "2-d grid", lambda: fdeint(_decay, Y0, T6[None], 0.5), ValueError, "t must be 1-d"),
    R("fdeint", "t", "integer grid", lambda: fdeint(_decay, Y0, torch.arange(6), 0.5), TypeError, "t must have a floating dtype"),
    R("fdeint", "t", "non-monotone grid", lambda: fdeint(_decay, Y0, T6.flip(0), 0.5), ValueError, "t must be strictly increasing"),
    R("fdeint", "t", "non-uniform grid", lambda: fdeint(_decay, Y0, T6**2, 0.5), ValueError, "t must be uniformly spaced"),
    R("fdeint", "t", "infinite time", lambda: fdeint(_decay, Y0, torch.tensor([0.0, 1.0, float("inf")]), 0.5), ValueError, "t must be finite"),
    R("fdeint", "alpha", "`0.0`", lambda: fdeint(_decay, Y0, T6, 0.0), ValueError, "alpha must lie in (0, 1]"),
    R("fdeint", "alpha", "`1.5`", lambda: fdeint(_decay, Y0, T6, 1.5), ValueError, "alpha must lie in (0, 1]"),
    R("fdeint", "alpha", "`nan`", lambda: fdeint(_decay, Y0, T6, float("nan")), ValueError, "alpha must lie in (0, 1]"),
    R("fdeint", "alpha", "`'0.5'` (string)", lambda: fdeint(_decay, Y0, T6, "0.5"), TypeError, "alpha must be a float"),
    R("fdeint", "alpha", "tensor of shape `[3]` for a `[2]` state", lambda: fdeint(_decay, Y0, T6, torch.full((3,), 0.5)), ValueError, "does not broadcast"),
    R("fdeint", "alpha", "list of orders without coefficients", lambda: fdeint(_decay, Y0, T6, [0.3, 0.6]), ValueError, "coefficients is None"),
    R("fdeint", "alpha", "3 entries for a 2-tuple state", lambda: fdeint(_decay, (Y0, Y0), T6, [0.5, 0.5, 0.5]), ValueError, "one entry per state component (2)"),
    R("fdeint", "coefficients", "negative weight", lambda: fdeint(_decay, Y0, T6, [0.3, 0.6], coefficients=[1.0, -1.0]), ValueError, "coefficients must be finite and positive"),
    R("fdeint", "coefficients", "3 weights for 2 orders", lambda: fdeint(_decay, Y0, T6, [0.3, 0.6], coefficients=[1.0, 1.0, 1.0]), ValueError, "give one weight per order"),
    R("fdeint", "coefficients", "`{'a': 1}` (dict)", lambda: fdeint(_decay, Y0, T6, [0.3, 0.6], coefficients={"a": 1}), TypeError, "coefficients must be a sequence or Tensor"),
    R("fdeint", "method", "`'rk4'` (integer-order method)", lambda: fdeint(_decay, Y0, T6, 0.5, "rk4"), ValueError, "is not a method of fdeint"),
    R("fdeint", "method", "`3`", lambda: fdeint(_decay, Y0, T6, 0.5, 3), TypeError, "method must be a str"),
    R("fdeint", "memory", "`0`", lambda: fdeint(_decay, Y0, T6, 0.5, memory=0), ValueError, "memory must be an int >= 1"),
    R("fdeint", "memory", "`2.5`", lambda: fdeint(_decay, Y0, T6, 0.5, memory=2.5), TypeError, "memory must be None or an int >= 1"),
    R("fdeint", "options", "`{'tol': 1e-3}` (unknown option)", lambda: fdeint(_decay, Y0, T6, 0.5, options={"tol": 1e-3}), ValueError, "are not accepted by method"),
    R("fdeint", "options", "`corrector_steps=0`", lambda: fdeint(_decay, Y0, T6, 0.5, "trap", options={"corrector_steps": 0}), ValueError, "corrector_steps"),
    R("fdeint", "options", "`memory=3` with `memory=2`", lambda: fdeint(_decay, Y0, T6, 0.5, memory=2, options={"memory": 3}), ValueError, "disagree"),
    # ---------------------------------------------------------------- odeint
    R("odeint", "func", "`'f'`", lambda: odeint("f", Y0, T6), TypeError, "func must be callable"),
    R("odeint", "y0", "`1.0` (float)", lambda: odeint(_decay, 1.0, T6), TypeError, "y0 must be a Tensor or a tuple"),
    R("odeint", "func", "a stiff field on a coarse grid (`-500 y`, h = 0.25)", lambda: odeint(lambda t, y: -500.0 * y, torch.ones(2), torch.linspace(0.0, 50.0, 201)), FloatingPointError, "the solution became non-finite"),
    R("odeint", "t", "non-monotone grid", lambda: odeint(_decay, Y0, torch.tensor([0.0, 2.0, 1.0])), ValueError, "strictly increasing"),
    R("odeint", "method", "`'gl'` (fractional method)", lambda: odeint(_decay, Y0, T6, "gl"), ValueError, "is not a method of odeint"),
    R("odeint_events", "method", "`'rk4'` (not adaptive)", lambda: odeint_events(lambda t, y: -y, Y0, T6, [1.0], lambda c: c.states[0], "rk4"), ValueError, "is not an adaptive method"),
    R("odeint", "options", "`{'memory': 2}`", lambda: odeint(_decay, Y0, T6, options={"memory": 2}), ValueError, "are not accepted by method"),
    # ---------------------------------------------------------------- snn_solve
    R("snn_solve", "y0", "a tensor, not a tuple", lambda: snn_solve(_snn_field, Y0, T6, alpha=0.5), TypeError, "y0 must be a tuple of tensors"),
    R("snn_solve", "integrator", "`'ode'`", lambda: snn_solve(_snn_field, (Y0,), T6, integrator="ode", alpha=0.5), ValueError, "integrator must be 'fdeint' or 'odeint'"),
    R("snn_solve", "alpha", "`0.5` with `integrator='odeint'`", lambda: snn_solve(_snn_field, (Y0,), T6, integrator="odeint", alpha=0.5), ValueError, "alpha and coefficients must be None"),
    R("snn_solve", "alpha", "`None` with `integrator='fdeint'`", lambda: snn_solve(_snn_field, (Y0,), T6), TypeError, "alpha is required"),
    R("snn_solve", "memory", "`2` with `integrator='odeint'`", lambda: snn_solve(_snn_field, (Y0,), T6, integrator="odeint", memory=2), ValueError, "applies to integrator='fdeint' only"),
    R("snn_solve", "memory", "`-1`", lambda: snn_solve(_snn_field, (Y0,), T6, alpha=0.5, memory=-1), ValueError, "memory must be an int >= 1"),
    # ---------------------------------------------------------------- mittag_leffler
    R("mittag_leffler", "alpha", "`1.2`", lambda: mittag_leffler(1.2, -1.0), ValueError, "alpha must lie in (0, 1]"),
    R("mittag_leffler", "alpha", "tensor of shape `[2]`", lambda: mittag_leffler(torch.ones(2), -1.0), ValueError, "alpha must be a scalar"),
    R("mittag_leffler", "z", "`1.0` (positive)", lambda: mittag_leffler(0.5, 1.0), ValueError, "z must be finite and <= 0"),
    R("mittag_leffler", "z", "integer tensor", lambda: mittag_leffler(0.5, torch.tensor([-1])), TypeError, "z must be a real floating tensor"),
    # ---------------------------------------------------------------- tracing
    R("symbolic_trace_leaf_neurons", "module", "forward stores spikes in `self.prev` (attribute)", lambda: symbolic_trace_leaf_neurons(_Feedback()), ValueError, "attribute 'prev' of the model itself"),
    R("symbolic_trace_leaf_neurons", "module", "forward stores spikes in a registered buffer", lambda: symbolic_trace_leaf_neurons(_Feedback("buffer")), ValueError, "buffer 'prev' of the model itself"),
    R("symbolic_trace_leaf_neurons", "module", "forward writes a buffer in place (`self.prev.copy_(s)`)", lambda: symbolic_trace_leaf_neurons(_Feedback("in place")), ValueError, "would be written in place by copy_"),
    R("symbolic_trace_leaf_neurons", "module", "forward appends to a list attribute", lambda: symbolic_trace_leaf_neurons(_Recording()), ValueError, "attribute 'record' of the model itself"),
    R("symbolic_trace_leaf_neurons", "module", "snnTorch-style `Leaky` neuron (class from `snntorch`)", lambda: symbolic_trace_leaf_neurons(_host(_Leaky())), TypeError, "not a spikeDE neuron (spikede_fx.BaseNeuron)"),
    R("symbolic_trace_leaf_neurons", "module", "own stateful neuron class with a data-dependent `if`", lambda: symbolic_trace_leaf_neurons(_host(_Membrane())), torch.fx.proxy.TraceError, "while tracing submodule '1'"),
    # ---------------------------------------------------------------- ODEFuncFromFX
    R("ODEFuncFromFX", "backbone", "a function, not a module", lambda: ODEFuncFromFX(lambda x: x), TypeError, "backbone must be a torch.nn.Module"),
    R("ODEFuncFromFX", "backbone", "model without neurons", lambda: ODEFuncFromFX(_NoNeuron()), ValueError, "neuron"),
    R("ODEFuncFromFX", "backbone", "data-dependent `if` (not traceable)", lambda: ODEFuncFromFX(_Untraceable()), torch.fx.proxy.TraceError, "trace"),
    R("ODEFuncFromFX", "backbone", "forward stores spikes in a buffer `self.prev`", lambda: ODEFuncFromFX(_Feedback("buffer")), ValueError, "buffer 'prev' of the model itself"),
    R("ODEFuncFromFX", "backbone", "SpikingJelly-style `LIFNode` (not a BaseNeuron)", lambda: ODEFuncFromFX(_host(_LIFNode())), TypeError, "not a spikeDE neuron (spikede_fx.BaseNeuron)"),
    R("ODEFuncFromFX", "interpolation_method", "`'spline'`", lambda: ODEFuncFromFX(_mlp(), "spline"), ValueError, "interpolation_method must be one of"),
    R("ODEFuncFromFX.set_inputs", "x_time", "length 4 for T = 5", lambda: _odefunc().set_inputs(torch.rand(5, 2, 3), T5[:4]), ValueError, "must have length T = 5"),
    R("ODEFuncFromFX.set_inputs", "extra_args", "an extra input the backbone does not take", lambda: _odefunc().set_inputs(torch.rand(5, 2, 3), T5, torch.ones(1)), TypeError, "extra positional arguments"),
    R("ODEFuncFromFX.set_inputs", "extra_kwargs", "missing `mask` of the backbone", lambda: _odefunc(_Masked()).set_inputs(torch.rand(5, 2, 3), T5), TypeError, "missing extra input(s) ['mask']"),
    R("ODEFuncFromFX.forward", "(state)", "called before `set_inputs`", lambda: _odefunc()(torch.tensor(0.0), (torch.zeros(2, 4),)), RuntimeError, "call set_inputs"),
    R("ODEFuncFromFX.forward", "v_mems", "2 tensors for 1 neuron", lambda: _odefunc_ready()(torch.tensor(0.0), (torch.zeros(2, 4),) * 2), ValueError, "v_mems must hold 1 membrane tensors"),
    # ---------------------------------------------------------------- SNNWrapper constructor
    R("SNNWrapper", "base", "a function, not a module", lambda: SNNWrapper(lambda x: x), TypeError, "base must be an nn.Module"),
    R("SNNWrapper", "base", "model without neurons", lambda: SNNWrapper(_NoNeuron()), ValueError, "neuron"),
    R("SNNWrapper", "base", "forward stores spikes in `self.prev` for the next step", lambda: SNNWrapper(_Feedback()), ValueError, "writes state on the model"),
    R("SNNWrapper", "base", "snnTorch-style `Leaky` neuron (not a BaseNeuron)", lambda: SNNWrapper(_host(_Leaky())), TypeError, "is a spiking neuron from snntorch"),
    R("SNNWrapper", "integrator", "`'sde'`", lambda: _wrapper(integrator="sde"), ValueError, "integrator must be one of"),
    R("SNNWrapper", "integrator", "`'fdeint_mem'` (reference name)", lambda: _wrapper(integrator="fdeint_mem"), ValueError, "has no spikede counterpart; use integrator='odeint' with method='euler'"),
    R("SNNWrapper", "options", "`{'checkpoint': False}` with `integrator='odeint_adjoint'`", lambda: _wrapper(integrator="odeint_adjoint", options={"checkpoint": False}), ValueError, "means integrator='odeint' with options['checkpoint']=True"),
    R("SNNWrapper", "alpha", "`'linear'` (the reference's third positional argument)", lambda: SNNWrapper(_mlp(), "fdeint", "linear", 0.5), TypeError, "was interpolation_method, spikede's is alpha"),
    R("SNNWrapper", "method", "`'rk4'` with `integrator='fdeint'`", lambda: _wrapper(method="rk4"), ValueError, "belongs to integrator 'odeint'"),
    R("SNNWrapper", "method", "`'dopri5'` with `integrator='fdeint'`", lambda: _wrapper(method="dopri5"), ValueError, "integrator='fdeint' has no adaptive method"),
    R("SNNWrapper", "options", "`{'step_size': 0.5}` with `method='dopri5'`", lambda: _wrapper(integrator="odeint", method="dopri5", options={"step_size": 0.5}), ValueError, "does not apply to the adaptive method"),
    R("SNNWrapper", "method", "`'bogus'`", lambda: _wrapper(method="bogus"), ValueError, "is not a method of integrator 'fdeint'"),
    R("SNNWrapper", "alpha", "`0.0`", lambda: _wrapper(alpha=0.0), ValueError, "must lie in (0, 1]"),
    R("SNNWrapper", "alpha", "`1.2`", lambda: _wrapper(alpha=1.2), ValueError, "must lie in (0, 1]"),
    R("SNNWrapper", "alpha", "`'half'`", lambda: _wrapper(alpha="half"), TypeError, "alpha"),
    R("SNNWrapper", "alpha", "2 per-layer orders for 1 layer", lambda: _wrapper(alpha=[0.5, 0.6], alpha_mode="per_layer"), ValueError, "1"),
    R("SNNWrapper", "alpha", "scalar with `alpha_mode='multiterm'`", lambda: _wrapper(alpha=0.5, alpha_mode="multiterm"), ValueError, "needs a list of orders"),
    R("SNNWrapper", "alpha", "nested list with 2 layers for 1", lambda: _wrapper(alpha=[[0.5], [0.6]]), ValueError, "1"),
    R("SNNWrapper", "alpha", "tensor that requires grad", lambda: _wrapper(alpha=torch.tensor(0.6, requires_grad=True)), ValueError, "pass learn_alpha=True with a plain value"),
    R("SNNWrapper", "alpha_mode", "`'layerwise'`", lambda: _wrapper(alpha_mode="layerwise"), ValueError, "alpha_mode must be one of"),
    R("SNNWrapper", "multi_coefficient", "negative weight", lambda: _wrapper(alpha=[0.3, 0.6], alpha_mode="multiterm", multi_coefficient=[1.0, -2.0]), ValueError, "positive"),
    R("SNNWrapper", "multi_coefficient", "3 weights for 2 orders", lambda: _wrapper(alpha=[0.3, 0.6], alpha_mode="multiterm", multi_coefficient=[1.0, 1.0, 1.0]), ValueError, "multi_coefficient"),
    R("SNNWrapper", "multi_coefficient", "given with a scalar alpha", lambda: _wrapper(alpha=0.5, multi_coefficient=[1.0]), ValueError, "only meaningful with multi-term alpha"),
    R("SNNWrapper", "learn_alpha", "2 flags for 1 layer", lambda: _wrapper(learn_alpha=[True, False]), ValueError, "learn_alpha"),
    R("SNNWrapper", "learn_alpha", "`True` with `integrator='odeint'`", lambda: _wrapper(integrator="odeint", learn_alpha=True), ValueError, "need integrator='fdeint'"),
    R("SNNWrapper", "learn_coefficient", "`'yes'`", lambda: _wrapper(learn_coefficient="yes"), TypeError, "learn_coefficient"),
    R("SNNWrapper", "options", "`{'memory': 0}`", lambda: _wrapper(options={"memory": 0}), ValueError, "options['memory'] must be an int >= 1"),
    R("SNNWrapper", "options", "`{'step_size': -1}`", lambda: _wrapper(options={"step_size": -1.0}), ValueError, "options['step_size'] must be a positive finite number"),
    R("SNNWrapper", "options", "`[('memory', 2)]` (list)", lambda: _wrapper(options=[("memory", 2)]), TypeError, "options must be a dict"),
    R("SNNWrapper", "interpolation_method", "`'spline'`", lambda: _wrapper(interpolation_method="spline"), ValueError, "interpolation_method must be one of"),
    R("SNNWrapper", "compile", "`1`", lambda: _wrapper(compile=1), TypeError, "compile must be a bool"),
    # ---------------------------------------------------------------- SNNWrapper.forward
    R("SNNWrapper.forward", "x", "numpy-like list", lambda: _wrapper()([[0.0] * 3] * 5), TypeError, "x must be a tensor [T, B, ...]"),
    R("SNNWrapper.forward", "x", "integer tensor", lambda: _wrapper()(torch.ones(5, 2, 3, dtype=torch.int64)), TypeError, "x must be a floating-point tensor"),
    R("SNNWrapper.forward", "x", "1-d tensor", lambda: _wrapper()(torch.rand(5)), ValueError, "at least 2 dimensions"),
    R("SNNWrapper.forward", "x", "T = 1", lambda: _wrapper()(torch.rand(1, 2, 3)), ValueError, "at least 2 time steps"),
    R("SNNWrapper.forward", "x", "NaN entry", lambda: _wrapper()(_with_nan(torch.rand(5, 2, 3))), ValueError, "x contains NaN or infinite values"),
    R("SNNWrapper.forward", "x", "float64 on a float32 model", lambda: _wrapper()(torch.rand(5, 2, 3, dtype=torch.float64)), TypeError, "convert with x.to(torch.float32)"),
    R("SNNWrapper.forward", "x", "wrong feature size (4 for Linear(3, ...))", lambda: _wrapper()(torch.rand(5, 2, 4)), ValueError, "layer '0' (Linear(in_features=3, out_features=4, bias=True)) received an input of shape (2, 4) (batch first) but expects [..., 3]"),
    R("SNNWrapper.forward", "x", "Conv2d output into a Linear without flattening", lambda: SNNWrapper(nn.Sequential(nn.Conv2d(1, 2, 3), LIFNeuron(), nn.Linear(2, 3)))(torch.rand(4, 2, 1, 6, 6)), ValueError, "add nn.Flatten() (or x.flatten(1)) before this Linear"),
    R("SNNWrapper.forward", "method", "a tensor (the reference's third argument, `output_time`)", lambda: _wrapper()(torch.rand(5, 2, 3), T5, T5), TypeError, "the third positional argument of the reference's forward was output_time"),
    R("SNNWrapper.forward", "x_time", "length 4 for T = 5", lambda: _wrapper()(torch.rand(5, 2, 3), T5[:4]), ValueError, "x_time must have shape [T] = [5]"),
    R("SNNWrapper.forward", "x_time", "integer times", lambda: _wrapper()(torch.rand(5, 2, 3), torch.arange(5)), TypeError, "x_time must be a floating-point tensor"),
    R("SNNWrapper.forward", "x_time", "non-monotone", lambda: _wrapper()(torch.rand(5, 2, 3), T5.flip(0)), ValueError, "x_time must be strictly increasing"),
    R("SNNWrapper.forward", "x_time", "NaN time", lambda: _wrapper()(torch.rand(5, 2, 3), torch.tensor([0.0, 1, float("nan"), 3, 4])), ValueError, "x_time contains NaN"),
    R("SNNWrapper.forward", "x_time", "non-uniform (fdeint)", lambda: _wrapper()(torch.rand(5, 2, 3), T5**2), ValueError, "uniformly spaced"),
    R("SNNWrapper.forward", "x_time", "`[0, 1, 2, 3, 4]` as a list", lambda: _wrapper()(torch.rand(5, 2, 3), [0.0, 1, 2, 3, 4]), TypeError, "x_time must be a 1-d tensor"),
    R("SNNWrapper.forward", "method", "`'euler'` on an fdeint wrapper", lambda: _wrapper()(torch.rand(5, 2, 3), method="euler"), ValueError, "belongs to integrator 'odeint'"),
    R("SNNWrapper.forward", "options", "`{'memory': 0}`", lambda: _wrapper()(torch.rand(5, 2, 3), options={"memory": 0}), ValueError, "options['memory'] must be an int >= 1"),
    R("SNNWrapper.forward", "options", "`{'step_size': 10.0}` (grid of 1 point)", lambda: _wrapper()(torch.rand(5, 2, 3), options={"step_size": 10.0}), ValueError, "the solver grid needs at least 2 points"),
    R("SNNWrapper.forward", "method", "`'dopri5'` with a `LINeuron` layer (no event interface)", lambda: SNNWrapper(nn.Sequential(nn.Linear(3, 2), LINeuron()), integrator="odeint", method="dopri5")(torch.rand(5, 2, 3)), ValueError, "layer '1' (LINeuron): it does not implement subthreshold"),
    R("SNNWrapper.forward", "return_state", "`True` with `method='dopri5'`", lambda: _wrapper(integrator="odeint", method="dopri5")(torch.rand(5, 2, 3), return_state=True), ValueError, "return_state=True is not supported with method='dopri5'"),
    R("SNNWrapper.forward", "model_args", "missing `mask` of the model", lambda: SNNWrapper(_Masked())(torch.rand(5, 2, 3)), TypeError, "missing extra input(s) ['mask']"),
    R("SNNWrapper.load_state_dict", "state_dict", "checkpoint of a 2-term wrapper into a 1-term one", lambda: _wrapper().load_state_dict(_wrapper(alpha=[0.3, 0.6], alpha_mode="multiterm").state_dict()), ValueError, "the checkpoint has 2 order term(s) but this wrapper has 1"),
    # ---------------------------------------------------------------- neurons
    R("LIFNeuron", "tau", "`0.0`", lambda: LIFNeuron(tau=0.0), ValueError, "tau must be a finite number > 0"),
    R("LIFNeuron", "tau", "`'2'`", lambda: LIFNeuron(tau="2"), TypeError, "tau must be a positive real number"),
    R("LIFNeuron", "threshold", "`-1.0`", lambda: LIFNeuron(threshold=-1.0), ValueError, "threshold must be a finite number > 0"),
    R("LIFNeuron", "surrogate", "`'relu'`", lambda: LIFNeuron(surrogate="relu"), ValueError, "surrogate"),
    R("LIFNeuron", "sharpness", "`0.0`", lambda: LIFNeuron(sharpness=0.0), ValueError, "sharpness must be a finite number > 0"),
    R("LIFNeuron", "learn_tau", "`1`", lambda: LIFNeuron(learn_tau=1), TypeError, "learn_tau must be True or False"),
    R("LIFNeuron", "detach_reset", "`'no'`", lambda: LIFNeuron(detach_reset="no"), TypeError, "detach_reset must be True or False"),
    R("LIFNeuron", "threshold", "a plain tensor", lambda: LIFNeuron(threshold=torch.tensor(1.0)), TypeError, "pass float(threshold), nn.Parameter(threshold) or learn_threshold=True"),
    R("LIFNeuron", "learn_threshold", "`1`", lambda: LIFNeuron(learn_threshold=1), TypeError, "learn_threshold must be True or False"),
    R("LIFNeuron", "surrogate_opt", "`'piecewise_linear_surrogate'` (reference name)", lambda: LIFNeuron(surrogate_opt="piecewise_linear_surrogate"), ValueError, "has no exact spikede conversion"),
    R("LIFNeuron", "surrogate_opt", "`'relu'` (reference name)", lambda: LIFNeuron(surrogate_opt="relu"), ValueError, "is not a surrogate of the reference"),
    R("LIFNeuron", "surrogate_grad_scale", "`0.0` (reference name)", lambda: LIFNeuron(surrogate_grad_scale=0.0), ValueError, "surrogate_grad_scale must be a finite number > 0"),
    R("LIFNeuron", "surrogate_grad_scale", "with `sharpness=2.0` too", lambda: LIFNeuron(sharpness=2.0, surrogate_grad_scale=5.0), ValueError, "give either the reference's names or surrogate=/sharpness=, not both"),
    R("LIFNeuron", "tau_learnable", "with `learn_tau=True` too", lambda: LIFNeuron(learn_tau=True, tau_learnable=True), ValueError, "give only learn_tau"),
    R("LIFNeuron", "surrogate", "`0.3` (the reference's third positional argument)", lambda: LIFNeuron(2.0, 1.0, 0.3), TypeError, "was surrogate_grad_scale, spikede's is surrogate"),
    R("LIFNeuron", "(keyword)", "`spam=1`", lambda: LIFNeuron(spam=1), TypeError, "unexpected keyword argument 'spam'"),
    R("IFNeuron", "tau", "`0.5` (reference argument)", lambda: IFNeuron(tau=0.5), TypeError, "IFNeuron has no time constant in spikede"),
    R("HardResetLIFNeuron", "reset_strength", "`50.0` (reference argument)", lambda: HardResetLIFNeuron(reset_strength=50.0), TypeError, "reset_strength=50.0 has no spikede conversion"),
    R("NoisyLIFNeuron", "gamma", "`0.2` (reference argument)", lambda: NoisyLIFNeuron(gamma=0.2), TypeError, "gamma=0.2 has no spikede conversion"),
    R("IFNeuron", "threshold", "`inf`", lambda: IFNeuron(threshold=float("inf")), ValueError, "threshold must be a finite number > 0"),
    R("HardResetLIFNeuron", "v_reset", "`2.0` (above threshold 1)", lambda: HardResetLIFNeuron(v_reset=2.0), ValueError, "v_reset must be finite and below threshold"),
    R("NoisyLIFNeuron", "noise_std", "`-0.1`", lambda: NoisyLIFNeuron(noise_std=-0.1), ValueError, "noise_std must be a finite number >= 0"),
    R("LIFNeuron.forward", "args", "four tensors", lambda: LIFNeuron()(*[torch.zeros(1)] * 4), TypeError, "takes (current), (v, current) or (v, current, dt)"),
    # ---------------------------------------------------------------- surrogates
    R("get_surrogate", "name_or_instance", "`'relu'`", lambda: get_surrogate("relu"), ValueError, "relu"),
    R("get_surrogate", "name_or_instance", "`3`", lambda: get_surrogate(3), TypeError, "surrogate must be a name"),
    R("get_surrogate", "sharpness", "`-2.0`", lambda: get_surrogate("sigmoid", -2.0), ValueError, "sharpness must be a finite number > 0"),
    R("SigmoidSurrogate", "sharpness", "`'steep'`", lambda: SigmoidSurrogate("steep"), TypeError, "sharpness"),
    # ---------------------------------------------------------------- layers
    R("VotingLayer", "voting_size", "`0`", lambda: VotingLayer(0), ValueError, "voting_size must be a positive int"),
    R("VotingLayer", "strict", "`'yes'`", lambda: VotingLayer(2, strict="yes"), TypeError, "strict must be True or False"),
    R("VotingLayer.forward", "x", "5 features for voting_size 2 (strict)", lambda: VotingLayer(2)(torch.ones(3, 5)), ValueError, "voting_size"),
    R("ClassificationHead", "embed_dims", "`-4`", lambda: ClassificationHead(-4, 3), ValueError, "embed_dims must be a positive int"),
    R("ClassificationHead", "num_classes", "`2.5`", lambda: ClassificationHead(4, 2.5), TypeError, "num_classes"),
    R("ClassificationHead", "token_dim", "`-1`", lambda: ClassificationHead(4, 3, token_dim=-1), ValueError, "token_dim=-1 is the feature dimension"),
    R("ClassificationHead.forward", "x", "last dimension 5 for embed_dims 4", lambda: ClassificationHead(4, 3)(torch.ones(2, 5)), ValueError, "4"),
]


def _row_id(row: Row) -> str:
    return f"{row.entry}-{row.argument}-{row.bad}"


@pytest.mark.parametrize("row", ROWS, ids=[_row_id(r) for r in ROWS])
def test_bad_input_raises_documented_error(row: Row) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(row.error) as info:
            row.call()
    assert info.type is row.error, f"raised {info.type.__name__}, documented {row.error.__name__}"
    assert row.fragment in str(info.value), f"message was: {info.value}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


# The page has one section per package, in dependency order. A row is filed under the
# package that defines its entry point, found from the entry's name alone: new rows need
# no extra field.
PACKAGES = {
    "spikede_interp": "spikede-interp",
    "spikede_solvers": "spikede-solvers",
    "spikede_fx": "spikede-fx",
    "spikede": "spikede",
}
# Public modules whose ``__all__`` the API pages document, searched in this order.
PUBLIC_MODULES = (*PACKAGES, "spikede.nir", "spikede.plot", "spikede.events")


def api_target(entry: str) -> tuple[str, str]:
    """Return ``(package, identifier)`` of a row's entry point, e.g. ``"SNNWrapper.forward"``.

    ``package`` is the import name of the package that defines the object (a key of
    :data:`PACKAGES`); ``identifier`` is the mkdocstrings anchor of its API entry: the
    method when the class defines it, else the class (inherited methods, such as
    ``nn.Module.load_state_dict``, have no entry of their own).
    """
    head, _, member = entry.partition(".")
    found = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        if head in getattr(module, "__all__", ()):
            found.append((module_name, getattr(module, head)))
    if not found:
        raise LookupError(
            f"row entry {entry!r}: {head!r} is in no public __all__ of {list(PUBLIC_MODULES)}"
        )
    defined_in = getattr(found[0][1], "__module__", found[0][0]).split(".")[0]
    # the public module of the defining package (spikede_fx.BaseNeuron, not spikede.BaseNeuron)
    module_name = next((m for m, _ in found if m.split(".")[0] == defined_in), found[0][0])
    obj = dict(found)[module_name]
    identifier = f"{module_name}.{head}"
    if member and isinstance(obj, type) and member in vars(obj):
        identifier += f".{member}"
    return module_name.split(".")[0], identifier


def render_row(row: Row) -> str:
    """One markdown table line of the page; the entry point links to its API entry."""
    _, identifier = api_target(row.entry)
    return (
        f"| [`{row.entry}`][{identifier}] | `{row.argument}` | {_cell(row.bad)} | "
        f"`{row.error.__name__}` | `{_cell(row.fragment)}` |"
    )


TABLE_HEAD = """| Entry point | Argument | Bad value | Exception | Message contains |
|---|---|---|---|---|
"""


def render_page() -> str:
    """The whole docs page: the notes, then one table per package, rows in ROWS order."""
    by_package: dict[str, list[str]] = {name: [] for name in PACKAGES}
    for row in ROWS:
        by_package[api_target(row.entry)[0]].append(render_row(row))
    sections = [
        f"## {PACKAGES[name]}\n\n{TABLE_HEAD}" + "\n".join(lines) + "\n"
        for name, lines in by_package.items()
        if lines
    ]
    return HEADER + "\n".join(sections)


def test_rows_are_filed_under_the_defining_package() -> None:
    assert api_target("interpolate") == ("spikede_interp", "spikede_interp.interpolate")
    assert api_target("fdeint") == ("spikede_solvers", "spikede_solvers.fdeint")
    assert api_target("BaseNeuron") == ("spikede_fx", "spikede_fx.BaseNeuron")
    assert api_target("SNNWrapper.forward") == ("spikede", "spikede.SNNWrapper.forward")
    # inherited from nn.Module: no API entry of its own, the class is linked
    assert api_target("SNNWrapper.load_state_dict")[1] in (
        "spikede.SNNWrapper", "spikede.SNNWrapper.load_state_dict")
    assert api_target("from_nir") == ("spikede", "spikede.nir.from_nir")
    with pytest.raises(LookupError, match="no public __all__"):
        api_target("_private_helper")


HEADER = """# Bad input and the errors it raises

spikeDE checks the arguments of every public entry point once, up front, and raises
`ValueError` or `TypeError` naming the argument, the value given and what is accepted;
nothing returns a silently wrong answer. Each line of the tables below is one test in
`tests/test_reliability_errors.py` (the page is generated from the same list, and a test
fails when they drift apart): the call with that one bad argument raises that exception,
and its message contains that fragment.

Notes on what is and is not rejected:

- **NaN or infinite inputs.** `SNNWrapper.forward` rejects NaN/inf in `x` and `x_time`,
  and the solvers reject them in `y0` and `t`. The interpolators check a Python `float`
  query but not the *values* inside tensors (`x`, a tensor `t`): that would need a
  host synchronisation, which they avoid by design, so NaN in `x` propagates to the
  result. NaN produced *by the vector field* during a solve propagates too.
- **Model/input mismatches.** A layer that cannot take the shape it receives in the first
  dry run raises `ValueError` naming the layer, the shape and what it expects (a `Linear`
  fed from a convolution: add `nn.Flatten()`), PyTorch's own message included; a device
  mismatch between `x` and the model raises `ValueError` (`x is on ... but the model's
  parameters are on ...`), a dtype mismatch `TypeError` (allowed under `torch.autocast`).
- **Checkpoints.** Loading a checkpoint saved with another layer count, another alpha
  mode or another number of terms raises `ValueError` naming the layer and the difference,
  before anything is copied. Learnable flags may differ: the checkpoint holds the orders
  and weights (`orders.{i}.order`, `orders.{i}.coefficient`), which load into a wrapper
  built with other `learn_alpha`/`learn_coefficient` flags, learnable or fixed as built.
- **Tracing leaves the model unchanged.** `symbolic_trace_leaf_neurons` (and so
  `ODEFuncFromFX` and `SNNWrapper`) puts the model back exactly as it was, also when it
  raises. A forward that writes state on a module (assigns an attribute or a buffer,
  changes a list attribute, writes a stored tensor in place) raises `ValueError` naming
  each module and attribute: feedback over time must go through a neuron's membrane
  ([writing your own neuron](../tutorials/neurons.md#writing-your-own-neuron)). A neuron
  of snnTorch, SpikingJelly, Norse or sinabs raises `TypeError` before tracing starts.

The tables are grouped by the package that raises; each entry point links to its API
documentation.

"""


def test_docs_page_lists_every_row() -> None:
    text = PAGE.read_text(encoding="utf-8")
    missing = [render_row(r) for r in ROWS if render_row(r) not in text]
    assert not missing, "regenerate with `python tests/test_reliability_errors.py > docs/reference/errors.md`"
    assert text == render_page()


def test_every_public_entry_point_has_rows() -> None:
    entries = {r.entry.split(".")[0] for r in ROWS}
    for name in ("interpolate", "Interpolator", "fdeint", "odeint", "snn_solve", "mittag_leffler",
                 "symbolic_trace_leaf_neurons", "ODEFuncFromFX", "SNNWrapper", "LIFNeuron", "IFNeuron", "HardResetLIFNeuron",
                 "NoisyLIFNeuron", "get_surrogate", "VotingLayer", "ClassificationHead"):
        assert name in entries, name
    forward_args = {r.argument for r in ROWS if r.entry == "SNNWrapper.forward"}
    assert {"x", "x_time", "method", "options", "model_args"} <= forward_args
    ctor_args = {r.argument for r in ROWS if r.entry == "SNNWrapper"}
    assert {"base", "integrator", "alpha", "method", "options", "interpolation_method", "multi_coefficient",
            "learn_alpha", "learn_coefficient", "alpha_mode", "compile"} <= ctor_args


if __name__ == "__main__":
    sys.stdout.write(render_page())
