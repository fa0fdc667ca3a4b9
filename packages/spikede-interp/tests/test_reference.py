"""Every method against an independent reference (scipy, closed forms, loops, gradcheck)."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
import torch
from scipy.interpolate import Akima1DInterpolator, CubicHermiteSpline, interp1d

from spikede_interp import (
    Interpolator,
    akima_interpolate_batched,
    cubic_interpolate_batched,
    interpolate,
    linear_interpolate_batched,
    nearest_interpolate_batched,
)

METHODS = ["linear", "nearest", "previous", "cubic", "akima"]
TOL = {
    torch.float64: {"rtol": 1e-10, "atol": 1e-10},
    torch.float32: {"rtol": 1e-4, "atol": 2e-4},
}


def random_grid(gen: torch.Generator, t_len: int, batch: int | None) -> torch.Tensor:
    """Random strictly increasing non-uniform times, [T] or [B, T], in float64."""
    shape = (t_len,) if batch is None else (batch, t_len)
    steps = 0.2 + 1.3 * torch.rand(shape, generator=gen, dtype=torch.float64)
    start = (
        4.0 * torch.rand(shape[:-1] + (1,), generator=gen, dtype=torch.float64) - 2.0
    )
    return start + torch.cumsum(steps, dim=-1) - steps[..., :1]


def catmull_rom_tangents(times: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Finite-difference tangents (one-sided at the ends) of a series y [T, F]."""
    m = np.empty_like(y)
    m[1:-1] = (y[2:] - y[:-2]) / (times[2:] - times[:-2])[:, None]
    m[0] = (y[1] - y[0]) / (times[1] - times[0])
    m[-1] = (y[-1] - y[-2]) / (times[-1] - times[-2])
    return m


def scipy_reference(
    x: torch.Tensor, x_time: torch.Tensor, t: torch.Tensor, method: str
):
    """Evaluate with scipy, one batch element at a time. x_time is [T] or [B, T]."""
    xn = x.double().numpy()
    tn = np.broadcast_to(t.double().numpy(), (x.shape[1],))
    out = []
    for b in range(x.shape[1]):
        times = (x_time if x_time.dim() == 1 else x_time[b]).double().numpy()
        y = xn[:, b].reshape(x.shape[0], -1)
        tc = np.clip(tn[b], times[0], times[-1])
        if method in ("linear", "nearest", "previous"):
            val = interp1d(times, y, kind=method, axis=0)(tc)
        elif method == "cubic":
            val = CubicHermiteSpline(times, y, catmull_rom_tangents(times, y), axis=0)(
                tc
            )
        else:  # akima, one 1-d series per feature column
            val = np.array(
                [Akima1DInterpolator(times, y[:, f])(tc) for f in range(y.shape[1])]
            )
        out.append(np.asarray(val).reshape(x.shape[2:]))
    return torch.from_numpy(np.stack(out))


