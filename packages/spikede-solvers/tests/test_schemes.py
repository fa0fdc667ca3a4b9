"""Each method is the scheme its name says: compared with plain scalar loops written from
the formulas (Python floats, math.gamma), on a nonlinear forced problem."""

import math

import pytest
import torch

from spikede_solvers import fdeint, odeint, snn_solve

F64 = torch.float64
A, Y0, H, N = 0.6, 0.7, 0.04, 25


def f(t, y):
    return -y + 0.3 * math.sin(y) + math.cos(t)


def torch_f(t, y):
    return -y + 0.3 * torch.sin(y) + torch.cos(t)


def gl_w(a, n):
    w = [1.0]
    for j in range(1, n + 1):
        w.append(w[-1] * (1.0 - (a + 1.0) / j))
    return w


def ref_gl(a=A, memory=None):
    m = memory or 10**9
    w, ys = gl_w(a, N + 1), [Y0]
    for n in range(N):
        hist = sum(w[j] * (ys[n + 1 - j] - Y0) for j in range(1, min(n + 1, m) + 1))
        ys.append(Y0 + H**a * f(n * H, ys[n]) - hist)
    return ys


def ref_pred(a=A, memory=None):
    m = memory or 10**9
    ys, fs = [Y0], []
    for n in range(N):
        fs.append(f(n * H, ys[n]))
        s = sum(((n + 1 - j) ** a - (n - j) ** a) * fs[j] for j in range(max(0, n + 1 - m), n + 1))
        ys.append(Y0 + H**a / math.gamma(a + 1) * s)
    return ys


def ref_trap(a=A, memory=None, corrections=1):
    m = memory or 10**9
    ys, fs = [Y0], []
    g = H**a / math.gamma(a + 2)
    for n in range(N):
        fs.append(f(n * H, ys[n]))
        s = 0.0
        for j in range(max(0, n + 1 - m), n + 1):
            if j == 0:
                s += (n ** (a + 1) - (n - a) * (n + 1) ** a) * fs[0]
            else:
                s += (
                    (n - j + 2) ** (a + 1) + (n - j) ** (a + 1) - 2 * (n - j + 1) ** (a + 1)
                ) * fs[j]
        fe = fs[n] if n == 0 else 2 * fs[n] - fs[n - 1]
        y = Y0 + g * (s + fe)
        for _ in range(corrections):
            y = Y0 + g * (s + f((n + 1) * H, y))
        ys.append(y)
    return ys


def ref_l1(a=A, memory=None):
    m = memory or 10**9
    ys, fs = [Y0], []
    gm = math.gamma(2 - a) * H**a

    def b(k):
        return (k + 1) ** (1 - a) - (k ** (1 - a) if k > 0 else 0.0)

    for n in range(N):
        fs.append(f(n * H, ys[n]))
        hist = sum(b(k) * (ys[n + 1 - k] - ys[n - k]) for k in range(1, min(n, m) + 1))
        fe = fs[n] if n == 0 else 2 * fs[n] - fs[n - 1]
        y = ys[n] + gm * fe - hist
        y = ys[n] + gm * f((n + 1) * H, y) - hist
        ys.append(y)
    return ys


def ref_glmulti(orders, coefs):
    ws = [gl_w(a, N + 1) for a in orders]
    ys = [Y0]
    for n in range(N):
        w0 = sum(c * H ** (-a) for a, c in zip(orders, coefs))
        hist = sum(
            c * H ** (-a) * sum(w[j] * (ys[n + 1 - j] - Y0) for j in range(1, n + 2))
            for a, c, w in zip(orders, coefs, ws)
        )
        ys.append(Y0 + (f(n * H, ys[n]) - hist) / w0)
    return ys


def solve(method, **kw):
    t = torch.arange(N + 1, dtype=F64) * H
    return fdeint(torch_f, torch.tensor(Y0, dtype=F64), t, kw.pop("alpha", A), method, **kw)


REFS = {"gl": ref_gl, "pred": ref_pred, "trap": ref_trap, "l1": ref_l1}


@pytest.mark.parametrize("method", sorted(REFS))
@pytest.mark.parametrize("memory", [None, 5])
def test_matches_hand_written_loop(method, memory):
    got = solve(method, memory=memory)
    ref = torch.tensor(REFS[method](memory=memory), dtype=F64)
    assert torch.allclose(got, ref, rtol=0, atol=1e-13)


@pytest.mark.parametrize("a", [0.35, 1.0])
def test_alpha_values_other_than_default(a):
    for method, ref in REFS.items():
        got = solve(method, alpha=a)
        assert torch.allclose(got, torch.tensor(ref(a=a), dtype=F64), rtol=0, atol=1e-13), method


def test_trap_corrector_steps_option():
    got = solve("trap", options={"corrector_steps": 3})
    assert torch.allclose(got, torch.tensor(ref_trap(corrections=3), dtype=F64), rtol=0, atol=1e-13)
    assert not torch.allclose(got, solve("trap"), rtol=0, atol=1e-9)


def test_glmulti_matches_hand_written_loop():
    got = solve("glmulti", alpha=[0.6, 0.9], coefficients=[1.0, 0.5])
    ref = torch.tensor(ref_glmulti([0.6, 0.9], [1.0, 0.5]), dtype=F64)
    assert torch.allclose(got, ref, rtol=0, atol=1e-13)


def test_gl_at_alpha_one_is_euler():
    t = torch.linspace(0.0, 2.0, 51, dtype=F64)
    y0 = torch.tensor([0.3, -1.2], dtype=F64)
    a = fdeint(torch_f, y0, t, 1.0, "gl")
    b = odeint(torch_f, y0, t, "euler")
    assert torch.allclose(a, b, rtol=1e-14, atol=1e-14)
    # pred is Euler too at alpha = 1; trap is the trapezoidal predictor-corrector (Heun-like)
    assert torch.allclose(fdeint(torch_f, y0, t, 1.0, "pred"), b, rtol=1e-13, atol=1e-13)


def test_one_term_glmulti_equals_gl():
    multi = solve("glmulti", alpha=[A], coefficients=[1.0])
    with pytest.warns(UserWarning, match="glmulti"):
        multi_via_gl = solve("gl", alpha=[A], coefficients=[1.0])
    single = solve("gl")
    assert torch.allclose(multi, single, rtol=1e-13, atol=1e-13)
    assert torch.allclose(multi_via_gl, single, rtol=1e-13, atol=1e-13)
    assert torch.allclose(solve("glmulti"), single, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("method", ["gl", "pred", "trap", "l1", "glmulti"])
def test_memory_at_least_n_equals_full(method):
    # Equal up to rounding: gl/glmulti with short memory stream (one product per step),
    # the full history sums block by block.
    full = solve(method)
    torch.testing.assert_close(solve(method, memory=N + 1), full, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(solve(method, memory=10 * N), full, rtol=1e-14, atol=1e-15)
    assert not torch.allclose(solve(method, memory=3), full, atol=1e-8)


def test_nfe_counts():
    t = torch.arange(N, dtype=F64) * H

    def field(t, y):
        return (torch_f(t, y[0]),)

    y0 = (torch.tensor([Y0], dtype=F64),)
    assert snn_solve(field, y0, t, method="gl", alpha=[A]).nfe == N
    assert snn_solve(field, y0, t, method="trap", alpha=[A]).nfe == 2 * N - 1
    assert snn_solve(field, y0, t, integrator="odeint", method="rk4").nfe == 4 * (N - 1) + 1
