"""Fast history (sum-of-exponentials tail) and memory-lean backward (checkpointing).

Oracles: the exact full-history solve (the SOE history approximates it), gradcheck in
float64 (the SOE adjoint is hand-written), and plain autograd (checkpointing must give
the same gradients).
"""

from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.autograd import gradcheck

from spikede_solvers import fdeint, odeint, snn_solve
from spikede_solvers._soe import fit_soe_tail
from spikede_solvers._weights import gl_weights, index, safe_pow

F64 = torch.float64
METHODS = ["gl", "pred", "l1", "trap", "glmulti"]


def _forced(t, y):
    return -y + 0.3 * torch.sin(t) + 0.1 * torch.tanh(y)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("alpha", [0.3, 0.7, 1.0])
def test_soe_matches_full_history(method, alpha):
    t = torch.linspace(0.0, 20.0, 801, dtype=F64)
    y0 = torch.tensor([1.0, -0.5, 0.2], dtype=F64)
    full = fdeint(_forced, y0, t, alpha, method)
    fast = fdeint(_forced, y0, t, alpha, method, options={"history": "soe"})
    rel = ((fast - full).abs().max() / full.abs().max()).item()
    assert rel < 1e-5
    # Fewer exponentials are coarser: the option is really used.
    coarse = fdeint(_forced, y0, t, alpha, method, options={"history": "soe", "soe_terms": 2})
    if alpha < 1.0:
        assert ((coarse - full).abs().max() / full.abs().max()).item() > 10 * rel


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.9])
def test_soe_fit_of_long_kernels(alpha):
    n, window = 16000, 16
    a = torch.tensor(alpha, dtype=F64)
    k = index(n, a)
    kernels = {
        "gl": gl_weights(a, n + 1)[1:],
        "pred": safe_pow(k + 1.0, a) - safe_pow(k, a),
        "l1": safe_pow(k + 2.0, 1.0 - a) - safe_pow(k + 1.0, 1.0 - a),
    }
    for name, c in kernels.items():
        tail = fit_soe_tail(c, window, 24, 0)
        m = torch.arange(n - window, dtype=F64)
        approx = (tail.amplitudes[None, :] * tail.decays[None, :] ** m[:, None]).sum(1)
        rel = ((approx - c[window:]) / c[window:]).abs().max().item()
        assert rel < 1e-4, name


@pytest.mark.parametrize("method", METHODS)
def test_soe_gradcheck_y0_param_alpha(method):
    t = torch.linspace(0.0, 2.0, 25, dtype=F64)
    y0 = torch.tensor([0.4, -0.3], dtype=F64, requires_grad=True)
    lam = torch.tensor(0.8, dtype=F64, requires_grad=True)
    alpha = torch.tensor(0.6, dtype=F64, requires_grad=True)
    opts = {"history": "soe", "soe_window": 3, "soe_terms": 4}

    def run(y0, lam, alpha):
        return fdeint(lambda t, y: -lam * y + torch.cos(t), y0, t, alpha, method, options=opts)

    assert gradcheck(run, (y0, lam, alpha), eps=1e-6, atol=1e-7)


def test_soe_gradcheck_per_element_alpha_and_snn_boundaries():
    t = torch.linspace(0.0, 2.0, 20, dtype=F64)
    alpha = torch.tensor([0.4, 0.8], dtype=F64, requires_grad=True)
    a1 = torch.tensor(0.7, dtype=F64, requires_grad=True)
    v0 = torch.tensor([0.1, 0.2], dtype=F64, requires_grad=True)
    opts = {"history": "soe", "soe_window": 2, "soe_terms": 3}

    def field(t, y):
        v, w = y
        return (-v + torch.sin(w).sum(), -w + v.mean(), torch.tanh(v))

    def run(v0, alpha, a1):
        sol = snn_solve(field, (v0, v0[:1] * 2), t, alpha=[alpha, a1], options=opts)
        return sol.states[0], sol.states[1], sol.boundaries[0]

    assert gradcheck(run, (v0, alpha, a1), eps=1e-6, atol=1e-7)


