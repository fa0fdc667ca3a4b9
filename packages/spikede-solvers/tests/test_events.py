"""odeint_events: threshold crossings located on the dense output, against exact solutions."""

from __future__ import annotations

import math

import pytest
import torch

from spikede_solvers import Crossing, odeint_events

F64 = torch.float64


def lif(I, tau, theta, times):  # noqa: E741 - I is the input current
    """dv/dt = (I - v)/tau with a reset v -> v - theta at v = theta; records event times."""

    def field(t, y):
        return ((I - y[0]) / tau,)

    def on_event(c: Crossing):
        times.append(c.element_times[0].reshape(-1)[c.crossed[0].reshape(-1).nonzero()[0, 0]])
        return (c.states[0] - theta * c.crossed[0].to(c.states[0].dtype),)

    return field, on_event


@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
@pytest.mark.parametrize("dtype,tol", [(F64, 1e-8), (torch.float32, 1e-4)])
def test_constant_rate_resets_at_exact_times(method, dtype, tol):
    seen = []

    def on_event(c):
        seen.append(c.time_value)
        return (torch.where(c.crossed[0], torch.zeros_like(c.states[0]), c.states[0]),)

    rate = 0.37
    t = torch.linspace(0.0, 10.0, 11, dtype=dtype)
    ys, stats = odeint_events(
        lambda t, y: (torch.full_like(y[0], rate),), (torch.zeros(1, dtype=dtype),), t, [1.0], on_event, method
    )
    exact = [k / rate for k in range(1, 4)]
    assert stats["events"] == 3 and len(seen) == 3
    assert max(abs(a - b) / b for a, b in zip(seen, exact)) < tol
    # between events y grows at the rate from 0: y(t) = rate * (t - last event)
    last = torch.tensor([max([0.0] + [e for e in exact if e <= float(s)]) for s in t], dtype=F64)
    want = rate * (t.to(F64) - last)
    assert torch.allclose(ys[0][:, 0].to(F64), want, atol=tol * 10)


@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
def test_lif_event_times_and_their_gradients(method):
    I = torch.tensor(1.5, dtype=F64, requires_grad=True)  # noqa: E741
    tau = torch.tensor(2.0, dtype=F64, requires_grad=True)
    theta = torch.tensor(1.0, dtype=F64, requires_grad=True)
    times = []
    field, on_event = lif(I, tau, theta, times)
    t = torch.linspace(0.0, 10.0, 11, dtype=F64)
    ys, _ = odeint_events(field, (torch.zeros(1, dtype=F64),), t, [theta], on_event, method,
                          options={"rtol": 1e-10 if method == "dopri5" else 1e-8, "atol": 1e-12})
    period = tau * torch.log(I / (I - theta))  # after the soft reset v = 0 again
    assert len(times) == 4
    for k, tk in enumerate(times, start=1):
        assert abs(float((tk - k * period).detach())) < 1e-7
    got = torch.autograd.grad(times[2], (I, tau, theta), retain_graph=True)
    want = torch.autograd.grad(3 * period, (I, tau, theta), retain_graph=True)
    for a, b in zip(got, want):
        assert abs(float(a - b)) < 1e-5 * max(1.0, abs(float(b)))
    # the membrane at t = 10 and its gradient (time translation after each event)
    k = int(10.0 / float(period))
    v_end = I * (1 - torch.exp(-(10.0 - k * period) / tau))
    assert abs(float((ys[0][-1, 0] - v_end).detach())) < 1e-7
    got = torch.autograd.grad(ys[0][-1, 0], (I, tau, theta), retain_graph=True)
    want = torch.autograd.grad(v_end, (I, tau, theta))
    for a, b in zip(got, want):
        assert abs(float(a - b)) < 1e-5 * max(1.0, abs(float(b)))


def test_start_above_threshold_is_an_event_at_t0():
    seen = []

    def on_event(c):
        seen.append((c.time_value, c.crossed[0].tolist()))
        return (c.states[0] - c.crossed[0].to(F64),)

    y0 = torch.tensor([1.5, 0.0], dtype=F64)
    t = torch.tensor([0.0, 0.5], dtype=F64)
    odeint_events(lambda t, y: (torch.zeros_like(y[0]),), (y0,), t, [1.0], on_event)
    assert seen == [(0.0, [True, False])]


def test_bad_arguments():
    y0 = (torch.zeros(2, dtype=F64),)
    t = torch.linspace(0.0, 1.0, 3, dtype=F64)

    def f(t, y):
        return (torch.ones_like(y[0]),)

    def ev(c):
        return c.states

    with pytest.raises(ValueError, match="not an adaptive method"):
        odeint_events(f, y0, t, [1.0], ev, "rk4")
    with pytest.raises(ValueError, match="thresholds must be a sequence of 1"):
        odeint_events(f, y0, t, [1.0, 2.0], ev)
    with pytest.raises(ValueError, match="at least one component"):
        odeint_events(f, y0, t, [None], ev)
    with pytest.raises(ValueError, match="rtol"):
        odeint_events(f, y0, t, [1.0], ev, options={"rtol": -1.0})
    with pytest.raises(TypeError, match="on_event must be callable"):
        odeint_events(f, y0, t, [1.0], None)
    with pytest.raises(RuntimeError, match="on_event must return"):
        odeint_events(f, y0, t, [0.5], lambda c: (torch.zeros(3, dtype=F64),))
    assert math.isfinite(float(odeint_events(f, y0, t, [5.0], ev)[0][0].sum()))


