"""Hypothesis property tests (small fixed example budget).

Times are dyadic (multiples of 1/16) and shifts are integers, so in float64 every
time difference, midpoint and shift is exact and shift invariance can be tested tightly.
"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikede_interp import Interpolator

METHODS = ["linear", "nearest", "previous", "cubic", "akima"]
SETTINGS = settings(max_examples=25, deadline=None)


@st.composite
def series(draw):
    """(x [T, B, F], x_time [T] or [B, T], method, t [B]) in float64."""
    method = draw(st.sampled_from(METHODS))
    t_len = draw(st.integers(5, 9))
    batch = draw(st.integers(1, 3))
    feats = draw(st.integers(1, 2))
    shared = draw(st.booleans())
    rows = 1 if shared else batch
    steps = draw(
        st.lists(st.integers(1, 40), min_size=rows * t_len, max_size=rows * t_len)
    )
    start = draw(st.integers(-64, 64))
    ticks = (
        torch.tensor(steps, dtype=torch.float64).reshape(rows, t_len).cumsum(1) + start
    )
    grid = ticks / 16.0
    grid = grid[0] if shared else grid
    n = t_len * batch * feats
    values = draw(
        st.lists(st.floats(-10, 10, allow_nan=False, width=64), min_size=n, max_size=n)
    )
    x = torch.tensor(values, dtype=torch.float64).reshape(t_len, batch, feats)
    # query: whole sixteenths from 2 before the first to 2 after the last sample time
    lo, hi = grid[..., 0].min(), grid[..., -1].max()
    span = int((hi - lo) * 16) + 64
    q = draw(st.lists(st.integers(0, span), min_size=batch, max_size=batch))
    t = lo - 2.0 + torch.tensor(q, dtype=torch.float64) / 16.0
    return x, grid, method, t


@SETTINGS
@given(series())
def test_hits_the_samples(data):
    x, grid, method, _ = data
    interp = Interpolator(x, grid, method)
    for k in range(x.shape[0]):
        t = grid[..., k].expand(x.shape[1]).contiguous()
        torch.testing.assert_close(interp(t), x[k], rtol=1e-9, atol=1e-9)


@SETTINGS
@given(series(), st.sampled_from(["linear", "nearest", "previous"]))
def test_low_order_methods_stay_inside_the_sample_envelope(data, method):
    x, grid, _, t = data
    y = Interpolator(x, grid, method)(t)
    lo, hi = x.amin(dim=0), x.amax(dim=0)
    assert torch.all(y >= lo - 1e-12) and torch.all(y <= hi + 1e-12)


@SETTINGS
@given(series(), st.integers(-1000, 1000))
def test_invariant_under_a_time_shift(data, shift):
    x, grid, method, t = data
    y = Interpolator(x, grid, method)(t)
    y_shifted = Interpolator(x, grid + shift, method)(t + shift)
    torch.testing.assert_close(y_shifted, y, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(series())
def test_outside_the_range_clamps_to_the_end_values(data):
    x, grid, method, _ = data
    interp = Interpolator(x, grid, method)
    batch = x.shape[1]
    before = (grid[..., 0] - 3.5).expand(batch).contiguous()
    after = (grid[..., -1] + 3.5).expand(batch).contiguous()
    torch.testing.assert_close(interp(before), x[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(interp(after), x[-1], rtol=1e-9, atol=1e-9)