def test_soe_learnable_alpha_gradient_matches_full_history():
    t = torch.linspace(0.0, 10.0, 401, dtype=F64)
    y0 = torch.tensor([1.0, 0.5], dtype=F64)
    grads = []
    for opts in (None, {"history": "soe"}):
        alpha = torch.tensor(0.6, dtype=F64, requires_grad=True)
        y = fdeint(_forced, y0, t, alpha, "gl", options=opts)
        (g,) = torch.autograd.grad(y.pow(2).sum(), alpha)
        grads.append(g)
    assert grads[0].abs() > 1e-3
    assert torch.allclose(grads[1], grads[0], rtol=1e-6, atol=0)


def test_soe_backward_twice_with_retained_graph():
    t = torch.linspace(0.0, 5.0, 60, dtype=F64)
    alpha = torch.tensor(0.5, dtype=F64, requires_grad=True)
    y0 = torch.tensor([1.0], dtype=F64, requires_grad=True)
    y = fdeint(_forced, y0, t, alpha, "gl", options={"history": "soe", "soe_window": 4})
    loss = y.sum()
    g1 = torch.autograd.grad(loss, (alpha, y0), retain_graph=True)
    g2 = torch.autograd.grad(loss, (alpha, y0))
    assert all(torch.equal(a, b) for a, b in zip(g1, g2))


def test_soe_float32_follows_dtype():
    t = torch.linspace(0.0, 10.0, 201)
    y0 = torch.ones(4)
    full = fdeint(_forced, y0, t, 0.5, "gl")
    fast = fdeint(_forced, y0, t, 0.5, "gl", options={"history": "soe"})
    assert fast.dtype == torch.float32
    assert (fast - full).abs().max() < 1e-5


def test_soe_and_checkpoint_option_checks():
    t = torch.linspace(0.0, 1.0, 5, dtype=F64)
    y0 = torch.ones(1, dtype=F64)
    with pytest.raises(ValueError, match="options\\['history'\\]"):
        fdeint(_forced, y0, t, 0.5, options={"history": "fast"})
    with pytest.raises(ValueError, match="soe_terms"):
        fdeint(_forced, y0, t, 0.5, options={"soe_terms": 8})
    with pytest.raises(ValueError, match="soe_window"):
        fdeint(_forced, y0, t, 0.5, options={"history": "soe", "soe_window": 0})
    with pytest.raises(ValueError, match="exclude each other"):
        fdeint(_forced, y0, t, 0.5, memory=3, options={"history": "soe"})
    with pytest.raises(TypeError, match="checkpoint"):
        fdeint(_forced, y0, t, 0.5, options={"checkpoint": 1})
    with pytest.raises(ValueError, match="history"):
        odeint(_forced, y0, t, options={"history": "soe"})


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a = nn.Linear(6, 16).double()
        self.b = nn.Linear(16, 6).double()

    def forward(self, t, y):
        return -y + self.b(torch.tanh(self.a(y) + torch.sin(t)))


def _saved_bytes(fn):
    total = [0]

    def pack(x):
        total[0] += x.numel() * x.element_size()
        return x

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        out = fn()
    return out, total[0]


@pytest.mark.parametrize(
    ("integrator", "method", "extra"),
    [
        ("fdeint", "gl", {}),
        ("fdeint", "trap", {}),
        ("fdeint", "l1", {"history": "soe", "soe_window": 4}),
        ("odeint", "rk4", {}),
    ],
)
def test_checkpoint_gives_plain_autograd_gradients_with_less_saved(integrator, method, extra):
    net = _Net()
    t = torch.linspace(0.0, 3.0, 40, dtype=F64)
    y0 = torch.linspace(-1.0, 1.0, 6, dtype=F64).reshape(1, 6).requires_grad_(True)
    alpha = torch.tensor(0.7, dtype=F64, requires_grad=True)
    results = []
    for ckpt in (False, True):
        opts = dict(extra, checkpoint=ckpt)
        if integrator == "fdeint":
            run = lambda opts=opts: fdeint(net, y0, t, alpha, method, options=opts)  # noqa: E731
            inputs = (y0, alpha, *net.parameters())
        else:
            run = lambda opts=opts: odeint(net, y0, t, method, options=opts)  # noqa: E731
            inputs = (y0, *net.parameters())
        y, saved = _saved_bytes(run)
        grads = torch.autograd.grad(y.pow(2).sum(), inputs)
        results.append((y.detach(), grads, saved))
    (y_a, g_a, s_a), (y_b, g_b, s_b) = results
    assert torch.equal(y_a, y_b)
    for a, b in zip(g_a, g_b):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-14)
    assert s_b < 0.6 * s_a


