"""Argument names of the public spikeDE reference library, translated or refused in one place.

Code written for the reference (``from spikeDE import ...``) uses a few names spikede
spells differently. Each entry point calls one function here from its argument check:
a name with an exact spikede spelling is accepted with a ``DeprecationWarning`` that
states the conversion; a name without one raises, naming the argument, the value given
and what to use instead. The user guide's migration page lists the same table.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Mapping
from numbers import Real
from typing import Any

import torch

__all__ = ["REMOVED_NAMES", "forward_arguments", "neuron_arguments", "wrapper_arguments"]

#: Top-level names of the reference that spikede does not have, and what replaces them.
REMOVED_NAMES = {
    "LIFNeuronFDE": (
        "a neuron holding its own fractional history; use LIFNeuron inside "
        "SNNWrapper(model, integrator='fdeint', alpha=beta, method='gl'), which integrates "
        "every neuron layer at order alpha"
    ),
    "LIFNeuron_OrderOne": (
        "a neuron returning its next membrane for a step-by-step loop; use LIFNeuron inside "
        "SNNWrapper(model, integrator='odeint', method='euler'), which on unit steps is that loop"
    ),
    "NoisyLIFNeuron_OrderOne": (
        "a logistic noisy-threshold neuron for a step-by-step loop; use LIFNeuron(surrogate="
        "'noisy_threshold') (Gaussian threshold noise) or NoisyLIFNeuron (Gaussian current "
        "noise) inside SNNWrapper(model, integrator='odeint', method='euler')"
    ),
}

# The reference's surrogate functions: name -> (spikede name, sharpness from the reference's
# scale s, the pseudo-derivative they share, as text).
_SURROGATES = {
    "sigmoid_surrogate": ("sigmoid", lambda s: s / 4.0, "s sig(s x) (1 - sig(s x))"),
    "arctan_surrogate": ("arctan", lambda s: s / 2.0, "(s/2) / (1 + (pi s x / 2)^2)"),
    "gaussian_surrogate": (
        "gaussian",
        lambda s: 1.0 / (s * math.sqrt(2.0 * math.pi)),
        "exp(-x^2 / (2 s^2)) / (s sqrt(2 pi))",
    ),
}
_NO_SURROGATE = {
    "piecewise_linear_surrogate": (
        "its pseudo-derivative is a rectangle (1/(2 s) on |x| <= s), which no spikede "
        "surrogate equals; write a Surrogate subclass with that rectangle, or use "
        "surrogate='triangle', sharpness=1/s (a triangle on the same support |x| < s)"
    ),
}
_DEFAULT_SURROGATE = ("arctan_surrogate", 5.0)  # the reference neurons' defaults

# Constructor arguments of reference neurons that spikede's do not have.
_NO_ARGUMENT = {
    "reset_strength": (
        "the reference's HardResetLIFNeuron computed that reset term but did not apply it; "
        "spikede's HardResetLIFNeuron resets to v_reset at every spike"
    ),
    **{
        name: (
            "the reference's NoisyLIFNeuron drew logistic threshold noise; spikede's "
            "NoisyLIFNeuron adds Gaussian input noise (noise_std), and "
            "surrogate='noisy_threshold' gives Gaussian threshold noise"
        )
        for name in ("gamma", "train_spike_mode", "concrete_temp", "z_clip", "hard_eval")
    },
    **{
        name: (
            "it belonged to the reference's LIFNeuronFDE; the order, method, memory and grid "
            "are arguments of SNNWrapper and its forward (alpha=, method=, options={'memory': M})"
        )
        for name in ("beta", "method", "batchsize", "T", "step_size", "memory", "name")
    },
}

_WRAPPER_INTEGRATORS = {"odeint_adjoint": "odeint", "fdeint_adjoint": "fdeint"}
_NO_INTEGRATOR = {
    "odeint_mem": "integrator='odeint' with method='euler'",
    "fdeint_mem": "integrator='odeint' with method='euler'",
}


#: Frames of these packages are skipped: the warning points at the user's line.
_LIBRARIES = frozenset({"spikede", "spikede_fx", "spikede_solvers", "spikede_interp", "torch"})


def _warn(message: str) -> None:
    """A DeprecationWarning attributed to the first caller outside spikede and torch
    (the user's line, also through ``nn.Module.__call__``)."""
    level, frame = 2, sys._getframe(1)  # stacklevel 2 is the caller of _warn
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in _LIBRARIES:
        level, frame = level + 1, frame.f_back
    message += " (the reference spikeDE's spelling; see the migration guide)"
    warnings.warn(message, DeprecationWarning, stacklevel=level)


def _scale(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"surrogate_grad_scale must be a positive real number; got {value!r}")
    if not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"surrogate_grad_scale must be a finite number > 0; got {value!r}")
    return float(value)


