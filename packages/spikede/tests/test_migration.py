"""Moving code from the public spikeDE reference: the ``spikeDE`` import name, its argument
names (each warns with the exact conversion and equals the new spelling), the names that
have no conversion (clear errors) and the shape errors of the first dry run.

The surrogate oracles are the reference's pseudo-derivatives written out here from their
definitions: sigmoid ``s sig(s x)(1 - sig(s x))``, arctangent
``(s/2) / (1 + (pi s x / 2)^2)``, Gaussian ``exp(-x^2 / (2 s^2)) / (s sqrt(2 pi))``.
"""

from __future__ import annotations

import importlib
import math
import re
import warnings

import pytest
import torch
from torch import nn

import spikede
from spikede import (
    ArctanSurrogate,
    GaussianSurrogate,
    HardResetIFNeuron,
    HardResetLIFNeuron,
    IFNeuron,
    LIFNeuron,
    NoisyLIFNeuron,
    SigmoidSurrogate,
    SNNWrapper,
)

# --------------------------------------------------------------------------- import name


def test_spikeDE_reexports_the_same_objects():
    spikeDE = importlib.import_module("spikeDE")
    assert spikeDE.__all__ == spikede.__all__
    for name in spikede.__all__:
        assert getattr(spikeDE, name) is getattr(spikede, name), name
    from spikeDE import LIFNeuron as L
    from spikeDE import SNNWrapper as W

    assert W is SNNWrapper and L is LIFNeuron


def test_spikeDE_submodules_are_the_same_modules():
    import spikeDE.neuron
    import spikeDE.plot
    from spikeDE.layer import ClassificationHead
    from spikeDE.neuron import BaseNeuron
    from spikeDE.odefunc import ODEFuncFromFX

    import spikede_fx

    assert spikeDE.plot is spikede.plot and spikeDE.neuron is spikede
    assert BaseNeuron is spikede.BaseNeuron and ClassificationHead is spikede.ClassificationHead
    assert ODEFuncFromFX is spikede_fx.ODEFuncFromFX
    pytest.importorskip("nir")
    import spikeDE.nir

    assert spikeDE.nir is spikede.nir


def test_spikeDE_removed_and_unknown_names():
    spikeDE = importlib.import_module("spikeDE")
    with pytest.raises(ImportError, match=r"spikeDE.LIFNeuronFDE was removed: .*integrator='fdeint', alpha=beta"):
        from spikeDE import LIFNeuronFDE  # noqa: F401
    with pytest.raises(ImportError, match="LIFNeuron_OrderOne was removed"):
        spikeDE.LIFNeuron_OrderOne  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        spikeDE.nothing  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("spikeDE.solver")


# --------------------------------------------------------------------------- surrogates


def _reference_derivative(family: str, s: float, x: torch.Tensor) -> torch.Tensor:
    if family == "sigmoid_surrogate":
        z = torch.sigmoid(s * x)
        return s * z * (1 - z)
    if family == "arctan_surrogate":
        return (s / 2) / (1 + (math.pi / 2 * s * x) ** 2)
    return torch.exp(-(x**2) / (2 * s**2)) / (s * math.sqrt(2 * math.pi))