@pytest.mark.parametrize("method", METHODS)
def test_blocked_history_equals_plain_sum(method):
    t = torch.linspace(0.0, 20.0, 301, dtype=F64)
    y0 = torch.tensor([1.0, -0.5, 0.2], dtype=F64)
    plain = fdeint(_forced, y0, t, 0.6, method, options={"block": 0})
    for block in (2, 7, 64):
        blocked = fdeint(_forced, y0, t, 0.6, method, options={"block": block})
        assert torch.allclose(blocked, plain, rtol=0, atol=1e-13)


@pytest.mark.parametrize("method", METHODS)
def test_blocked_history_gradcheck(method):
    t = torch.linspace(0.0, 2.0, 20, dtype=F64)
    y0 = torch.tensor([0.4, -0.3], dtype=F64, requires_grad=True)
    lam = torch.tensor(0.8, dtype=F64, requires_grad=True)
    alpha = torch.tensor(0.6, dtype=F64, requires_grad=True)

    def run(y0, lam, alpha):
        field = lambda t, y: -lam * y + torch.cos(t)  # noqa: E731
        return fdeint(field, y0, t, alpha, method, options={"block": 3})

    assert gradcheck(run, (y0, lam, alpha), eps=1e-6, atol=1e-7)


def test_blocked_history_backward_twice_and_option_check():
    t = torch.linspace(0.0, 5.0, 40, dtype=F64)
    alpha = torch.tensor(0.5, dtype=F64, requires_grad=True)
    y0 = torch.tensor([1.0], dtype=F64, requires_grad=True)
    y = fdeint(_forced, y0, t, alpha, "gl", options={"block": 4})
    g1 = torch.autograd.grad(y.sum(), (alpha, y0), retain_graph=True)
    g2 = torch.autograd.grad(y.sum(), (alpha, y0))
    ref = torch.autograd.grad(
        fdeint(_forced, y0, t, alpha, "gl", options={"block": 0}).sum(), (alpha, y0)
    )
    for a, b, c in zip(g1, g2, ref):
        assert torch.equal(a, b)
        assert torch.allclose(a, c, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="options\\['block'\\]"):
        fdeint(_forced, y0, t, 0.5, options={"block": -1})


def test_snn_solve_without_states_keeps_boundaries_and_gradients():
    t = torch.linspace(0.0, 3.0, 30, dtype=F64)
    v0 = torch.tensor([0.1, 0.2], dtype=F64, requires_grad=True)

    def field(t, y):
        return (-y[0] + torch.sin(t), torch.tanh(y[0]))

    full = snn_solve(field, (v0,), t, alpha=0.6)
    lean = snn_solve(field, (v0,), t, alpha=0.6, keep_states=False)
    assert lean.states == () and lean.nfe == full.nfe
    assert torch.equal(lean.boundaries[0], full.boundaries[0])
    g_full = torch.autograd.grad(full.boundaries[0].sum(), v0)
    g_lean = torch.autograd.grad(lean.boundaries[0].sum(), v0)
    assert torch.equal(g_full[0], g_lean[0])
    with pytest.raises(TypeError, match="keep_states"):
        snn_solve(field, (v0,), t, alpha=0.6, keep_states=1)


