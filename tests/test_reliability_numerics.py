"""dtype/device handling, absence of hidden state, thread safety and determinism of SNNWrapper."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from spikede import LIFNeuron, SNNWrapper
from spikede_fx import ODEFuncFromFX
from spikede_solvers import snn_solve


def _net() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(3, 6), LIFNeuron(tau=2.0, threshold=0.3), nn.Linear(6, 4), LIFNeuron(threshold=0.3), nn.Linear(4, 2)
    )


def _cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        LIFNeuron(threshold=0.2),
        nn.Flatten(),
        nn.Linear(3 * 4 * 4, 5),
        nn.BatchNorm1d(5),
        nn.Linear(5, 2),
    )


# ----------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("integrator,method", [("fdeint", "gl"), ("fdeint", "trap"), ("odeint", "rk4")])
def test_float64_end_to_end(integrator: str, method: str) -> None:
    torch.manual_seed(0)
    kwargs = {"alpha": 0.6, "learn_alpha": True} if integrator == "fdeint" else {}
    snn = SNNWrapper(_net(), integrator=integrator, method=method, **kwargs).double()
    x = torch.rand(7, 3, 3, dtype=torch.float64)
    out, states = snn(x, return_states=True)
    assert out.dtype == torch.float64
    assert all(s.dtype == torch.float64 for s in states)
    out.sum().backward()
    assert all(p.grad is None or p.grad.dtype == torch.float64 for p in snn.parameters())
    # float32 copy of the same weights gives the same result to float32 accuracy
    snn32 = SNNWrapper(_net(), integrator=integrator, method=method, **kwargs)
    snn32.load_state_dict({k: v.float() for k, v in snn.state_dict().items()})
    _, states32 = snn32(x.float(), return_states=True)
    assert states32[0].dtype == torch.float32
    assert torch.allclose(states32[0].double(), states[0], atol=1e-4)


def test_float64_x_on_float32_model_raises() -> None:
    snn = SNNWrapper(_net())
    with pytest.raises(TypeError, match="dtype torch.float64 but the model's parameters have dtype torch.float32"):
        snn(torch.rand(5, 2, 3, dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_cpu_runs_and_states_keep_input_dtype(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    snn = SNNWrapper(_net(), alpha=0.7)
    x = torch.rand(6, 4, 3)
    _, ref_states = snn(x, return_states=True)
    seen: list[torch.dtype] = []
    hook = snn.model[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    with torch.autocast("cpu", dtype=dtype):
        out, states = snn(x, return_states=True)
    hook.remove()
    assert dtype in seen  # the ODE part's Linear ran in reduced precision
    assert states[0].dtype == torch.float32  # states follow the input dtype
    assert torch.isfinite(out).all()
    tol = 0.1 if dtype == torch.bfloat16 else 0.02
    assert (states[0] - ref_states[0]).abs().max() < tol


def test_bfloat16_model_and_input() -> None:
    torch.manual_seed(0)
    snn = SNNWrapper(_net(), alpha=0.7)
    x = torch.rand(6, 4, 3)
    ref = snn(x)
    out, states = snn.to(torch.bfloat16)(x.to(torch.bfloat16), return_states=True)
    assert out.dtype == torch.bfloat16 and states[0].dtype == torch.bfloat16
    close = ((out.float() - ref).abs() < 0.02).float().mean()
    assert close > 0.6  # bf16 rounding flips some spikes near the threshold (79% close here)


def test_to_moves_parameters_buffers_and_graphs() -> None:
    torch.manual_seed(0)
    snn = SNNWrapper(_cnn(), alpha=[0.5], alpha_mode="per_layer", learn_alpha=True).eval()
    x = torch.rand(5, 2, 1, 4, 4)
    ref = snn(x)
    moved = snn.to(device="cpu", dtype=torch.float64)
    assert moved is snn
    for gm in (snn.odefunc.ode_gm, snn.odefunc.post_neuron_module):
        shared = {id(t) for t in snn.state_dict(keep_vars=True).values()}
        for t in list(gm.parameters()) + list(gm.buffers()):
            assert id(t) in shared  # the graphs use the wrapper's own tensors
            assert t.dtype == torch.float64 or t.dtype == torch.int64  # num_batches_tracked stays int
    out = snn(x.double())
    assert out.dtype == torch.float64
    assert torch.allclose(out.float(), ref, atol=1e-5)


# ----------------------------------------------------------------------------- hidden state
def test_repeated_and_interleaved_calls_are_identical() -> None:
    torch.manual_seed(0)
    snn = SNNWrapper(_cnn(), alpha=0.6, method="l1").eval()
    x = torch.rand(5, 3, 1, 4, 4)
    other = torch.rand(9, 7, 1, 4, 4)
    with torch.no_grad():
        first = snn(x)
        second = snn(x)
        snn(other, options={"step_size": 0.5})
        third = snn(x)
    assert torch.equal(first, second) and torch.equal(first, third)


def test_training_mode_batchnorm_state_changes_only_running_stats() -> None:
    torch.manual_seed(0)
    snn = SNNWrapper(_cnn(), alpha=0.6).train()
    x = torch.rand(4, 3, 1, 4, 4)
    params = {k: v.clone() for k, v in snn.named_parameters()}
    snn(x)
    assert all(torch.equal(v, params[k]) for k, v in snn.named_parameters())


def test_nfe_counter_is_cumulative_and_per_solve_count_matches() -> None:
    torch.manual_seed(0)
    snn = SNNWrapper(_net(), alpha=0.6, method="trap", options={"corrector_steps": 2})
    x = torch.rand(6, 2, 3)
    snn.odefunc.reset_nfe()
    snn(x)
    n1 = snn.odefunc.nfe
    snn(x)
    assert snn.odefunc.nfe == 2 * n1
    # per-solve count from the solver equals the counter's increment
    func = ODEFuncFromFX(_net())
    func.set_inputs(x, torch.arange(6.0))
    v0 = tuple(torch.zeros(s) for s in func.infer_state_shapes(x[0]))
    sol = snn_solve(func, v0, torch.arange(6.0), method="trap", alpha=0.6, options={"corrector_steps": 2})
    assert sol.nfe == func.nfe == n1
    # trap with 2 corrector steps: one evaluation at each of the 6 points plus 2 per step
    assert n1 == 6 + 2 * 5


# ----------------------------------------------------------------------------- threads
def test_two_threads_with_different_inputs_match_sequential_calls() -> None:
    torch.manual_seed(0)
    snn = SNNWrapper(_net(), alpha=0.6)
    xa, xb = torch.rand(30, 5, 3), torch.rand(40, 2, 3)
    calls = [(xa, {}), (xb, {"options": {"step_size": 0.5}})]
    with torch.no_grad():
        expected = [snn(x, **kw) for x, kw in calls]
    results: dict[int, list[torch.Tensor]] = {0: [], 1: []}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(i: int) -> None:
        try:
            barrier.wait()
            x, kw = calls[i]
            with torch.no_grad():
                for _ in range(4):
                    results[i].append(snn(x, **kw))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for i in range(2):
        assert len(results[i]) == 4
        assert all(torch.equal(r, expected[i]) for r in results[i])


# ----------------------------------------------------------------------------- determinism
def _train_once(seed: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    torch.manual_seed(seed)
    snn = SNNWrapper(_cnn(), alpha=0.6, learn_alpha=True, method="pred")
    opt = torch.optim.SGD(snn.parameters(), lr=0.1)
    x = torch.rand(5, 4, 1, 4, 4)
    y = torch.randint(0, 2, (4,))
    for _ in range(2):
        opt.zero_grad()
        out = snn(x)
        loss = nn.functional.cross_entropy(out.mean(0), y)
        loss.backward()
        opt.step()
    return loss.detach(), [p.detach().clone() for p in snn.parameters()]


def test_deterministic_under_manual_seed_and_deterministic_algorithms() -> None:
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        l1, p1 = _train_once(3)
        l2, p2 = _train_once(3)
        l3, _ = _train_once(4)
    finally:
        torch.use_deterministic_algorithms(previous)
    assert torch.equal(l1, l2)
    assert all(torch.equal(a, b) for a, b in zip(p1, p2))
    assert not torch.equal(l1, l3)  # the seed matters, so the check above can fail


# ----------------------------------------------------------------------------- module replacement
def test_sync_batchnorm_conversion_is_seen_by_both_graphs() -> None:
    torch.manual_seed(0)
    snn = SNNWrapper(_cnn(), alpha=0.6).eval()
    x = torch.rand(4, 2, 1, 4, 4)
    with torch.no_grad():
        ref = snn(x)
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(snn)
    assert converted is snn
    calls: list[str] = []
    for name, m in snn.model.named_modules():
        if isinstance(m, nn.SyncBatchNorm):
            m.register_forward_hook(lambda mod, i, o, name=name: calls.append(name))
    with torch.no_grad():
        out = snn(x)  # eval mode: SyncBatchNorm uses running statistics, no process group
    assert torch.equal(out, ref)
    assert set(calls) == {"1", "5"}  # the ODE part's and the post part's BatchNorm
    ode_bn = snn.odefunc.ode_gm.get_submodule("model.1")
    post_bn = snn.odefunc.post_neuron_module.get_submodule("model.5")
    assert ode_bn is snn.model[1] and post_bn is snn.model[5]
    assert sum(isinstance(m, nn.SyncBatchNorm) for m in snn.modules()) == 2
    n_params = len(list(snn.parameters()))
    assert n_params == len({id(p) for p in snn.parameters()})