# ------------------------------------------------------------------ batched: a step size per sample
def batched_lif(I, tau, theta, log):  # noqa: E741 - I is the input current, one per sample
    def field(t, y):
        assert t.shape == I.shape  # one time per sample
        return ((I - y[0]) / tau,)

    def on_event(c: Crossing):
        for b in c.rows.nonzero().reshape(-1).tolist():
            log.append((b, c.element_times[0][b]))
        return (c.states[0] - theta * c.crossed[0].to(c.states[0].dtype),)

    return field, on_event


@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
@pytest.mark.parametrize("dtype,tol", [(F64, 1e-7), (torch.float32, 1e-4)])
def test_batched_rows_fire_at_their_own_exact_times(method, dtype, tol):
    I = torch.tensor([1.2, 1.5, 2.5, 4.0], dtype=dtype, requires_grad=True)  # noqa: E741
    tau, theta = 2.0, 1.0
    log = []
    field, on_event = batched_lif(I, tau, theta, log)
    t = torch.linspace(0.0, 10.0, 11, dtype=dtype)
    opts = {"rtol": 1e-10 if dtype == F64 else 1e-6, "atol": 1e-12 if dtype == F64 else 1e-7}
    ys, stats = odeint_events(field, (torch.zeros(4, dtype=dtype),), t, [theta], on_event, method,
                              options=opts, batched=True)
    period = tau * torch.log(I / (I - theta))
    counts = (10.0 / period.detach()).floor().long()
    assert stats["events"] == int(counts.sum()) == len(log)
    for b in range(4):
        mine = [tk for r, tk in log if r == b]
        assert len(mine) == int(counts[b])
        for k, tk in enumerate(mine, start=1):
            assert abs(float(tk.detach()) - k * float(period[b])) < tol * k * float(period[b])
    # the implicit-function gradient of one sample's third spike time reaches only its own I
    third = [tk for r, tk in log if r == 2][2]
    (grad,) = torch.autograd.grad(third, I, retain_graph=True)
    (want,) = torch.autograd.grad(3 * period[2], I)
    assert float(grad[[0, 1, 3]].abs().max()) == 0.0
    assert abs(float(grad[2] - want[2])) < (1e-6 if dtype == F64 else 1e-2) * abs(float(want[2]))
    # the end values: v(10) = I (1 - exp(-(10 - k period) / tau)) after the k-th reset
    v_end = I.detach() * (1 - torch.exp(-(10.0 - counts * period.detach()) / tau))
    assert torch.allclose(ys[0][-1], v_end, atol=tol * 10)
    grads = torch.autograd.grad(ys[0][-1].sum(), I)[0]
    assert bool(torch.isfinite(grads).all())


def test_batched_equals_one_solve_per_sample_at_a_fraction_of_the_evaluations():
    I = torch.tensor([1.1, 1.7, 3.0, 6.0], dtype=F64)  # noqa: E741
    t = torch.linspace(0.0, 8.0, 9, dtype=F64)
    opts = {"rtol": 1e-9, "atol": 1e-11}
    log = []
    field, on_event = batched_lif(I, 2.0, 1.0, log)
    ys, stats = odeint_events(field, (torch.zeros(4, dtype=F64),), t, [1.0], on_event, options=opts, batched=True)
    single_nfe = 0
    for b in range(4):
        times = []
        f1, ev1 = lif(I[b : b + 1], 2.0, 1.0, times)
        y1, s1 = odeint_events(f1, (torch.zeros(1, dtype=F64),), t, [1.0], ev1, options=opts)
        single_nfe += s1["nfe"]
        mine = [float(tk) for r, tk in log if r == b]
        assert mine == pytest.approx([float(x) for x in times], abs=1e-9)
        assert torch.allclose(ys[0][:, b], y1[0][:, 0], atol=1e-9)
    # rounds follow the busiest sample, not the batch's total event count
    assert stats["nfe"] < 0.6 * single_nfe, (stats["nfe"], single_nfe)


def test_batched_bad_arguments():
    t = torch.linspace(0.0, 1.0, 3, dtype=F64)

    def f(t, y):
        return tuple(torch.ones_like(v) for v in y)

    with pytest.raises(TypeError, match="batched must be a bool"):
        odeint_events(f, (torch.zeros(2, dtype=F64),), t, [1.0], lambda c: c.states, batched=1)
    with pytest.raises(ValueError, match="same first"):
        odeint_events(f, (torch.zeros(2, dtype=F64), torch.zeros(3, dtype=F64)), t, [1.0, None],
                      lambda c: c.states, batched=True)
    with pytest.raises(ValueError, match="same first"):
        odeint_events(f, (torch.zeros((), dtype=F64),), t, [1.0], lambda c: c.states, batched=True)


@pytest.mark.parametrize("batched", [False, True])
def test_an_event_within_the_resolution_of_the_end_finishes_the_solve(batched):
    # y' = 1 crosses 15 - 3e-6 at that time: the remainder to t = 15 is below float32's
    # resolution there (4 eps 15 = 7e-6), too short for a step
    th = 15.0 - 3e-6
    t = torch.tensor([0.0, 7.5, 15.0], dtype=torch.float32)
    seen = []

    def on_event(c):
        seen.append(c.time_value)
        return (torch.where(c.crossed[0], torch.zeros_like(c.states[0]), c.states[0]),)

    y0 = torch.zeros(2 if batched else 1, dtype=torch.float32)
    ys, stats = odeint_events(lambda t, y: (torch.ones_like(y[0]),), (y0,), t, [th], on_event, batched=batched)
    assert stats["events"] == y0.numel()
    assert ys[0].shape == (3, *y0.shape)
    assert torch.allclose(ys[0][1], torch.full_like(y0, 7.5))
    assert float(ys[0][2].abs().max()) < 1e-5  # reset to 0 just before the end
