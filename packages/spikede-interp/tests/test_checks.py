"""Bad input raises a clear error naming the argument, before any work."""

from __future__ import annotations

import pytest
import torch

import spikede_interp._checks as checks
from spikede_interp import (
    METHODS,
    Interpolator,
    akima_interpolate_batched,
    cubic_interpolate_batched,
    interpolate,
    linear_interpolate_batched,
    nearest_interpolate_batched,
)

T, B = 6, 3


def good():
    return torch.randn(T, B, 2, dtype=torch.float64), torch.arange(
        T, dtype=torch.float64
    )


def test_x_of_rank_below_two():
    with pytest.raises(ValueError, match=r"x must have shape \[T, B, \.\.\.\].*\(6,\)"):
        Interpolator(
            torch.randn(T, dtype=torch.float64), torch.arange(T, dtype=torch.float64)
        )


def test_x_time_of_rank_three():
    x, _ = good()
    with pytest.raises(ValueError, match=r"x_time must have shape .*\(1, 6, 3\)"):
        Interpolator(x, torch.zeros(1, T, B, dtype=torch.float64))


def test_x_time_length_not_t():
    x, _ = good()
    with pytest.raises(ValueError, match=r"x_time .*length T = 6.*got length 7"):
        Interpolator(x, torch.arange(T + 1, dtype=torch.float64))


def test_x_time_2d_shape_matching_neither_layout():
    x, _ = good()
    with pytest.raises(
        ValueError, match=r"x_time must have shape .*\(3, 6\).*\(6, 3\).*\(3, 5\)"
    ):
        Interpolator(x, torch.zeros(B, T - 1, dtype=torch.float64))


def test_2d_x_time_layouts_and_square_rule():
    x, grid = good()
    per_sample = grid.expand(B, T) + torch.arange(B, dtype=torch.float64)[:, None]
    a = Interpolator(x, per_sample, "linear")
    b = Interpolator(x, per_sample.T.contiguous(), "linear")
    assert torch.equal(a.x_time, per_sample) and torch.equal(b.x_time, per_sample)
    # T == B: a 2-d x_time is read as [B, T]
    xs = torch.randn(4, 4, dtype=torch.float64)
    square = (
        torch.arange(4, dtype=torch.float64)
        + 10.0 * torch.arange(4.0).double()[:, None]
    )
    interp = Interpolator(xs, square, "linear")
    assert torch.equal(interp.x_time, square)
    torch.testing.assert_close(interp(square[:, 2].contiguous()), xs[2])


@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_non_increasing_x_time(method):
    x, grid = good()
    bad = grid.clone()
    bad[3] = bad[2]
    with pytest.raises(
        ValueError, match=r"x_time must be strictly increasing.*x_time\[3\]"
    ):
        Interpolator(x, bad, method)
    per_sample = grid.expand(B, T).clone()
    per_sample[1, 4] = -1.0
    with pytest.raises(
        ValueError, match=r"x_time must be strictly increasing.*x_time\[1, 4\]"
    ):
        Interpolator(x, per_sample, method)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_x_time(value):
    x, grid = good()
    bad = grid.clone()
    bad[2] = value
    with pytest.raises(ValueError, match=r"x_time must be finite.*index \(2,\)"):
        Interpolator(x, bad)


@pytest.mark.parametrize(
    ("method", "needed"), [("cubic", 4), ("akima", 5), ("linear", 1)]
)
def test_too_few_points(method, needed):
    t_len = needed - 1
    x = torch.randn(t_len, B, dtype=torch.float64)
    with pytest.raises(
        ValueError, match=rf"method '{method}' needs at least {needed} samples"
    ):
        Interpolator(x, torch.arange(t_len, dtype=torch.float64), method)
    Interpolator(
        torch.randn(needed, B, dtype=torch.float64),
        torch.arange(needed, dtype=torch.float64),
        method,
    )