def _surrogate(neuron: str, given: dict[str, object], surrogate: Any, sharpness: Any) -> tuple[Any, Any]:
    """The spikede ``(surrogate, sharpness)`` of the reference's ``surrogate_opt``/``surrogate_grad_scale``."""
    opt = given.pop("surrogate_opt", None)
    raw_scale = given.pop("surrogate_grad_scale", None)
    if opt is None and raw_scale is None:
        return surrogate, sharpness
    spelled = ", ".join(
        f"{k}={v!r}" for k, v in (("surrogate_opt", opt), ("surrogate_grad_scale", raw_scale)) if v is not None
    )
    if sharpness is not None or not (isinstance(surrogate, str) and surrogate == "sigmoid"):
        raise ValueError(
            f"{neuron}: {spelled} given together with surrogate={surrogate!r}, sharpness={sharpness!r}; "
            "give either the reference's names or surrogate=/sharpness=, not both"
        )
    name = _DEFAULT_SURROGATE[0] if opt is None else opt
    if not isinstance(name, str):
        raise TypeError(f"{neuron}: surrogate_opt must be a name (a string); got {name!r}")
    if name in _NO_SURROGATE:
        raise ValueError(f"{neuron}: surrogate_opt={name!r} has no exact spikede conversion: {_NO_SURROGATE[name]}")
    if name not in _SURROGATES:
        raise ValueError(
            f"{neuron}: surrogate_opt={name!r} is not a surrogate of the reference; its names were "
            f"{sorted([*_SURROGATES, *_NO_SURROGATE])} (spikede's own: surrogate= with "
            "'sigmoid', 'arctan', 'triangle', 'gaussian', 'noisy_threshold')"
        )
    scale = _DEFAULT_SURROGATE[1] if raw_scale is None else _scale(raw_scale)
    new_name, to_sharpness, formula = _SURROGATES[name]
    k = to_sharpness(scale)
    implied = "" if opt is not None else " (with the reference's default surrogate_opt='arctan_surrogate')"
    implied += "" if raw_scale is not None else " (with the reference's default surrogate_grad_scale=5.0)"
    _warn(
        f"{neuron}: {spelled}{implied} is surrogate={new_name!r}, sharpness={k!r} in spikede: the same "
        f"pseudo-derivative {formula} with s = {scale!r}"
    )
    return new_name, k


def _learnable_tau(neuron: str, given: dict[str, object], tau: Any, learn_tau: Any, has_tau: bool) -> tuple[Any, Any]:
    """The spikede ``(tau, learn_tau)`` of the reference's ``tau_learnable``."""
    if "tau_learnable" not in given:
        return tau, learn_tau
    flag = given.pop("tau_learnable")
    if not isinstance(flag, bool):
        raise TypeError(f"{neuron}: tau_learnable must be True or False; got {flag!r}")
    if not has_tau:
        raise TypeError(
            f"{neuron}: tau_learnable={flag!r} has no conversion: {neuron} has no time constant in "
            "spikede (the reference's IFNeuron divided its input by tau); scale the weights of the "
            "layer feeding it by 1/tau, or use LIFNeuron(learn_tau=True)"
        )
    if learn_tau is not False:
        raise ValueError(f"{neuron}: tau_learnable={flag!r} given together with learn_tau={learn_tau!r}; give only learn_tau")
    if not flag:
        _warn(f"{neuron}: tau_learnable=False is learn_tau=False in spikede")
        return tau, False
    if isinstance(tau, bool) or not isinstance(tau, Real):
        return tau, True  # the neuron's own check reports the bad tau
    start = 2.0 * float(tau)
    _warn(
        f"{neuron}: tau_learnable=True with tau={tau!r} is learn_tau=True, tau={start!r} in spikede: the "
        f"reference's learnable time constant tau * (1 + exp(p)) starts at p = 0, i.e. at {start!r}; "
        "spikede learns log(tau) instead, so the initial value is the same but the training steps are not"
    )
    return start, True