def query_times(gen: torch.Generator, x_time: torch.Tensor, batch: int, n: int) -> list:
    """n query vectors [B]: inside, at sample times and outside the sampled range."""
    lo = x_time[..., 0].expand(batch)
    hi = x_time[..., -1].expand(batch)
    width = hi - lo
    queries = []
    for _ in range(n):
        u = 1.4 * torch.rand(batch, generator=gen, dtype=torch.float64) - 0.2
        queries.append(lo + u * width)
    return queries


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("layout", ["shared", "BT", "TB"])
@pytest.mark.parametrize("features", [(), (3,), (2, 3)])
def test_matches_scipy(dtype, method, layout, features):
    gen = torch.Generator().manual_seed(
        zlib.crc32(repr((method, layout, features)).encode())
    )
    t_len, batch = 8, 3
    grid = random_grid(gen, t_len, None if layout == "shared" else batch)
    x64 = torch.randn((t_len, batch, *features), generator=gen, dtype=torch.float64)
    x, grid_d = x64.to(dtype), grid.to(dtype)
    given = grid_d.transpose(0, 1) if layout == "TB" else grid_d
    interp = Interpolator(x, given, method)
    for t in query_times(gen, grid, batch, 12):
        got = interp(t.to(dtype))
        assert got.dtype == dtype and got.shape == (batch, *features)
        want = scipy_reference(x, grid_d, t.to(dtype), method)
        torch.testing.assert_close(got.double(), want, **TOL[dtype])
    # a scalar query, as a float and as a 0-d tensor
    t0 = float(grid[..., 0].max() + 0.37 * (grid[..., -1].min() - grid[..., 0].max()))
    want = scipy_reference(x, grid_d, torch.tensor(t0, dtype=dtype), method)
    torch.testing.assert_close(interp(t0).double(), want, **TOL[dtype])
    torch.testing.assert_close(
        interpolate(x, given, torch.tensor(t0, dtype=dtype), method).double(),
        want,
        **TOL[dtype],
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shared", [True, False])
def test_reproduces_samples(dtype, method, shared):
    gen = torch.Generator().manual_seed(7)
    t_len, batch = 7, 4
    grid = random_grid(gen, t_len, None if shared else batch).to(dtype)
    x = torch.randn(t_len, batch, 2, generator=gen, dtype=torch.float64).to(dtype)
    interp = Interpolator(x, grid, method)
    for k in range(t_len):
        got = interp(grid[..., k].expand(batch).contiguous())
        torch.testing.assert_close(got, x[k], **TOL[dtype])
        if shared:
            torch.testing.assert_close(interp(grid[k]), x[k], **TOL[dtype])


def test_uniform_catmull_rom_equals_matrix_form():
    """On an even grid, cubic is the textbook Catmull-Rom spline (phantom ends reflected)."""
    gen = torch.Generator().manual_seed(3)
    t_len, h, start = 7, 0.5, -1.25
    grid = start + h * torch.arange(t_len, dtype=torch.float64)
    x = torch.randn(t_len, 2, 3, generator=gen, dtype=torch.float64)
    padded = torch.cat((2 * x[:1] - x[1:2], x, 2 * x[-1:] - x[-2:-1]))  # P_-1 .. P_T
    basis = 0.5 * torch.tensor(
        [[0, 2, 0, 0], [-1, 0, 1, 0], [2, -5, 4, -1], [-1, 3, -3, 1]],
        dtype=torch.float64,
    )
    interp = Interpolator(x, grid, "cubic")
    for k in range(t_len - 1):
        for u in (0.0, 0.1, 0.5, 0.77, 0.999):
            powers = torch.tensor([1.0, u, u * u, u**3], dtype=torch.float64)
            weights = powers @ basis  # weights of P_{k-1}, P_k, P_{k+1}, P_{k+2}
            want = torch.einsum("j,jbf->bf", weights, padded[k : k + 4])
            got = interp(float(grid[k] + u * h))
            torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["linear", "cubic", "akima"])
def test_straight_lines_are_reproduced_on_non_uniform_grids(method):
    gen = torch.Generator().manual_seed(11)
    grid = random_grid(gen, 9, 2)
    slope = torch.tensor([1.5, -0.25], dtype=torch.float64)
    x = (3.0 + slope * grid.T).unsqueeze(-1)  # [T, B, 1]
    interp = Interpolator(x, grid, method)
    for t in query_times(gen, grid, 2, 10):
        tc = torch.minimum(torch.maximum(t, grid[:, 0]), grid[:, -1])
        torch.testing.assert_close(
            interp(t)[:, 0], 3.0 + slope * tc, rtol=1e-12, atol=1e-12
        )


def test_akima_zero_weights_take_the_mean_slope():
    """Akima's 0/0 case (w1 = w2 = 0) uses the mean of the two chord slopes, as scipy."""
    times = torch.arange(8, dtype=torch.float64)
    y = torch.tensor([0.0, 0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 2.0], dtype=torch.float64)
    interp = Interpolator(y.reshape(8, 1), times, "akima")
    ts = torch.linspace(0.0, 7.0, 57, dtype=torch.float64)
    got = torch.stack([interp(float(s)) for s in ts])[:, 0]
    want = torch.from_numpy(Akima1DInterpolator(times.numpy(), y.numpy())(ts.numpy()))
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    # node 2 is degenerate: slope (0 + 1) / 2; the Hermite cubic on [1, 2] with end
    # slopes 0 and 0.5 gives 0.5 * (u**3 - u**2) = -0.0625 at u = 0.5.
    assert interp(1.5).item() == pytest.approx(-0.0625, abs=1e-14)
    # nodes 0, 1, 5, 6, 7 have slope 0: flat on [0, 1] and [5, 7]
    assert torch.all(got[ts <= 1.0] == 0.0) and torch.all(got[ts >= 5.0] == 2.0)


