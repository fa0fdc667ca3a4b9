"""Streamed full history (fixed orders): the same solve as the recorded history.

Oracles: the recorded full history (``History`` with autograd functions per step, used
when the order needs a gradient) for values and gradients, and gradcheck in float64
(the streamed backward is hand-written). The Mittag-Leffler and convergence tests run
the streamed path too, since fixed orders stream by default.
"""

import pytest
import torch
from torch.autograd import gradcheck

from spikede_solvers import _history, fdeint
from spikede_solvers._stream_exact import ExactStreamingHistory

F64 = torch.float64
METHODS = ["gl", "pred", "glmulti"]


def _field(lam):
    def field(t, y):
        a, b = y
        return (-lam * a + 0.3 * torch.sin(t) + 0.2 * torch.tanh(b.sum()), -b + 0.1 * a[:2, None])

    return field


def _solve(method, dtype, block, order, y0, lam, n=47):
    t = torch.linspace(0.0, 6.0, n, dtype=dtype)
    opts = None if block is None else {"block": block}
    return fdeint(_field(lam), y0, t, order, method, options=opts)


def _inputs(dtype):
    gen = torch.Generator().manual_seed(3)
    y0 = (
        torch.rand(3, generator=gen, dtype=dtype).requires_grad_(),
        torch.rand(2, 2, generator=gen, dtype=dtype).requires_grad_(),
    )
    lam = torch.tensor(0.8, dtype=dtype, requires_grad=True)
    return y0, lam


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [F64, torch.float32])
@pytest.mark.parametrize("block", [None, 0, 3, 32])
def test_streamed_full_history_equals_the_recorded_one(method, dtype, block):
    results = []
    for learnable in (False, True):
        y0, lam = _inputs(dtype)
        order = torch.tensor(0.6, dtype=dtype, requires_grad=learnable)
        ys = _solve(method, dtype, block, order, y0, lam)
        loss = sum(
            (
                y * torch.linspace(1.0, 2.0, y.shape[0], dtype=dtype).view(-1, *[1] * (y.dim() - 1))
            ).sum()
            for y in ys
        )
        grads = torch.autograd.grad(loss, (*y0, lam))
        results.append(([y.detach() for y in ys], grads))
    (ys_s, g_s), (ys_r, g_r) = results
    tol = {"rtol": 1e-12, "atol": 1e-13} if dtype == F64 else {"rtol": 2e-5, "atol": 2e-6}
    for a, b in zip(ys_s, ys_r):
        torch.testing.assert_close(a, b, **tol)
    for a, b in zip(g_s, g_r):
        assert float(a.abs().max()) > 0
        torch.testing.assert_close(a, b, **tol)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [F64, torch.float32])
@pytest.mark.parametrize("n", [61, 97])
def test_superblocks_equal_one_level_blocks(method, dtype, n, monkeypatch):
    """Block 3 makes superblocks of 24 rows; 61 and 97 steps end inside one (a clipped
    tall product) and start blocks at and after superblock boundaries. One level
    (``SUPER = 1``) is the oracle, itself checked against the recorded history above."""
    results = []
    for levels in (1, ExactStreamingHistory.SUPER):
        monkeypatch.setattr(ExactStreamingHistory, "SUPER", levels)
        y0, lam = _inputs(dtype)
        ys = _solve(method, dtype, 3, torch.tensor(0.6, dtype=dtype), y0, lam, n=n)
        loss = sum((y * y).sum() for y in ys)
        results.append(([y.detach() for y in ys], torch.autograd.grad(loss, (*y0, lam))))
    (ys_a, g_a), (ys_b, g_b) = results
    tol = {"rtol": 1e-12, "atol": 1e-13} if dtype == F64 else {"rtol": 2e-5, "atol": 2e-6}
    for a, b in zip([*ys_a, *g_a], [*ys_b, *g_b]):
        assert float(a.abs().max()) > 0
        torch.testing.assert_close(a, b, **tol)


@pytest.mark.parametrize("method", METHODS)
def test_streamed_full_history_is_used_and_gradchecks(method, monkeypatch):
    made = []
    real = ExactStreamingHistory.__init__

    def spy(self, *args, **kwargs):
        made.append(True)
        real(self, *args, **kwargs)

    monkeypatch.setattr(ExactStreamingHistory, "__init__", spy)
    y0, lam = _inputs(F64)

    def run(a, b, lam):
        return _solve(method, F64, 4, 0.6, (a, b), lam, n=19)

    assert gradcheck(run, (*y0, lam), eps=1e-6, atol=1e-8)
    assert made


def test_backward_twice_gives_the_same_gradients():
    y0, lam = _inputs(F64)
    ys = _solve("gl", F64, 5, 0.5, y0, lam)
    loss = ys[0].sum() + ys[1].sum()
    g1 = torch.autograd.grad(loss, (*y0, lam), retain_graph=True)
    g2 = torch.autograd.grad(loss, (*y0, lam))
    for a, b in zip(g1, g2):
        assert torch.equal(a, b)


def test_a_learnable_order_keeps_the_recorded_history(monkeypatch):
    made = []
    real = _history.History.__init__

    def spy(self, *args, **kwargs):
        made.append(True)
        real(self, *args, **kwargs)

    monkeypatch.setattr(_history.History, "__init__", spy)
    y0, lam = _inputs(F64)
    alpha = torch.tensor(0.6, dtype=F64, requires_grad=True)
    ys = _solve("gl", F64, None, alpha, y0, lam)
    (grad,) = torch.autograd.grad(ys[0].sum(), alpha)
    assert made and float(grad.abs()) > 0