FAMILIES = {
    "sigmoid_surrogate": (SigmoidSurrogate, "sigmoid", lambda s: s / 4),
    "arctan_surrogate": (ArctanSurrogate, "arctan", lambda s: s / 2),
    "gaussian_surrogate": (GaussianSurrogate, "gaussian", lambda s: 1 / (s * math.sqrt(2 * math.pi))),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("scale", [0.3, 2.0, 5.0])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_surrogate_names_convert_to_the_same_pseudo_derivative(family, scale, dtype):
    cls, name, to_k = FAMILIES[family]
    k = to_k(scale)
    message = f"surrogate_opt='{family}', surrogate_grad_scale={scale!r} is surrogate='{name}', sharpness={k!r}"
    with pytest.warns(DeprecationWarning, match=re.escape(message)):
        neuron = LIFNeuron(surrogate_opt=family, surrogate_grad_scale=scale)
    assert type(neuron.surrogate) is cls and neuron.surrogate.sharpness == k
    x = torch.linspace(-3.0, 3.0, 601, dtype=dtype, requires_grad=True)
    neuron.surrogate(x).sum().backward()
    tol = {"rtol": 1e-12, "atol": 1e-14} if dtype == torch.float64 else {"rtol": 2e-6, "atol": 1e-7}
    torch.testing.assert_close(x.grad, _reference_derivative(family, scale, x.detach()), **tol)


def test_reference_defaults_fill_the_missing_half():
    with pytest.warns(DeprecationWarning, match=r"default surrogate_opt='arctan_surrogate'\) is surrogate='arctan', sharpness=0.15"):
        assert LIFNeuron(surrogate_grad_scale=0.3).surrogate.sharpness == 0.15
    with pytest.warns(DeprecationWarning, match=r"default surrogate_grad_scale=5.0\) is surrogate='sigmoid', sharpness=1.25"):
        neuron = IFNeuron(surrogate_opt="sigmoid_surrogate")
    assert type(neuron.surrogate) is SigmoidSurrogate and neuron.surrogate.sharpness == 1.25


def _run(neuron: nn.Module, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    current = current.clone().requires_grad_(True)
    v = torch.zeros_like(current[0])
    spikes = []
    for n in range(current.shape[0]):
        dv, s = neuron(v, current[n], 1.0)
        v = v + dv
        spikes.append(s)
    spikes = torch.stack(spikes)
    (spikes * torch.linspace(-1, 1, spikes.shape[0])[:, None]).sum().backward()
    return spikes.detach(), current.grad


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (lambda: LIFNeuron(tau=2.0, surrogate_grad_scale=5.0), lambda: LIFNeuron(tau=2.0, surrogate="arctan", sharpness=2.5)),
        (lambda: IFNeuron(surrogate_opt="gaussian_surrogate", surrogate_grad_scale=0.5),
         lambda: IFNeuron(surrogate="gaussian", sharpness=1 / (0.5 * math.sqrt(2 * math.pi)))),
        (lambda: HardResetLIFNeuron(surrogate_opt="sigmoid_surrogate", surrogate_grad_scale=8.0),
         lambda: HardResetLIFNeuron(surrogate="sigmoid", sharpness=2.0)),
        (lambda: HardResetIFNeuron(surrogate_grad_scale=1.0), lambda: HardResetIFNeuron(surrogate="arctan", sharpness=0.5)),
        (lambda: NoisyLIFNeuron(surrogate_grad_scale=3.0).eval(), lambda: NoisyLIFNeuron(surrogate="arctan", sharpness=1.5).eval()),
        (lambda: LIFNeuron(tau=0.8, tau_learnable=True), lambda: LIFNeuron(tau=1.6, learn_tau=True)),
        (lambda: LIFNeuron(tau=3.0, tau_learnable=False), lambda: LIFNeuron(tau=3.0)),
    ],
)
def test_old_spelling_equals_new_spelling(old, new):
    with pytest.warns(DeprecationWarning, match="the reference spikeDE's spelling"):
        a = old()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = new()
    current = 0.3 + 1.5 * torch.rand(25, 16, generator=torch.Generator().manual_seed(1))
    spikes_a, grad_a = _run(a, current)
    spikes_b, grad_b = _run(b, current)
    assert 0.05 < spikes_a.mean().item() < 0.95
    torch.testing.assert_close(spikes_a, spikes_b, rtol=0, atol=0)
    torch.testing.assert_close(grad_a, grad_b)
    assert [n for n, _ in a.named_parameters()] == [n for n, _ in b.named_parameters()]


def test_tau_learnable_states_the_doubled_start():
    message = "tau_learnable=True with tau=0.5 is learn_tau=True, tau=1.0 in spikede"
    with pytest.warns(DeprecationWarning, match=re.escape(message)):
        neuron = LIFNeuron(tau=0.5, tau_learnable=True)
    assert neuron.learn_tau and neuron.tau.item() == pytest.approx(1.0)
    with pytest.warns(DeprecationWarning, match=re.escape("tau_learnable=False is learn_tau=False")):
        assert not LIFNeuron(tau_learnable=False).learn_tau