@pytest.mark.parametrize("method", ["gl", "glmulti", "pred"])
@pytest.mark.parametrize("options", [{"history": "soe"}, {"history": "soe", "soe_window": 4, "soe_terms": 10}])
def test_streaming_history_without_gradients_equals_the_recorded_one(method, options) -> None:
    """Without gradients the SOE history streams (O(window) rows, one product per
    step); it equals the buffered SOE history, and stays near the exact full history."""
    from spikede_solvers._history import new_history
    from spikede_solvers._stream import StreamingHistory

    mix = torch.tensor([[0.3, -0.2], [0.1, 0.4]], dtype=torch.float64)
    t = torch.linspace(0.0, 5.0, 1201, dtype=torch.float64)
    y0 = torch.tensor([[0.8, -0.3], [0.1, 0.5], [1.0, 1.0]], dtype=torch.float64)

    def field(t, y):
        return -y + torch.tanh(y @ mix)

    with torch.no_grad():
        streamed = fdeint(field, y0, t, 0.6, method, options=options)
    # A learnable order keeps the whole buffer (the coefficients need their gradient).
    order = torch.tensor(0.6, dtype=torch.float64, requires_grad=True)
    recorded = fdeint(field, y0, t, order, method, options=options)
    full = fdeint(field, y0, t, 0.6, method)
    torch.testing.assert_close(streamed, recorded.detach(), rtol=1e-12, atol=1e-12)
    if options.get("soe_terms") is None:  # the default kernel tolerance is 1e-8
        torch.testing.assert_close(streamed, full, rtol=0, atol=1e-9)
    # Streaming is what ran: the history is O(window), not O(steps): K + 1 sums, their
    # contributions C_0 .. C_8, the window of 8 exact rows and 8 rows waiting to join.
    problem_like = torch.zeros(3, 2, dtype=torch.float64)
    coef_rev = torch.linspace(1.0, 0.1, 1200, dtype=torch.float64)

    problem = SimpleNamespace(options={"history": "soe", "soe_terms": 24}, memory=None)
    with torch.no_grad():
        hist = new_history(problem, 1201, problem_like, coef_rev, stream=True)
    assert isinstance(hist, StreamingHistory)
    assert hist.work.shape[0] == 25 + 9 + 8 + 8
    learnable = coef_rev.clone().requires_grad_()
    assert not isinstance(new_history(problem, 1201, problem_like, learnable), StreamingHistory)


@pytest.mark.parametrize("method", ["gl", "glmulti", "pred"])
@pytest.mark.parametrize("memory", [1, 7, 50, 5000])
def test_short_memory_streams_without_gradients(method: str, memory: int) -> None:
    """Without gradients ``memory=M`` keeps a ring of M rows (one product per step); it
    equals the buffered short-memory solve."""
    from spikede_solvers._history import new_history
    from spikede_solvers._stream import StreamingHistory

    mix = torch.tensor([[0.3, -0.2], [0.1, 0.4]], dtype=torch.float64)
    t = torch.linspace(0.0, 5.0, 401, dtype=torch.float64)
    y0 = torch.tensor([[0.8, -0.3], [0.1, 0.5]], dtype=torch.float64)

    def field(t, y):
        return -y + torch.tanh(y @ mix)

    with torch.no_grad():
        streamed = fdeint(field, y0, t, 0.6, method, memory=memory)
    order = torch.tensor(0.6, dtype=torch.float64, requires_grad=True)  # keeps the buffer
    recorded = fdeint(field, y0, t, order, method, memory=memory)
    torch.testing.assert_close(streamed, recorded.detach(), rtol=1e-13, atol=1e-14)
    problem = SimpleNamespace(options={}, memory=memory)
    coef_rev = torch.linspace(1.0, 0.1, 400, dtype=torch.float64)
    with torch.no_grad():
        hist = new_history(problem, 401, y0, coef_rev, stream=True)
    assert isinstance(hist, StreamingHistory)
    assert hist.work.shape[0] == min(memory, 400)


STREAMED = [({"history": "soe"}, None), ({"history": "soe", "soe_window": 3, "soe_terms": 4}, None), ({}, 1), ({}, 5)]