def neuron_arguments(
    neuron: str,
    given: Mapping[str, object],
    *,
    surrogate: Any,
    sharpness: Any,
    tau: Any,
    learn_tau: Any,
    has_tau: bool,
) -> tuple[Any, Any, Any, Any]:
    """Translate a neuron constructor's extra keyword arguments (the reference's names).

    Args:
        neuron: The neuron class name, for the messages.
        given: The keyword arguments the constructor did not know.
        surrogate: The ``surrogate`` argument as given.
        sharpness: The ``sharpness`` argument as given.
        tau: The ``tau`` argument as given (ignored when ``has_tau`` is false).
        learn_tau: The ``learn_tau`` argument as given.
        has_tau: Whether the neuron has a time constant.

    Returns:
        ``(surrogate, sharpness, tau, learn_tau)`` with the reference's names converted.

    Raises:
        TypeError: For a name spikede does not have (with what replaces it) or a bad type.
        ValueError: For a reference value without exact conversion, or a name given in
            both spellings.
    """
    if isinstance(surrogate, Real) and not isinstance(surrogate, bool):
        raise TypeError(
            f"{neuron}: surrogate={surrogate!r} is a number: the third positional argument of the "
            f"reference's {neuron} was surrogate_grad_scale, spikede's is surrogate (a name); pass "
            "surrogate_grad_scale= by keyword, or surrogate= and sharpness="
        )
    rest = dict(given)
    surrogate, sharpness = _surrogate(neuron, rest, surrogate, sharpness)
    tau, learn_tau = _learnable_tau(neuron, rest, tau, learn_tau, has_tau)
    for name, value in rest.items():
        if name == "tau" and not has_tau:
            raise TypeError(
                f"{neuron}: tau={value!r} has no conversion: {neuron} has no time constant in spikede "
                "(the reference's IFNeuron charged by input/tau); scale the weights of the layer feeding "
                "it by 1/tau (the charging then matches; the reset differs, see the migration guide)"
            )
        if name in _NO_ARGUMENT:
            raise TypeError(f"{neuron}: {name}={value!r} has no spikede conversion: {_NO_ARGUMENT[name]}")
        raise TypeError(f"{neuron}() got an unexpected keyword argument {name!r}")
    return surrogate, sharpness, tau, learn_tau


def _options(options: object, name: str) -> object:
    """``options`` without the reference's ``memory=-1`` (full history: spikede's default)."""
    if not (isinstance(options, Mapping) and "memory" in options):
        return options
    memory = options["memory"]
    if isinstance(memory, bool) or not isinstance(memory, int) or memory != -1:
        return options
    _warn(f"{name}['memory']=-1 (full history) is leaving 'memory' out in spikede")
    return {k: v for k, v in options.items() if k != "memory"}


def wrapper_arguments(integrator: object, alpha: object, options: object) -> tuple[object, object]:
    """Translate ``SNNWrapper``'s reference-only integrators; refuse the reference's argument order.

    ``integrator='odeint_adjoint'`` / ``'fdeint_adjoint'`` become ``'odeint'`` / ``'fdeint'``
    with ``options={'checkpoint': True}`` (spikede's memory-lean backward: the network is
    recomputed in backward instead of kept), and ``options={'memory': -1}`` (the reference's
    full history) loses the key, each with a ``DeprecationWarning``.

    Returns:
        ``(integrator, options)``.

    Raises:
        ValueError: For the reference's step-by-step integrators, or an adjoint integrator
            with ``options['checkpoint']`` set to something else than ``True``.
        TypeError: For a string ``alpha`` (the reference's third positional argument was
            ``interpolation_method``).
    """
    if isinstance(alpha, str):
        raise TypeError(
            f"alpha={alpha!r} is a string: the third positional argument of the reference's SNNWrapper "
            "was interpolation_method, spikede's is alpha; pass interpolation_method=, alpha= by keyword"
        )
    if isinstance(integrator, str) and integrator in _NO_INTEGRATOR:
        raise ValueError(
            f"integrator={integrator!r} (the reference's loop of neurons that return their next "
            f"membrane) has no spikede counterpart; use {_NO_INTEGRATOR[integrator]}, which on unit "
            "steps is the discrete-time loop of spikede's neurons"
        )
    options = _options(options, "options")
    if not (isinstance(integrator, str) and integrator in _WRAPPER_INTEGRATORS):
        return integrator, options
    new = _WRAPPER_INTEGRATORS[integrator]
    opts = dict(options) if isinstance(options, Mapping) else options
    if isinstance(opts, dict):
        if opts.get("checkpoint", True) is not True:
            raise ValueError(
                f"integrator={integrator!r} means integrator={new!r} with options['checkpoint']=True; "
                f"got options['checkpoint']={opts['checkpoint']!r}"
            )
        opts["checkpoint"] = True
    elif opts is None:
        opts = {"checkpoint": True}
    _warn(
        f"SNNWrapper: integrator={integrator!r} is integrator={new!r}, options={{'checkpoint': True}} in "
        "spikede: the memory-lean backward recomputes the network per step instead of storing it "
        "(exact gradients, unlike an adjoint solve); the output has one row per time step, where the "
        "reference's adjoint path returned one row, the head of the spikes the solver accumulated"
    )
    return new, opts


def forward_arguments(method: object, options: object) -> object:
    """``forward``'s ``options`` with the reference's ``memory=-1`` translated; a tensor
    ``method`` refused with the reason (the reference's ``forward(x, x_time, output_time)``).

    Returns:
        ``options``.

    Raises:
        TypeError: If ``method`` is a tensor.
    """
    if isinstance(method, torch.Tensor):
        raise TypeError(
            "method is a tensor: the third positional argument of the reference's forward was "
            "output_time, spikede's is method; pass output_time= by keyword (the reference ignored "
            "it; spikede returns one output row per output_time)"
        )
    return _options(options, "options")