def test_the_warning_points_at_the_callers_line():
    with pytest.warns(DeprecationWarning) as caught:
        HardResetLIFNeuron(surrogate_grad_scale=2.0)
    assert caught[0].filename == __file__


@pytest.mark.parametrize(
    ("make", "error", "fragment"),
    [
        (lambda: LIFNeuron(surrogate_opt="piecewise_linear_surrogate"), ValueError,
         "surrogate_opt='piecewise_linear_surrogate' has no exact spikede conversion"),
        (lambda: LIFNeuron(surrogate_opt="relu"), ValueError, "surrogate_opt='relu' is not a surrogate of the reference"),
        (lambda: LIFNeuron(surrogate_grad_scale=-1.0), ValueError, "surrogate_grad_scale must be a finite number > 0"),
        (lambda: LIFNeuron(surrogate_grad_scale="5"), TypeError, "surrogate_grad_scale must be a positive real number"),
        (lambda: LIFNeuron(surrogate="triangle", surrogate_grad_scale=5.0), ValueError, "not both"),
        (lambda: LIFNeuron(sharpness=2.0, surrogate_opt="arctan_surrogate"), ValueError, "not both"),
        (lambda: LIFNeuron(learn_tau=True, tau_learnable=True), ValueError, "give only learn_tau"),
        (lambda: LIFNeuron(tau_learnable="yes"), TypeError, "tau_learnable must be True or False"),
        (lambda: IFNeuron(tau_learnable=True), TypeError, "IFNeuron: tau_learnable=True has no conversion"),
        (lambda: IFNeuron(tau=0.5), TypeError, "IFNeuron: tau=0.5 has no conversion"),
        (lambda: HardResetLIFNeuron(reset_strength=50.0), TypeError, "reset_strength=50.0 has no spikede conversion"),
        (lambda: NoisyLIFNeuron(gamma=0.2), TypeError, "gamma=0.2 has no spikede conversion"),
        (lambda: LIFNeuron(beta=0.5), TypeError, "beta=0.5 has no spikede conversion"),
        (lambda: LIFNeuron(2.0, 1.0, 0.3), TypeError, "surrogate=0.3 is a number"),
        (lambda: LIFNeuron(spam=1), TypeError, "unexpected keyword argument 'spam'"),
    ],
)
def test_names_without_conversion_raise(make, error, fragment):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(error, match=re.escape(fragment)):
            make()


# --------------------------------------------------------------------------- wrapper


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 12), LIFNeuron(), nn.Linear(12, 3))


@pytest.mark.parametrize(("old", "new", "kw"), [("odeint_adjoint", "odeint", {}), ("fdeint_adjoint", "fdeint", {"alpha": 0.6})])
def test_adjoint_integrators_are_the_checkpointed_backward(old, new, kw):
    message = f"integrator='{old}' is integrator='{new}', options={{'checkpoint': True}}"
    with pytest.warns(DeprecationWarning, match=re.escape(message)):
        a = SNNWrapper(_model(), integrator=old, **kw)
    b = SNNWrapper(_model(), integrator=new, options={"checkpoint": True}, **kw)
    assert a.integrator == new and a.options == b.options == {"checkpoint": True}
    x = 4.0 * torch.rand(20, 5, 6, generator=torch.Generator().manual_seed(2))
    out_a, rec = a(x, record=True)
    assert 0.05 < rec.firing_rates()["1"] < 0.95
    out_b = b(x)
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)
    out_a.square().sum().backward()
    out_b.square().sum().backward()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad)


def test_full_history_memory_minus_one_is_leaving_memory_out():
    x = 4.0 * torch.rand(12, 3, 6, generator=torch.Generator().manual_seed(4))
    plain = SNNWrapper(_model(), alpha=0.6)
    expected, rec = plain(x, record=True)
    assert 0.05 < rec.firing_rates()["1"] < 0.95
    message = "options['memory']=-1 (full history) is leaving 'memory' out in spikede"
    with pytest.warns(DeprecationWarning, match=re.escape(message)):
        built = SNNWrapper(_model(), alpha=0.6, options={"memory": -1})
    assert built.options == {}
    torch.testing.assert_close(built(x), expected, rtol=0, atol=0)
    with pytest.warns(DeprecationWarning, match=re.escape(message)) as caught:
        per_call = plain(x, options={"memory": -1})  # through nn.Module.__call__
    assert caught[0].filename == __file__
    torch.testing.assert_close(per_call, expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match=re.escape("options['memory'] must be an int >= 1")):
        SNNWrapper(_model(), options={"memory": -2})