@pytest.mark.parametrize("method", ["gl", "glmulti", "pred"])
@pytest.mark.parametrize(("options", "memory"), STREAMED)
@pytest.mark.parametrize("alpha", [(0.6, 0.8), 0.7], ids=["two-orders", "one-order-joined"])
def test_streamed_training_gradcheck(method, options, memory, alpha) -> None:
    """Fixed orders: training streams too (one StreamStep per step, adjoint run backwards
    in time). gradcheck covers y0, a field parameter and two components, with one
    history each (two orders) or one history shared by both (one order)."""
    t = torch.linspace(0.0, 2.0, 30, dtype=F64)
    y0 = torch.tensor([0.4, -0.3], dtype=F64, requires_grad=True)
    lam = torch.tensor(0.8, dtype=F64, requires_grad=True)

    def run(y0, lam):
        def field(t, y):
            return (-lam * y[0] + torch.cos(t) * y[1].sum(), -y[1] + torch.tanh(y[0][:1]))

        return fdeint(field, (y0, 0.5 * y0[1:]), t, alpha, method, memory=memory, options=options)

    assert gradcheck(run, (y0, lam), eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("method", ["gl", "glmulti", "pred"])
@pytest.mark.parametrize(("options", "memory"), STREAMED)
def test_streamed_training_equals_the_buffered_history(method, options, memory) -> None:
    """Values and gradients of the streamed steps equal the buffered history (which a
    learnable order selects) on a longer solve, also when the loss reads only early steps
    and when backward runs twice on a retained graph; no history row is kept per step."""
    from spikede_solvers import _stream

    t = torch.linspace(0.0, 8.0, 300, dtype=F64)
    weight = torch.tensor([[0.3, -0.2], [0.1, 0.4]], dtype=F64, requires_grad=True)
    y0 = torch.tensor([[0.8, -0.3], [0.1, 0.5]], dtype=F64, requires_grad=True)
    probe = torch.randn(300, 2, 2, dtype=F64, generator=torch.Generator().manual_seed(1))

    def field(t, y):
        return -y + torch.tanh(y @ weight) + torch.sin(t)

    def grads(order, cut):
        y = fdeint(field, y0, t, order, method, memory=memory, options=options)
        loss = (y[:cut] * probe[:cut]).sum()
        return y.detach(), torch.autograd.grad(loss, (y0, weight), retain_graph=True), loss

    fixed = torch.tensor(0.6, dtype=F64)
    learnable = fixed.clone().requires_grad_()
    steps = []
    step_fn = _stream.SumStep if method == "pred" else _stream.StreamStep
    real = step_fn.forward
    step_fn.forward = lambda *a: (steps.append(1), real(*a))[1]
    try:
        for cut in (300, 120):
            y_s, g_s, loss = grads(fixed, cut)
            y_b, g_b, _ = grads(learnable, cut)
            torch.testing.assert_close(y_s, y_b, rtol=1e-12, atol=1e-12)
            for a, b in zip(g_s, g_b):
                torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
            again = torch.autograd.grad(loss, (y0, weight))
            assert all(torch.equal(a, b) for a, b in zip(again, g_s))
    finally:
        step_fn.forward = real
    assert len(steps) == 2 * 299  # every step streamed (two solves with a fixed order)


@pytest.mark.parametrize("method", ["gl", "pred"])
@pytest.mark.parametrize(("options", "memory"), [({"history": "soe"}, None), ({}, 4)])
def test_streamed_components_from_rest_take_one_step_function(method, options, memory) -> None:
    """Two components with one order starting at zero (the initial value's add is
    skipped) share one joined history: one recorded function per step for both, values
    and gradients equal the buffered history, and the no-grad solve gives the same
    values."""
    from spikede_solvers import _stream

    t = torch.linspace(0.0, 6.0, 200, dtype=F64)
    weight = torch.tensor([[0.3, -0.2], [0.1, 0.4]], dtype=F64, requires_grad=True)
    y0 = (torch.zeros(3, 2, dtype=F64), torch.zeros(2, dtype=F64))

    def field(t, y):
        drive = torch.sin(t) + torch.tanh(y[0] @ weight)
        return (-y[0] + drive, -y[1] + drive.sum(0))

    def solve(order):
        ys = fdeint(field, y0, t, order, method, memory=memory, options=options)
        loss = (ys[0] ** 2).sum() + ys[1].sum()
        return [y.detach() for y in ys], torch.autograd.grad(loss, weight)[0]

    step_fn = _stream.SumStep if method == "pred" else _stream.StreamStep
    calls, joined = [], []
    real, real_join = step_fn.forward, _stream.StreamingHistory.joined
    step_fn.forward = lambda *a: (calls.append(1), real(*a))[1]
    _stream.StreamingHistory.joined = lambda hs: (joined.append(1), real_join(hs))[1]
    try:
        ys_s, g_s = solve(torch.tensor(0.7, dtype=F64))
    finally:
        step_fn.forward = real
        _stream.StreamingHistory.joined = real_join
    assert len(calls) == 199 and joined == [1]
    ys_b, g_b = solve(torch.tensor(0.7, dtype=F64, requires_grad=True))
    for a, b in zip(ys_s, ys_b):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_s, g_b, rtol=1e-10, atol=1e-12)
    with torch.no_grad():
        ys_n = fdeint(field, y0, t, 0.7, method, memory=memory, options=options)
    for a, b in zip(ys_n, ys_s):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-14)
    assert float(ys_s[1].abs().max()) > 0.1  # the solve is not trivially zero