def test_nearest_ties_pick_the_earlier_sample_and_is_not_a_hold():
    x = torch.tensor([[1.0], [5.0], [9.0]], dtype=torch.float64)
    times = torch.tensor([0.0, 2.0, 3.0], dtype=torch.float64)
    nearest = Interpolator(x, times, "nearest")
    hold = Interpolator(x, times, "previous")
    assert nearest(1.0).item() == 1.0  # halfway: earlier sample
    assert nearest(1.0 + 1e-9).item() == 5.0
    assert nearest(2.5).item() == 5.0 and nearest(2.5 + 1e-9).item() == 9.0
    assert (
        hold(1.9).item() == 1.0 and hold(2.0).item() == 5.0 and hold(2.99).item() == 5.0
    )
    # the same ties on a per-sample [B, T] grid with a [B] query
    grid2 = torch.stack((times, times + 1.0))
    x2 = torch.cat((x, x + 100.0), dim=1)
    got = Interpolator(x2, grid2, "nearest")(
        torch.tensor([1.0, 3.5], dtype=torch.float64)
    )
    assert got.tolist() == [1.0, 105.0]


@pytest.mark.parametrize("method", ["linear", "nearest", "previous"])
def test_single_sample_is_a_constant(method):
    x = torch.tensor([[[1.0, 2.0]], [[3.0, 4.0]]]).transpose(0, 1)  # [T=1, B=2, 2]
    interp = Interpolator(x, torch.tensor([0.5]), method)
    for t in (-3.0, 0.5, 7.0):
        torch.testing.assert_close(interp(t), x[0], rtol=0, atol=0)