@pytest.mark.parametrize(
    ("make", "error", "fragment"),
    [
        (lambda: SNNWrapper(_model(), integrator="fdeint_mem"), ValueError, "integrator='fdeint_mem'"),
        (lambda: SNNWrapper(_model(), integrator="odeint_mem"), ValueError, "use integrator='odeint' with method='euler'"),
        (lambda: SNNWrapper(_model(), integrator="odeint_adjoint", options={"checkpoint": False}), ValueError,
         "got options['checkpoint']=False"),
        (lambda: SNNWrapper(_model(), "fdeint", "linear", 0.5), TypeError, "alpha='linear' is a string"),
        (lambda: SNNWrapper(_model())(torch.rand(5, 2, 6), torch.arange(5.0), torch.arange(6.0)), TypeError,
         "method is a tensor"),
    ],
)
def test_wrapper_reference_forms_without_conversion_raise(make, error, fragment):
    with pytest.raises(error, match=re.escape(fragment)):
        make()


# --------------------------------------------------------------------------- shape errors


class _QuickStart(nn.Module):
    """The reference tutorial's quick-start pattern: Conv2d -> neuron -> Linear, no flatten."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3)
        self.neuron = LIFNeuron(tau=2.0)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.neuron(self.conv(x)))


def test_linear_after_a_convolution_says_flatten():
    snn = SNNWrapper(_QuickStart(), alpha=0.8, method="gl")
    with pytest.raises(ValueError) as info:
        snn(torch.randn(4, 2, 3, 12, 12))
    text = str(info.value)
    assert "layer 'fc' (Linear(in_features=16" in text
    assert "received an input of shape (2, 16, 10, 10)" in text
    assert "expects [..., 16]" in text
    assert "add nn.Flatten()" in text and "so set in_features=1600" in text
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(ValueError, match="add nn.Flatten"):  # the reference's explicit call too
        snn._set_neuron_shapes((1, 3, 12, 12))


def test_flatten_hint_when_the_feature_count_already_fits():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), LIFNeuron(), nn.Linear(2 * 4 * 4, 3))
    with pytest.raises(ValueError, match="one sample has 32 features, exactly in_features"):
        SNNWrapper(model)(torch.rand(4, 2, 1, 6, 6))


def test_plain_linear_and_conv_mismatches_name_the_layer():
    mlp = nn.Sequential(nn.Linear(3, 4), LIFNeuron(), nn.Linear(4, 2))
    with pytest.raises(ValueError) as info:
        SNNWrapper(mlp)(torch.rand(5, 2, 7))
    text = str(info.value)
    assert "layer '0' (Linear(in_features=3" in text and "shape (2, 7)" in text and "expects [..., 3]" in text
    assert "Flatten" not in text
    conv = nn.Sequential(nn.Conv2d(2, 4, 3), LIFNeuron())
    with pytest.raises(ValueError, match=r"layer '0' .* expects \[B, C, H, W\] with C = in_channels = 2"):
        SNNWrapper(conv)(torch.rand(5, 2, 3, 8, 8))


def test_a_failure_that_is_not_a_shape_error_is_left_alone():
    # An embedding fed floats fails for its dtype, not a shape: PyTorch's own error stays.
    model = nn.Sequential(nn.Linear(3, 3), LIFNeuron(), nn.Embedding(4, 2))
    with pytest.raises(RuntimeError, match="indices"):
        SNNWrapper(model)(torch.rand(4, 2, 3))


def test_spikeDE_module_doctest():
    import doctest

    spikeDE = importlib.import_module("spikeDE")
    assert doctest.testmod(spikeDE).failed == 0