@pytest.mark.parametrize(("options", "memory"), [({"history": "soe"}, None), ({}, None), ({}, 4)])
def test_streamed_components_of_mixed_dtypes_keep_their_precision(options, memory) -> None:
    """A float32 component before a float64 one: they stream as separate histories, and
    the float64 component's gradient equals that of its own float64 solve to rounding
    (the step's scale ``h^alpha`` is not rounded to float32 on its way to it)."""
    t = torch.linspace(0.0, 2.0, 201, dtype=F64)
    weight = torch.tensor(0.7, dtype=F64, requires_grad=True)
    y0 = (torch.ones(3, dtype=torch.float32), torch.ones(2, dtype=F64))
    ys = fdeint(lambda t, y: (-y[0] * weight.float(), -y[1] * weight), y0, t, 0.6, "gl",
                memory=memory, options=options)
    (mixed,) = torch.autograd.grad(ys[1][-1].sum(), weight)
    alone = fdeint(lambda t, y: -y * weight, y0[1], t, 0.6, "gl", memory=memory, options=options)
    (single,) = torch.autograd.grad(alone[-1].sum(), weight)
    torch.testing.assert_close(mixed, single, rtol=1e-14, atol=0.0)
    assert abs(float(single)) > 0.1


# ------------------------------------------------------------- error-controlled terms
def _exact_kernels(alpha, n):
    """The methods' exact coefficients from scipy (an oracle independent of _weights)."""
    special = pytest.importorskip("scipy.special")
    import numpy as np

    j = np.arange(1, n + 1)
    k = np.arange(n, dtype=np.float64)
    return {
        "gl": torch.from_numpy((-1.0) ** j * special.binom(alpha, j)),
        "pred": torch.from_numpy((k + 1.0) ** alpha - k**alpha),
        "l1": torch.from_numpy((k + 2.0) ** (1.0 - alpha) - (k + 1.0) ** (1.0 - alpha)),
    }


def _l1_error(c, tail):
    m = torch.arange(c.shape[0] - tail.window, dtype=F64)
    d = tail.decays.reshape(-1).to(F64)
    approx = (tail.amplitudes.to(F64)[None, :] * d[None, :] ** m[:, None]).sum(1)
    return ((approx - c[tail.window :]).abs().sum() / c.abs().sum()).item()


@pytest.mark.parametrize("alpha", [0.1, 0.3, 0.5, 0.7, 0.9])
@pytest.mark.parametrize("n", [60, 400, 3000])
@pytest.mark.parametrize("tol", [1e-4, 1e-6, 1e-8])
@pytest.mark.parametrize("window", [8, 16])
def test_soe_tol_chooses_the_fewest_terms_that_meet_it(alpha, n, tol, window):
    # The kernel error of the chosen fit, measured against scipy's exact coefficients,
    # is within tol, and one exponential fewer is not.
    for name, c in _exact_kernels(alpha, n).items():
        tail = fit_soe_tail(c, window, None, 0, tol)
        terms = tail.decays.shape[0] - 1
        assert _l1_error(c, tail) <= tol * (1 + 1e-6), (name, terms)
        if terms > 2:
            fewer = fit_soe_tail(c, window, terms - 1, 0)
            assert _l1_error(c, fewer) > tol, (name, terms)


