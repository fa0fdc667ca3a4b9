"""Property-based tests (hypothesis) of the interpolators and the solvers.

Each test has a fixed example budget (``max_examples <= 30``) and no deadline, so the suite
runs in CI in a few seconds.
"""

from __future__ import annotations

import math

import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spikede_interp import Interpolator, interpolate
from spikede_solvers import fdeint, odeint

F64 = torch.float64
FRACTIONAL = ["gl", "l1", "trap", "pred"]
budget = settings(max_examples=25, deadline=None, derandomize=True)


@st.composite
def series(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples x [T, B] on strictly increasing, possibly non-uniform times [T]."""
    t_len = draw(st.integers(5, 9))
    batch = draw(st.integers(1, 3))
    gaps = draw(st.lists(st.floats(0.1, 2.0), min_size=t_len - 1, max_size=t_len - 1))
    t0 = draw(st.floats(-5.0, 5.0))
    values = draw(st.lists(st.floats(-10.0, 10.0), min_size=t_len * batch, max_size=t_len * batch))
    times = torch.tensor([t0] + [t0 + sum(gaps[: i + 1]) for i in range(t_len - 1)], dtype=F64)
    return torch.tensor(values, dtype=F64).reshape(t_len, batch), times


METHODS = ["linear", "nearest", "previous", "cubic", "akima"]


# ----------------------------------------------------------------------------- interpolators
@budget
@given(series(), st.sampled_from(METHODS))
def test_interpolators_hit_the_samples(data: tuple[torch.Tensor, torch.Tensor], method: str) -> None:
    x, times = data
    interp = Interpolator(x, times, method)
    for k in range(times.shape[0]):
        assert torch.allclose(interp(times[k]), x[k], atol=1e-9)


@budget
@given(series(), st.sampled_from(["linear", "nearest", "previous"]), st.floats(0.0, 1.0))
def test_low_order_interpolators_stay_in_the_neighbour_envelope(
    data: tuple[torch.Tensor, torch.Tensor], method: str, u: float
) -> None:
    x, times = data
    k = min(int(u * (times.shape[0] - 1)), times.shape[0] - 2)
    s = (u * (times.shape[0] - 1)) - k
    t = times[k] + min(max(s, 0.0), 1.0) * (times[k + 1] - times[k])
    y = interpolate(x, times, t, method)
    lo = torch.minimum(x[k], x[k + 1]) - 1e-12
    hi = torch.maximum(x[k], x[k + 1]) + 1e-12
    assert bool(((y >= lo) & (y <= hi)).all())


@budget
@given(series(), st.sampled_from(METHODS), st.floats(-100.0, 100.0), st.floats(0.0, 1.0))
def test_interpolators_commute_with_a_time_shift(
    data: tuple[torch.Tensor, torch.Tensor], method: str, shift: float, u: float
) -> None:
    x, times = data
    t = times[0] + u * (times[-1] - times[0])
    if method in ("nearest", "previous"):
        # at a jump (a sample, or a midpoint for nearest) rounding of t + shift decides the side
        jumps = torch.cat([times, (times[1:] + times[:-1]) / 2])
        assume(bool(((jumps - t).abs() > 1e-6 * (1 + abs(shift))).all()))
    a = interpolate(x, times, t, method)
    b = interpolate(x, times + shift, t + shift, method)
    assert torch.allclose(a, b, atol=1e-6 * (1 + abs(shift)))


# ----------------------------------------------------------------------------- solvers
def _forced(lam: float, amp: float, freq: float, ramp: float):
    def field(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -lam * y + amp * torch.sin(freq * t) + ramp * t

    return field


@budget
@given(
    st.sampled_from(FRACTIONAL),
    st.floats(0.2, 1.0),
    st.floats(0.0, 3.0),
    st.tuples(st.floats(-2, 2), st.floats(0.5, 3), st.floats(-1, 1), st.floats(-1, 1)),
    st.tuples(st.floats(-2, 2), st.floats(0.5, 3), st.floats(-1, 1), st.floats(-1, 1)),
    st.floats(-3.0, 3.0),
)
def test_solution_is_linear_in_forcing_and_initial_value(
    method: str, alpha: float, lam: float, p: tuple, q: tuple, c: float
) -> None:
    """For D^a y = -l y + f(t), the map (y0, f) -> y is linear (all schemes are linear then)."""
    t = torch.linspace(0.0, 2.0, 21, dtype=F64)
    f1 = _forced(lam, p[0], p[1], p[2])
    f2 = _forced(lam, q[0], q[1], q[2])
    y1 = fdeint(f1, torch.tensor([p[3]], dtype=F64), t, alpha, method)
    y2 = fdeint(f2, torch.tensor([q[3]], dtype=F64), t, alpha, method)

    def f12(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # the forcing of f1 + c f2 with the same linear part -l y
        return -lam * y + (f1(s, torch.zeros_like(y)) + c * f2(s, torch.zeros_like(y)))

    y12 = fdeint(f12, torch.tensor([p[3] + c * q[3]], dtype=F64), t, alpha, method)
    scale = 1.0 + float(y1.abs().max() + abs(c) * y2.abs().max())
    assert torch.allclose(y12, y1 + c * y2, atol=1e-10 * scale)


@budget
@given(st.floats(0.0, 3.0), st.floats(-2.0, 2.0), st.integers(3, 30), st.floats(0.05, 0.5))
def test_gl_with_alpha_one_equals_explicit_euler(lam: float, y0: float, n: int, h: float) -> None:
    t = torch.arange(n + 1, dtype=F64) * h
    field = _forced(lam, 1.0, 2.0, 0.3)
    y_gl = fdeint(field, torch.tensor([y0], dtype=F64), t, 1.0, "gl")
    y_eu = odeint(field, torch.tensor([y0], dtype=F64), t, "euler")
    # hand-written Euler loop as an independent oracle
    ys = [y0]
    for k in range(n):
        tk = float(t[k])
        ys.append(ys[-1] + h * (-lam * ys[-1] + math.sin(2.0 * tk) + 0.3 * tk))
    assert torch.allclose(y_gl, y_eu, atol=1e-12, rtol=1e-12)
    assert torch.allclose(y_eu[:, 0], torch.tensor(ys, dtype=F64), atol=1e-12, rtol=1e-12)


@budget
@given(
    st.sampled_from(FRACTIONAL),
    st.floats(0.2, 0.95),
    st.integers(2, 20),
    st.integers(0, 10),
)
def test_memory_at_least_n_equals_full_memory(method: str, alpha: float, n: int, extra: int) -> None:
    t = torch.linspace(0.0, 1.0, n + 1, dtype=F64)
    field = _forced(1.3, 1.0, 2.0, 0.3)
    y0 = torch.tensor([0.7, -0.2], dtype=F64)
    full = fdeint(field, y0, t, alpha, method)
    short = fdeint(field, y0, t, alpha, method, memory=n + extra)
    # Up to rounding: gl/glmulti with short memory stream and sum in a different order.
    torch.testing.assert_close(full, short, rtol=1e-14, atol=1e-15)


@budget
@given(st.sampled_from(["gl", "pred"]), st.floats(0.2, 0.95), st.integers(6, 20), st.integers(1, 4))
def test_short_memory_differs_from_full_memory(method: str, alpha: float, n: int, memory: int) -> None:
    """Guard for the test above: a memory shorter than the history does change the result."""
    t = torch.linspace(0.0, 1.0, n + 1, dtype=F64)
    field = _forced(1.3, 1.0, 2.0, 0.3)
    y0 = torch.tensor([0.7], dtype=F64)
    full = fdeint(field, y0, t, alpha, method)
    short = fdeint(field, y0, t, alpha, method, memory=memory)
    assert not torch.allclose(full, short, atol=1e-12)
