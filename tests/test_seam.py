"""The seam between wrapper, field and solver: per-call data travels as arguments.

Each test pins one defect of the former side-channel design (a per-thread input cache,
``dt`` written into the user's neurons, storage-pointer lookups of grid times).
"""

from __future__ import annotations

import copy
import threading

import pytest
import torch
from torch import nn

from spikede import IFNeuron, LIFNeuron, SNNWrapper

F64 = torch.float64


def _mlp() -> nn.Module:
    """Positive weights, so that with inputs ~U(0, 3) both layers fire on part of the steps."""
    net = nn.Sequential(nn.Linear(3, 6), LIFNeuron(tau=2.0), nn.Linear(6, 2), LIFNeuron(tau=2.0))
    with torch.no_grad():
        net[0].weight.uniform_(0.1, 0.6)
        net[2].weight.uniform_(0.5, 1.0)
        net[0].bias.zero_()
        net[2].bias.zero_()
    return net


def test_two_wrappers_on_one_model_run_concurrently_like_sequentially() -> None:
    torch.manual_seed(0)
    model = _mlp().double()
    a = SNNWrapper(model, integrator="odeint", options={"step_size": 0.5})
    b = SNNWrapper(model, integrator="fdeint", alpha=0.7)
    x = 3.0 * torch.rand(40, 4, 3, dtype=F64)
    expected = [a(x), b(x)]
    assert 0.05 < float(expected[0].mean()) < 0.95 and 0.05 < float(expected[1].mean()) < 0.95
    results: list[list[torch.Tensor]] = [[], []]
    errors: list[BaseException] = []

    def run(i: int, snn: SNNWrapper) -> None:
        try:
            for _ in range(6):
                results[i].append(snn(x))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate((a, b))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for i in range(2):
        assert all(torch.equal(r, expected[i]) for r in results[i])


def test_a_call_never_changes_the_users_model() -> None:
    torch.manual_seed(0)
    model = _mlp()
    before = copy.deepcopy(model.state_dict())
    dts = [m.dt for m in model.modules() if isinstance(m, LIFNeuron)]
    x = 3.0 * torch.rand(12, 2, 3)
    plain = [model(x[k]) for k in range(12)]
    for m in model.modules():
        if isinstance(m, LIFNeuron):
            m.reset_state()
    snn = SNNWrapper(model, integrator="odeint", options={"step_size": 0.25})
    snn(x, options={"step_size": 0.5})
    assert [m.dt for m in model.modules() if isinstance(m, LIFNeuron)] == dts == [1.0, 1.0]
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    again = [model(x[k]) for k in range(12)]  # the plain discrete SNN runs as before
    assert all(torch.equal(p, q) for p, q in zip(plain, again))


def _attributes(model: nn.Module) -> dict:
    """Every module's own attributes (not its tensors, which state_dict compares), hooks included."""
    caches = {"_constants_cache"}  # a per-dtype constants cache that threads share (no state)
    out = {}
    for name, m in model.named_modules():
        for key, value in vars(m).items():
            if key in caches or key in ("_parameters", "_buffers", "_modules"):
                continue
            out[(name, key)] = repr(value) if not isinstance(value, (int, float, bool, str, type(None))) else value
    return out