def test_soe_tol_at_long_grids_and_float32():
    # N = 16000 within the default tolerance; in float32 the tolerance is raised to the
    # dtype's machine epsilon (its rounding per step is larger than 1e-8).
    for alpha in (0.2, 0.8):
        c = _exact_kernels(alpha, 16000)["gl"]
        tail = fit_soe_tail(c, 16, None, 0)
        assert _l1_error(c, tail) <= 1e-8
        c32 = c.to(torch.float32)
        tail32 = fit_soe_tail(c32, 16, None, 0)
        assert tail32.amplitudes.dtype == torch.float32
        assert _l1_error(c32.to(F64), tail32) <= torch.finfo(torch.float32).eps
        assert tail32.decays.shape[0] <= tail.decays.shape[0]


def test_soe_tol_unreachable_warns_and_uses_the_best_fit():
    c = _exact_kernels(0.5, 3000)["gl"]
    with pytest.warns(RuntimeWarning, match="soe_tol"):
        tail = fit_soe_tail(c, 1, None, 0, 1e-15)
    assert _l1_error(c, tail) < 1e-6


@pytest.mark.parametrize("tol", [1e-4, 1e-8])
def test_soe_tol_solution_error_follows_the_tolerance(tol):
    # The history sum's error is at most E * sum|c| * max|z| per step; over the solve
    # the deviation from the full history stays within a modest multiple of tol.
    t = torch.linspace(0.0, 40.0, 2001, dtype=F64)
    y0 = torch.tensor([1.0, -0.5, 0.2], dtype=F64)
    for alpha in (0.3, 0.8):
        full = fdeint(_forced, y0, t, alpha, "gl")
        fast = fdeint(_forced, y0, t, alpha, "gl", options={"history": "soe", "soe_tol": tol})
        rel = ((fast - full).abs().max() / full.abs().max()).item()
        assert rel < 100 * tol


def test_soe_tol_equals_previous_default_fit_within_tolerance():
    # The chosen fit against the previous fixed 24 terms: both within the documented
    # accuracy of the full history, and of each other.
    t = torch.linspace(0.0, 20.0, 801, dtype=F64)
    y0 = torch.tensor([1.0, -0.5, 0.2], dtype=F64)
    full = fdeint(_forced, y0, t, 0.5, "gl")
    chosen = fdeint(_forced, y0, t, 0.5, "gl", options={"history": "soe"})
    fixed = fdeint(_forced, y0, t, 0.5, "gl", options={"history": "soe", "soe_terms": 24})
    scale = full.abs().max()
    assert ((chosen - full).abs().max() / scale).item() < 1e-6
    assert ((fixed - full).abs().max() / scale).item() < 1e-6
    assert ((chosen - fixed).abs().max() / scale).item() < 1e-6


@pytest.mark.parametrize("method", ["gl", "pred", "l1"])
def test_soe_tol_gradcheck_y0_and_alpha(method):
    t = torch.linspace(0.0, 2.0, 30, dtype=F64)
    opts = {"history": "soe", "soe_window": 3, "soe_tol": 1e-6}

    def f(y0, alpha):
        return fdeint(lambda t, y: -y + 0.2 * torch.sin(t), y0, t, alpha, method, options=opts)

    y0 = torch.tensor([0.7, -0.3], dtype=F64, requires_grad=True)
    alpha = torch.tensor(0.6, dtype=F64, requires_grad=True)
    assert gradcheck(f, (y0, alpha), eps=1e-6, atol=1e-7)
    with torch.no_grad():  # the streamed (no-gradient) path gives the recorded values
        assert torch.allclose(f(y0, alpha.detach()), f(y0.detach(), alpha.detach()))


def test_soe_tol_option_checks():
    t = torch.linspace(0.0, 1.0, 5, dtype=F64)
    y0 = torch.ones(1, dtype=F64)
    for bad in (0.0, 1.0, -1e-3, "1e-8", True):
        with pytest.raises(ValueError, match="soe_tol"):
            fdeint(_forced, y0, t, 0.5, options={"history": "soe", "soe_tol": bad})
    with pytest.raises(ValueError, match="soe_tol"):
        fdeint(_forced, y0, t, 0.5, options={"soe_tol": 1e-6})
    with pytest.raises(ValueError, match="exclude each other"):
        fdeint(_forced, y0, t, 0.5, options={"history": "soe", "soe_tol": 1e-6, "soe_terms": 8})
