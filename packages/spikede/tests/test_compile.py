"""compile=True: same results as eager, compiled once and reused across calls."""

import copy

import pytest
import torch
from torch import nn

from spikede import LIFNeuron, SNNWrapper


def _firing_model() -> nn.Sequential:
    """Linear-LIF-Linear-LIF with excitatory weights: on ``3 * rand`` inputs both layers
    fire (about 50% and 25% of steps), so equal outputs are not equal silences."""
    model = nn.Sequential(nn.Linear(4, 8), LIFNeuron(), nn.Linear(8, 3), LIFNeuron())
    with torch.no_grad():
        model[0].weight.abs_()
        model[0].bias.fill_(0.2)
        model[2].weight.abs_().mul_(1.5)
        model[2].bias.zero_()
    return model


def _eager_and_compiled(integrator: str = "fdeint", options: dict | None = None) -> tuple:
    """An eager and a ``compile=True`` wrapper of copies of one :func:`_firing_model`, in
    eval mode: no first-call look for silent layers, so the compiled calls are blocked at
    once."""
    model = _firing_model()
    kw = {"integrator": integrator, "alpha": 0.6, "options": options}
    eager = SNNWrapper(copy.deepcopy(model), **kw).eval()
    return eager, SNNWrapper(copy.deepcopy(model), **kw, compile=True).eval()


@pytest.mark.slow
def test_compiled_vector_field_matches_eager_and_does_not_recompile():
    import torch._dynamo

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), LIFNeuron(), nn.Linear(8, 3), LIFNeuron())
    eager = SNNWrapper(copy.deepcopy(model), alpha=0.6)
    compiled = SNNWrapper(copy.deepcopy(model), alpha=0.6, compile=True)
    x = 3.0 * torch.rand(10, 2, 4)
    torch._dynamo.reset()
    compiled(x)  # the first training call also looks for silent layers (uncompiled)
    first = compiled(x)
    graphs_after_first = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    assert graphs_after_first >= 1, "compile=True must actually compile"
    for _ in range(3):
        again = compiled(3.0 * torch.rand(10, 2, 4))
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs_after_first
    assert again.shape == first.shape
    torch.testing.assert_close(first, eager(x))
    assert eager._compiled_graphs is None  # compile only when asked


@pytest.mark.slow
@pytest.mark.parametrize(
    ("integrator", "options"),
    [("fdeint", {"history": "soe"}), ("odeint", None)],
)
def test_compiled_blocks_match_eager_values_and_gradients(integrator, options):
    """Solves that advance a block of steps per compiled call (euler; gl with a streamed
    history) give eager's spikes and gradients, and later calls compile nothing."""
    import torch._dynamo

    torch.manual_seed(0)
    eager, compiled = _eager_and_compiled(integrator, options)
    x = 3.0 * torch.rand(21, 2, 4)  # two full blocks of 8 and a shorter one
    torch._dynamo.reset()
    out = compiled(x)
    out.sum().backward()
    with torch.no_grad():  # inference compiles its own graphs, once
        inferred = compiled(x)
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    torch.testing.assert_close(inferred, out.detach())
    assert compiled._compiled_graphs and any(k.startswith("blocks_") for k in compiled._compiled_graphs)
    want, rec = eager(x, record=True)
    want.sum().backward()
    for name, spikes in rec.spikes.items():
        rate = float(spikes.detach().mean())
        assert 0.05 < rate < 0.95, (name, rate)
    torch.testing.assert_close(out, want)
    for (name, p), q in zip(compiled.named_parameters(), eager.parameters()):
        if q.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4, msg=name)
    for _ in range(2):
        with torch.no_grad():
            compiled(3.0 * torch.rand(21, 2, 4))
        compiled(3.0 * torch.rand(21, 2, 4)).sum().backward()
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs


@pytest.mark.slow
def test_compiled_blocks_record_what_eager_records():
    """``record=True`` under ``compile=True`` runs the recording graph in blocks: the
    same spikes and membranes as eager, and the same gradients."""

    torch.manual_seed(1)
    eager, compiled = _eager_and_compiled(options={"history": "soe"})
    x = 3.0 * torch.rand(19, 2, 4)
    (out, rec), (want, want_rec) = compiled(x, record=True), eager(x, record=True)
    assert any("recording" in k for k in compiled._compiled_graphs)
    torch.testing.assert_close(out, want)
    for name in want_rec.names:
        rate = float(want_rec.spikes[name].detach().mean())
        assert 0.05 < rate < 0.95, (name, rate)
        torch.testing.assert_close(rec.spikes[name], want_rec.spikes[name])
        torch.testing.assert_close(rec.membrane[name], want_rec.membrane[name], atol=1e-5, rtol=1e-5)
    (out.sum() + rec.membrane[want_rec.names[0]].sum()).backward()
    (want.sum() + want_rec.membrane[want_rec.names[0]].sum()).backward()
    for p, q in zip(compiled.parameters(), eager.parameters()):
        if q.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_compiled_blocks_return_eager_states():
    """``return_states=True`` under ``compile=True`` takes the membranes out of the
    blocks: eager's values at every grid point, and eager's gradients through them."""

    torch.manual_seed(2)
    eager, compiled = _eager_and_compiled(options={"history": "soe"})
    x = 3.0 * torch.rand(19, 2, 4)
    out, states = compiled(x, return_states=True)
    want, want_states = eager(x, return_states=True)
    assert any(k.startswith("blocks_") and k.endswith("_states") for k in compiled._compiled_graphs)
    _, rec = eager(x, record=True)
    for name in rec.names:
        rate = float(rec.spikes[name].detach().mean())
        assert 0.05 < rate < 0.95, (name, rate)
    torch.testing.assert_close(out, want)
    assert len(states) == len(want_states) == 2
    for got, ref in zip(states, want_states):
        assert got.shape == ref.shape == (19, *ref.shape[1:])
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    (out.sum() + states[0].square().sum()).backward()
    (want.sum() + want_states[0].square().sum()).backward()
    for p, q in zip(compiled.parameters(), eager.parameters()):
        if q.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("integrator", "options"),
    [("fdeint", {"history": "soe"}), ("fdeint", {"memory": 5}), ("odeint", None)],
)
def test_compiled_blocks_stream_chunks_as_eager(monkeypatch, integrator, options):
    """A stream in chunks (``return_state`` / ``initial_state``) runs in the compiled
    blocks: each chunk's output and membranes and the saved state are eager's."""
    import itertools

    import spikede._wrapper as wrapper_module

    blocked = []
    original = wrapper_module.blocked_solve

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        blocked.append(result is not None)
        return result

    monkeypatch.setattr(wrapper_module, "blocked_solve", spy)
    torch.manual_seed(3)
    eager, compiled = _eager_and_compiled(integrator, options)
    before = {k: v.clone() for k, v in compiled.model.state_dict().items()}
    x = 3.0 * torch.rand(45, 2, 4)
    bounds = [0, 5, 21, 45]  # a chunk shorter than a block; chunks that end inside one
    state = want_state = None
    spikes = []
    for lo, hi in itertools.pairwise(bounds):
        with torch.no_grad():  # streamed inference (a fractional state carries no gradient)
            out, ys, state = compiled(x[lo:hi], return_states=True, return_state=True, initial_state=state)
            want, want_ys, want_state = eager(x[lo:hi], return_states=True, return_state=True, initial_state=want_state)
        spikes.append(want)
        torch.testing.assert_close(out, want)
        for got, ref in zip(ys, want_ys):
            torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
        assert state.history.offset == want_state.history.offset
        torch.testing.assert_close(state.history.times, want_state.history.times)
        for got, ref in zip(state.history.y, want_state.history.y):
            torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
        for got, ref in zip(state.history.saved, want_state.history.saved):
            if ref is not None:
                assert got.first == ref.first
                torch.testing.assert_close(got.rows, ref.rows, atol=1e-5, rtol=1e-5)
    assert blocked == [True] * 3
    after = compiled.model.state_dict()  # the calls leave the user's model as it was
    assert after.keys() == before.keys()
    for name, value in before.items():
        torch.testing.assert_close(after[name], value, atol=0.0, rtol=0.0)
    rate = float(torch.cat(spikes).mean())
    assert 0.05 < rate < 0.95, rate