def test_unknown_method_lists_accepted():
    x, grid = good()
    with pytest.raises(
        ValueError, match=r"method must be one of \['linear', 'nearest'.*'spline'"
    ):
        Interpolator(x, grid, "spline")
    with pytest.raises(TypeError, match=r"method must be a str"):
        Interpolator(x, grid, None)
    assert METHODS == ("linear", "nearest", "previous", "cubic", "akima")


def test_t_batch_not_b():
    x, grid = good()
    interp = Interpolator(x, grid)
    with pytest.raises(
        ValueError, match=r"t must be .*\[B\] = \(3,\); got shape \(2,\)"
    ):
        interp(torch.zeros(2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"t must be .*got shape \(3, 1\)"):
        interpolate(x, grid, torch.zeros(3, 1, dtype=torch.float64))


def test_integer_x_time_is_a_type_error():
    x, _ = good()
    with pytest.raises(
        TypeError, match=r"x_time must be a real floating-point.*torch.int64"
    ):
        Interpolator(x, torch.arange(T))


def test_integer_x_is_a_type_error():
    with pytest.raises(
        TypeError, match=r"x must be a real floating-point.*torch.int64"
    ):
        Interpolator(
            torch.ones(T, B, dtype=torch.int64), torch.arange(T, dtype=torch.float64)
        )


def test_non_tensor_arguments():
    x, grid = good()
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor.*list"):
        Interpolator([[0.0]], grid)
    with pytest.raises(TypeError, match=r"x_time must be a torch.Tensor.*list"):
        Interpolator(x, list(range(T)))


def test_bad_query_types():
    x, grid = good()
    interp = Interpolator(x, grid)
    with pytest.raises(TypeError, match=r"t must be .*bool"):
        interp(True)
    with pytest.raises(
        TypeError, match=r"t must be a real floating-point tensor.*torch.int64"
    ):
        interp(torch.tensor(1))
    with pytest.raises(TypeError, match=r"t must be .*str"):
        interp("1.0")


def test_dtype_mismatch_of_x_and_x_time():
    x, grid = good()
    with pytest.raises(
        TypeError, match=r"x_time must have the dtype of x \(torch.float64\).*float32"
    ):
        Interpolator(x, grid.float())


def test_device_mismatch():
    x, grid = good()
    with pytest.raises(
        ValueError, match=r"x_time must be on the device of x \(cpu\).*meta"
    ):
        Interpolator(x, grid.to("meta"))
    interp = Interpolator(x, grid)
    with pytest.raises(ValueError, match=r"t must be on the device of x \(cpu\).*meta"):
        interp(torch.zeros(B, dtype=torch.float64, device="meta"))


@pytest.mark.parametrize(
    "fn",
    [
        linear_interpolate_batched,
        nearest_interpolate_batched,
        cubic_interpolate_batched,
        akima_interpolate_batched,
    ],
)
def test_batched_functions_require_strict_layout(fn):
    x, grid = good()
    per_sample = grid.expand(B, T).contiguous()
    t = torch.full((B,), 2.5, dtype=torch.float64)
    assert fn(x, per_sample, t).shape == (B, 2)
    with pytest.raises(
        ValueError, match=rf"{fn.__name__}: x_time must have shape \[B, T\]"
    ):
        fn(x, per_sample.T, t)
    with pytest.raises(
        ValueError, match=rf"{fn.__name__}: x_time must have shape \[B, T\]"
    ):
        fn(x, grid, t)
    with pytest.raises(ValueError, match=rf"{fn.__name__}: t must have shape \[B\]"):
        fn(x, per_sample, torch.tensor(2.5, dtype=torch.float64))
    with pytest.raises(TypeError, match=rf"{fn.__name__}: t must be a \[B\] tensor"):
        fn(x, per_sample, 2.5)


def test_value_checks_run_once_at_construction(monkeypatch):
    calls = []
    original = checks._check_x_time_values
    monkeypatch.setattr(
        checks, "_check_x_time_values", lambda g: calls.append(1) or original(g)
    )
    x, grid = good()
    interp = Interpolator(x, grid, "akima")
    for t in (0.5, 1.5, torch.tensor(2.5, dtype=torch.float64)):
        interp(t)
    assert len(calls) == 1