@pytest.mark.parametrize(
    "build,call",
    [
        ({"integrator": "odeint", "method": "dopri5", "options": {"rtol": 1e-6, "atol": 1e-8}}, {"record": True}),
        ({"integrator": "fdeint", "alpha": 0.6, "options": {"history": "soe"}}, {"return_state": True}),
        ({"integrator": "fdeint", "alpha": [0.5, 0.8], "learn_alpha": True}, {"record": True}),
        ({"integrator": "odeint_adjoint"}, {}),  # the reference library's name, converted
    ],
    ids=["adaptive-events", "soe-state", "per-layer-learnable", "reference-name"],
)
def test_no_call_changes_the_users_model(build: dict, call: dict) -> None:
    torch.manual_seed(0)
    model = _mlp().double()
    x = 3.0 * torch.rand(12, 2, 3, dtype=F64)
    before = copy.deepcopy(model.state_dict())
    plain = [model(x[k]) for k in range(12)]
    for m in model.modules():
        if isinstance(m, LIFNeuron):
            m.reset_state()
    before_run = _attributes(model)
    with pytest.warns(DeprecationWarning) if build["integrator"] == "odeint_adjoint" else _no_warning():
        snn = SNNWrapper(model, **build)
    result = snn(x, **call)
    out = result[0] if isinstance(result, tuple) else result
    out.sum().backward()  # training touches only gradients of the user's parameters
    rate = float((out > 0).to(F64).mean())
    assert 0.05 < rate < 0.95, rate
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert _attributes(model) == before_run
    for m in model.modules():
        if isinstance(m, LIFNeuron):
            m.reset_state()
    model.zero_grad(set_to_none=True)
    again = [model(x[k]) for k in range(12)]  # the plain discrete SNN runs as before
    assert all(torch.equal(p, q) for p, q in zip(plain, again))


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_each_step_of_a_non_uniform_odeint_grid_has_its_own_h() -> None:
    """IF neuron, input 0.8, threshold 1: membranes of the per-step Euler loop."""
    lin = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(1.0)
    snn = SNNWrapper(nn.Sequential(lin, IFNeuron(threshold=1.0)).double(), integrator="odeint")
    x = torch.full((5, 1, 1), 0.8, dtype=F64)
    x_time = torch.tensor([0.0, 1.0, 3.0, 4.0, 6.0], dtype=F64)
    _, (v,) = snn(x, x_time, return_states=True)
    # hand loop: u = v + h I, s = [u >= 1], v <- u - s
    expected, vv = [0.0], 0.0
    for h in (1.0, 2.0, 1.0, 2.0):
        u = vv + h * 0.8
        vv = u - float(u >= 1.0)
        expected.append(vv)
    assert expected == pytest.approx([0.0, 0.8, 1.4, 1.2, 1.8])
    torch.testing.assert_close(v[:, 0, 0], torch.tensor(expected, dtype=F64))


def test_float32_grid_far_from_zero_resets_by_one_threshold() -> None:
    """Steps of 0.001 at t = 1000 in float32: the solver's and the neuron's h agree."""
    lin = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(1.0)
    snn = SNNWrapper(nn.Sequential(lin, IFNeuron(threshold=1.0)), integrator="odeint")
    T = 60
    x_time = 1000.0 + 0.001 * torch.arange(T, dtype=torch.float32)
    x = torch.full((T, 1, 1), 150.0)
    out, (v,) = snn(x, x_time, return_states=True)
    assert 0.05 < float(out.mean()) < 0.95
    steps = (x_time[1:] - x_time[:-1]).tolist()  # the float32 grid's own steps
    vv, expected = 0.0, [0.0]
    for h in steps:
        u = vv + h * 150.0
        vv = u - float(u >= 1.0)
        expected.append(vv)
    torch.testing.assert_close(v[:, 0, 0], torch.tensor(expected), atol=1e-4, rtol=0)