@pytest.mark.parametrize("method", METHODS)
def test_per_sample_grid_equals_loop_over_samples(method):
    gen = torch.Generator().manual_seed(5)
    t_len, batch = 8, 4
    grid = random_grid(gen, t_len, batch)
    x = torch.randn(t_len, batch, 2, 2, generator=gen, dtype=torch.float64)
    batched_fn = {
        "linear": linear_interpolate_batched,
        "nearest": nearest_interpolate_batched,
        "cubic": cubic_interpolate_batched,
        "akima": akima_interpolate_batched,
    }.get(method)
    interp = Interpolator(x, grid, method)
    for t in query_times(gen, grid, batch, 6):
        loop = torch.stack(
            [
                Interpolator(x[:, b : b + 1], grid[b], method)(float(t[b]))[0]
                for b in range(batch)
            ]
        )
        torch.testing.assert_close(interp(t), loop, rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(
            interpolate(x, grid, t, method), loop, rtol=1e-13, atol=1e-13
        )
        if batched_fn is not None:
            torch.testing.assert_close(
                batched_fn(x, grid, t), loop, rtol=1e-13, atol=1e-13
            )


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shared", [True, False])
def test_gradcheck_wrt_x(method, shared):
    gen = torch.Generator().manual_seed(13)
    t_len, batch = 6, 2
    grid = random_grid(gen, t_len, None if shared else batch)
    x = torch.randn(
        t_len, batch, 2, generator=gen, dtype=torch.float64, requires_grad=True
    )
    lo, hi = grid[..., 0].max(), grid[..., -1].min()
    ts = [lo + 0.3 * (hi - lo) * torch.ones(batch, dtype=torch.float64)]
    ts.append(torch.stack([grid[..., 0].min() - 1.0, lo + 0.71 * (hi - lo)]))
    for t in ts:
        assert torch.autograd.gradcheck(
            lambda v, t=t: interpolate(v, grid, t, method), (x,)
        )
    scalar = float(lo + 0.55 * (hi - lo))
    assert torch.autograd.gradcheck(
        lambda v: Interpolator(v, grid, method)(scalar), (x,)
    )


@pytest.mark.parametrize("method", ["linear", "cubic", "akima"])
def test_gradcheck_wrt_t(method):
    gen = torch.Generator().manual_seed(17)
    grid = random_grid(gen, 7, 2)
    x = torch.randn(7, 2, 3, generator=gen, dtype=torch.float64)
    interp = Interpolator(x, grid, method)
    # strictly inside an interval, away from the knots where the derivative jumps
    t = (0.6 * grid[:, 2] + 0.4 * grid[:, 3]).requires_grad_(True)
    assert torch.autograd.gradcheck(interp, (t,))


@pytest.mark.parametrize("method", METHODS)
def test_one_object_serves_many_queries_in_one_graph(method):
    gen = torch.Generator().manual_seed(19)
    grid = random_grid(gen, 6, None)
    x = torch.randn(6, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    ts = [float(grid[0] + u * (grid[-1] - grid[0])) for u in (0.1, 0.45, 0.8)]
    interp = Interpolator(x, grid, method)
    (g_once,) = torch.autograd.grad(sum(interp(t).square().sum() for t in ts), x)
    g_sep = sum(
        torch.autograd.grad(interpolate(x, grid, t, method).square().sum(), x)[0]
        for t in ts
    )
    torch.testing.assert_close(g_once, g_sep, rtol=1e-12, atol=1e-12)


def test_results_follow_the_input_dtype():
    x = torch.randn(5, 2, dtype=torch.float32)
    grid = torch.arange(5, dtype=torch.float32)
    for method, t in itertools.product(
        METHODS, (1.5, torch.tensor(1.5, dtype=torch.float64))
    ):
        assert interpolate(x, grid, t, method).dtype == torch.float32
    x64 = x.double()
    assert (
        interpolate(x64, grid.double(), torch.tensor([1.5, 2.5]), "akima").dtype
        == torch.float64
    )


@pytest.mark.parametrize("method", METHODS)
def test_empty_batch(method):
    x = torch.randn(6, 0, 3)
    for grid in (torch.arange(6.0), torch.zeros(0, 6)):
        assert Interpolator(x, grid, method)(torch.zeros(0)).shape == (0, 3)


# ---- Interpolator.at: many query times at once, against scipy and single queries
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "per-sample"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_at_matches_scipy_and_single_queries(method: str, shared: bool, dtype) -> None:
    gen = torch.Generator().manual_seed(7)
    t_len, batch = 9, 3
    x_time = random_grid(gen, t_len, None if shared else batch)
    x = torch.randn(t_len, batch, 2, 3, generator=gen, dtype=torch.float64)
    lo, hi = float(x_time.min()) - 1.0, float(x_time.max()) + 1.0
    times = torch.linspace(lo, hi, 37, dtype=torch.float64)
    interp = Interpolator(x.to(dtype), x_time.to(dtype), method)
    out = interp.at(times.to(dtype))
    assert out.shape == (37, batch, 2, 3) and out.dtype == dtype
    single = torch.stack([interp(q) for q in times.to(dtype)])
    assert torch.equal(out, single)  # the same arithmetic, bit for bit
    expected = np.stack([scipy_reference(x, x_time, q, method) for q in times])
    np.testing.assert_allclose(
        out.double().numpy(), expected, rtol=TOL[dtype]["rtol"], atol=TOL[dtype]["atol"]
    )


@pytest.mark.parametrize("method", ["linear", "cubic", "akima", "previous"])
def test_at_gradcheck(method: str) -> None:
    gen = torch.Generator().manual_seed(3)
    x_time = random_grid(gen, 6, None)
    x = torch.randn(6, 2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    times = x_time[0] + (x_time[-1] - x_time[0]) * torch.rand(5, generator=gen, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: Interpolator(x, x_time, method).at(times), (x,))


def test_at_empty_and_errors() -> None:
    interp = Interpolator(torch.zeros(3, 2), torch.arange(3.0))
    assert interp.at(torch.zeros(0)).shape == (0, 2)
    with pytest.raises(TypeError, match="times must be a 1-d floating tensor"):
        interp.at([0.5])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="times must be a real floating-point tensor"):
        interp.at(torch.arange(2))
    with pytest.raises(ValueError, match=r"times must be a 1-d tensor \[N\]; got shape \(\)"):
        interp.at(torch.tensor(0.5))