class _Masked(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.lif = LIFNeuron()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.lif(self.fc(x).unsqueeze(1) * mask.unsqueeze(-1))  # [B, M, 4]


def test_model_args_whose_shape_changes_between_calls() -> None:
    snn = SNNWrapper(_Masked(), integrator="odeint")
    x = 2.0 * torch.rand(6, 2, 3)
    assert snn(x, model_args=(torch.ones(2, 5),)).shape == (6, 2, 5, 4)
    assert snn(x, model_args=(torch.ones(2, 7),)).shape == (6, 2, 7, 4)


def test_compiled_field_has_no_graph_break() -> None:
    torch._dynamo.reset()
    snn = SNNWrapper(_mlp(), integrator="odeint")
    v = (torch.zeros(2, 6), torch.zeros(2, 2))
    explained = torch._dynamo.explain(snn.odefunc.network.ode.forward)(*v, torch.rand(2, 3), 0.5)
    assert explained.graph_break_count == 0, explained.break_reasons


def test_compiled_wrapper_equals_eager() -> None:
    torch.manual_seed(0)
    model = _mlp()
    x = 3.0 * torch.rand(10, 2, 3)
    eager = SNNWrapper(model, integrator="odeint")(x)
    compiled = SNNWrapper(model, integrator="odeint", compile=True)(x)
    torch.testing.assert_close(compiled, eager)


def test_a_registered_method_works_in_the_wrapper() -> None:
    from spikede_solvers import SOLVERS, register_method

    register_method("euler_copy", SOLVERS["euler"])
    try:
        x = 3.0 * torch.rand(8, 2, 3)
        model = _mlp()
        a = SNNWrapper(model, integrator="odeint", method="euler_copy")(x)
        b = SNNWrapper(model, integrator="odeint")(x)
        assert torch.equal(a, b)
    finally:
        del SOLVERS["euler_copy"]


def test_unknown_option_is_refused_at_construction_with_the_closest_name() -> None:
    with pytest.raises(ValueError, match="did you mean 'history'"):
        SNNWrapper(_mlp(), options={"histroy": "soe"})


def test_numpy_scalars_are_accepted_as_options() -> None:
    np = pytest.importorskip("numpy")
    snn = SNNWrapper(_mlp(), options={"memory": np.int64(4), "step_size": np.float32(0.5)})
    assert snn(torch.rand(5, 2, 3)).shape == (9, 2, 2)


def test_vector_field_is_usable_by_an_external_solver() -> None:
    """``vector_field`` gives ``(t, v) -> dv`` only: an external Euler loop matches odeint."""
    torch.manual_seed(0)
    model = _mlp().double()
    snn = SNNWrapper(model, integrator="odeint")
    x = 3.0 * torch.rand(8, 2, 3, dtype=F64)
    _, states = snn(x, return_states=True)
    f = snn.odefunc.vector_field(x, torch.arange(8, dtype=F64), dt=1.0)
    v = (torch.zeros(2, 6, dtype=F64), torch.zeros(2, 2, dtype=F64))
    for n in range(7):
        dv = f(torch.tensor(float(n), dtype=F64), v)
        assert len(dv) == 2
        v = tuple(a + b for a, b in zip(v, dv))
    torch.testing.assert_close(v[0], states[0][-1])
    torch.testing.assert_close(v[1], states[1][-1])


def test_non_uniform_x_time_works_with_l1_trap_pred_and_gl_says_what_to_do() -> None:
    model = _mlp()
    x_time = torch.tensor([0.0, 1.0, 3.0, 4.0, 6.0])
    x = 3.0 * torch.rand(5, 2, 3)
    for method in ("l1", "trap", "pred"):
        assert SNNWrapper(model, method=method, alpha=0.7)(x, x_time).shape == (5, 2, 2)
    with pytest.raises(ValueError, match=r"x_time is not uniformly spaced .*step_size.*'l1'"):
        SNNWrapper(model, alpha=0.7)(x, x_time)
    assert SNNWrapper(model, alpha=0.7)(x, x_time, options={"step_size": 0.5}).shape == (13, 2, 2)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_step_size_grid_keeps_the_last_sample(dtype: torch.dtype) -> None:
    """x_time = arange(8) * 0.1: 8 rows at h = 0.1 and 15 at h = 0.05, in either dtype."""
    snn = SNNWrapper(_mlp().to(dtype), integrator="odeint")
    x = 3.0 * torch.rand(8, 2, 3, dtype=dtype)
    x_time = torch.arange(8, dtype=dtype) * 0.1
    assert snn(x, x_time, options={"step_size": 0.1}).shape[0] == 8
    assert snn(x, x_time, options={"step_size": 0.05}).shape[0] == 15


def test_a_silent_layer_in_training_warns_once_naming_it() -> None:
    """x_time on [0, 1] with tau = 2: the reference's habit, under which nothing fires."""
    snn = SNNWrapper(_mlp(), alpha=0.7).train()
    x = 0.5 * torch.rand(20, 2, 3)
    x_time = torch.linspace(0.0, 1.0, 20)
    with pytest.warns(RuntimeWarning, match=r"'1' \(h=0.05263, tau=2\).*units of x_time"):
        snn(x, x_time)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        snn(x, x_time)  # once per wrapper
        SNNWrapper(_mlp(), alpha=0.7).eval()(x, x_time)  # never in eval mode
        SNNWrapper(_mlp(), alpha=0.7).train()(3.0 * torch.rand(20, 2, 3))  # firing: no warning
