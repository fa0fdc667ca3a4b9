"""The event-camera emulator (spikede.events) against hand-computed event streams."""

from __future__ import annotations

import doctest
import importlib
import math

import numpy as np
import pytest

from spikede.events import (
    EVENT_DTYPE,
    NMNIST_SENSOR_SIZE,
    emulate_events,
    saccade_events,
    saccade_frames,
)

C = 0.35  # contrast threshold of the hand-computed cases
EPS = 0.1  # log offset: L = log(0.1 + I)


def two_frames(before: np.ndarray, after: np.ndarray, dt: float = 1000.0):
    return np.stack([before, after]), np.array([0.0, dt])


def digit(index: int = 0) -> np.ndarray:
    load_digits = pytest.importorskip("sklearn.datasets").load_digits
    return load_digits().images[index] / 16.0


def pixel_gaps(events: np.ndarray) -> np.ndarray:
    """Time between consecutive events of the same pixel, over all pixels."""
    order = np.lexsort((events["t"], events["x"], events["y"]))
    ev = events[order]
    same = (ev["x"][1:] == ev["x"][:-1]) & (ev["y"][1:] == ev["y"][:-1])
    return np.diff(ev["t"])[same]


# --- the change detector -----------------------------------------------------------


def test_a_bar_shifted_by_one_pixel_fires_on_its_leading_and_off_on_its_trailing_edge():
    before = np.zeros((5, 9))
    before[:, 3:5] = 1.0  # bright bar on columns 3-4
    after = np.zeros((5, 9))
    after[:, 4:6] = 1.0  # ... moved right by one pixel: columns 4-5
    ev = emulate_events(*two_frames(before, after), threshold=C, log_offset=EPS)
    # log(1.1) - log(0.1) = log(11) = 2.398 = 6.85 thresholds: 6 events per edge pixel
    per_pixel = 6
    on, off = ev[ev["p"] == 1], ev[ev["p"] == 0]
    assert set(on["x"].tolist()) == {5} and set(off["x"].tolist()) == {3}
    assert len(on) == len(off) == 5 * per_pixel
    for row in range(5):
        assert (on["y"] == row).sum() == (off["y"] == row).sum() == per_pixel
    # the k-th crossing of a linear ramp of 2.398 over 1000 us is at 1000 k C / log(11)
    expected_t = [math.floor(1000 * k * C / math.log(11)) for k in range(1, 7)]
    assert expected_t == [145, 291, 437, 583, 729, 875]
    assert sorted(set(on["t"].tolist())) == expected_t
    assert sorted(set(off["t"].tolist())) == expected_t
    assert (np.diff(ev["t"]) >= 0).all()


def test_count_is_the_number_of_thresholds_crossed_up_and_down():
    # one pixel per column; intensities chosen so that log(0.1 + I) - log(0.1) = k.5 C
    steps = np.array([0.5, 1.5, 2.5, 4.5, -0.5, -1.5, -2.5])
    start = np.full(steps.size, 1.0)
    end = (start + EPS) * np.exp(steps * C) - EPS
    ev = emulate_events(*two_frames(start[None], end[None]), threshold=C, log_offset=EPS)
    counts = [int((ev["x"] == i).sum()) for i in range(steps.size)]
    assert counts == [0, 1, 2, 4, 0, 1, 2]
    assert set(ev["p"][ev["x"] < 4].tolist()) == {1} and set(ev["p"][ev["x"] >= 4].tolist()) == {0}


def test_the_reference_is_per_pixel_and_kept_between_frames():
    # a slow drift of 0.6 C per frame: the reference stays at the first level, so the
    # second frame crosses +C (frame-to-frame differences of 0.6 C never would); the
    # reference is then +C, and the fall to -0.1 C crosses 0 once; the rise to 0.5 C
    # stays within one threshold of that reference: ON, OFF and nothing more
    levels = np.array([0.0, 0.6, 1.2, -0.1, 0.5]) * C
    video = (np.exp(np.log(EPS + 1.0) + levels) - EPS)[:, None, None]
    other = np.full_like(video, 1.0)  # a neighbour that never changes
    frames = np.concatenate([video, other], axis=2)
    ev = emulate_events(frames, np.arange(5) * 1000, threshold=C, log_offset=EPS)
    assert ev["x"].tolist() == [0, 0] and ev["p"].tolist() == [1, 0]
    # +C at 0.4 / 0.6 of the second ramp, 0 at 1.2 / 1.3 of the third
    assert ev["t"].tolist() == [1666, 2923]


def test_a_static_scene_gives_no_events_and_a_closed_path_balances_on_and_off():
    frames = np.repeat(np.random.default_rng(0).random((1, 6, 6)), 5, axis=0)
    assert len(emulate_events(frames, np.arange(5) * 100)) == 0
    # without noise or refractory period, a pixel back at its first level L0 has its
    # reference ref = L0 + (ON - OFF) C within one threshold of L0: |ON - OFF| <= 1
    ev = saccade_events(digit(3))
    assert len(ev) > 1000
    on = np.zeros((34, 34), int)
    off = np.zeros((34, 34), int)
    np.add.at(on, (ev["y"][ev["p"] == 1], ev["x"][ev["p"] == 1]), 1)
    np.add.at(off, (ev["y"][ev["p"] == 0], ev["x"][ev["p"] == 0]), 1)
    assert np.abs(on - off).max() == 1  # the bound is reached: a crossing must go past
    assert on.max() > 5  # while single pixels fire many times
    # no burst of events when the path closes: the last millisecond is like the others
    assert (ev["t"] >= 299_000).sum() < 0.01 * len(ev)


def test_refractory_period_blinds_the_pixel_and_its_reference_follows_the_input():
    # a ramp of 10.5 thresholds in 1000 us: crossings every 95.24 us without refractory
    start, end = np.array([[1.0]]), np.array([[(1.0 + EPS) * np.exp(10.5 * C) - EPS]])
    free = emulate_events(*two_frames(start, end), threshold=C, log_offset=EPS)
    assert free["t"].tolist() == [math.floor(1000 * k / 10.5) for k in range(1, 11)]
    # with 250 us: event at 95.2 (ref C), reset until 345.2 (ref 3.625 C), next at 4.625 C
    # = 440.5 us, reset until 690.5 (ref 7.25 C), next at 8.25 C = 785.7 us, reset past the end
    ev = emulate_events(*two_frames(start, end), threshold=C, log_offset=EPS, refractory_us=250)
    assert ev["t"].tolist() == [95, 440, 785]


def test_refractory_period_holds_on_a_digit_with_noise():
    image = digit(1)
    free = saccade_events(image, step_us=2000, noise_rate_hz=200.0, rng=1)
    assert pixel_gaps(free).min() < 500  # the case is not vacuous
    ev = saccade_events(image, step_us=2000, noise_rate_hz=200.0, rng=1, refractory_us=500)
    assert pixel_gaps(ev).min() >= 500
    assert 0.2 * len(free) < len(ev) < len(free)


def test_refractory_filter_of_the_merged_stream_is_the_greedy_rule():
    from spikede.events._pixel import _refractory_mask

    rng = np.random.default_rng(5)
    pixel = rng.integers(0, 4, 400)
    t = rng.integers(0, 20_000, 400)
    keep = _refractory_mask(pixel, t, 300)
    # oracle: walk each pixel's events in time order, keep one when 300 us have passed
    expected = np.zeros(400, bool)
    for px in range(4):
        last = -np.inf
        for i in sorted(np.flatnonzero(pixel == px), key=lambda i: (t[i], i)):
            if t[i] - last >= 300:
                expected[i], last = True, t[i]
    np.testing.assert_array_equal(keep, expected)
    assert 50 < keep.sum() < 350


# --- noise and seeds -----------------------------------------------------------------


@pytest.mark.parametrize("rate", [5.0, 40.0])
def test_noise_rate_matches_a_poisson_process_per_pixel(rate):
    frames = np.full((2, 34, 34), 0.5)  # a static scene: every event is noise
    duration_s = 0.8
    ev = emulate_events(frames, np.array([0, duration_s * 1e6]), noise_rate_hz=rate, rng=3)
    expected = rate * 34 * 34 * duration_s
    assert abs(len(ev) - expected) < 4 * math.sqrt(expected)
    assert abs(ev["p"].mean() - 0.5) < 4 * 0.5 / math.sqrt(expected)
    assert ev["t"].min() >= 0 and ev["t"].max() < duration_s * 1e6
    # spread over the pixels: per-pixel counts have a Poisson variance
    counts = np.zeros((34, 34))
    np.add.at(counts, (ev["y"], ev["x"]), 1)
    mean = expected / counts.size
    assert 0.7 * mean < counts.var() < 1.3 * mean


def test_same_seed_same_events_other_seed_other_events():
    image = digit(2)
    a = saccade_events(image, noise_rate_hz=20.0, rng=7)
    b = saccade_events(image, noise_rate_hz=20.0, rng=np.random.default_rng(7))
    c = saccade_events(image, noise_rate_hz=20.0, rng=8)
    assert a.dtype == EVENT_DTYPE and a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()
    # without noise nothing is random
    assert saccade_events(image, rng=1).tobytes() == saccade_events(image, rng=2).tobytes()


# --- the saccades --------------------------------------------------------------------


def test_saccade_frames_place_the_image_and_shift_it_along_the_vertices():
    image = np.random.default_rng(0).random((28, 28))
    frames, times = saccade_frames(
        image, vertices=((0.0, 0.0), (1.0, 0.0)), saccade_us=10_000, step_us=1_000
    )
    assert frames.shape == (21, 34, 34) and times.tolist() == list(range(0, 21_000, 1000))
    # 28x28 on the 28x28 inner area: an exact copy at (3, 3), black around it
    np.testing.assert_allclose(frames[0, 3:31, 3:31], image, atol=1e-12)
    assert frames[0, :3].max() == 0.0 and frames[0, :, 31:].max() == 0.0
    # after one saccade the shift is (1, 0): one column to the right
    np.testing.assert_allclose(frames[10, 3:31, 4:32], image, atol=1e-12)
    np.testing.assert_allclose(frames[20], frames[0], atol=1e-12)  # the path closes
    # half way the image is the mean of its two neighbours (bilinear)
    np.testing.assert_allclose(frames[5, 3:31, 4:31], 0.5 * (image[:, 1:] + image[:, :-1]))


def test_digit_events_look_like_nmnist():
    ev = saccade_events(digit(0))
    assert ev.dtype.names == ("x", "y", "t", "p") and ev["t"].dtype == np.int64
    assert (np.diff(ev["t"]) >= 0).all()
    assert ev["x"].min() >= 0 and ev["x"].max() < 34 and ev["y"].max() < 34
    assert 0 <= ev["t"].min() and ev["t"].max() <= 300_000
    # every one of the three saccades moves edges, so each third of the time has events
    thirds = np.histogram(ev["t"], bins=[0, 100_000, 200_000, 300_001])[0]
    assert (thirds > 0.2 * len(ev)).all()


# --- Tonic ---------------------------------------------------------------------------


def test_tonic_transforms_accept_the_events():
    tonic = pytest.importorskip("tonic")
    ev = saccade_events(digit(4))
    frames = tonic.transforms.ToFrame(
        sensor_size=NMNIST_SENSOR_SIZE, time_window=300_000 / 16, start_time=0, end_time=300_000
    )(ev)
    assert frames.shape == (16, 2, 34, 34)
    assert frames[:, 1].sum() == (ev["p"] == 1).sum() and frames[:, 0].sum() == (ev["p"] == 0).sum()
    assert tonic.transforms.ToFrame(sensor_size=NMNIST_SENSOR_SIZE, n_time_bins=20)(ev).shape == (
        20,
        2,
        34,
        34,
    )
    np.random.seed(0)  # Tonic's random transforms draw from numpy's global generator
    dropped = tonic.transforms.DropEvent(p=0.25)(ev)
    assert len(dropped) == len(ev) - round(0.25 * len(ev)) and dropped.dtype == EVENT_DTYPE
    noisy = tonic.transforms.UniformNoise(sensor_size=NMNIST_SENSOR_SIZE, n=2000)(ev)
    extra_on = (noisy["p"] == 1).sum() - (ev["p"] == 1).sum()
    assert len(noisy) == len(ev) + 2000 and 800 < extra_on < 1200  # both polarities
    denoised = tonic.transforms.Denoise(filter_time=5000)(noisy)
    assert len(ev) // 2 < len(denoised) < len(noisy)


# --- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"frames": np.zeros((3, 3))}, ValueError, r"frames must have shape \[N, H, W\]"),
        ({"frames": np.full((2, 2, 2), -1.0)}, ValueError, "frames must hold finite"),
        ({"times_us": np.array([0.0, 0.0])}, ValueError, "strictly increasing"),
        ({"times_us": np.array([0.0, 1.0, 2.0])}, ValueError, r"times_us must have shape \[N\]"),
        ({"threshold": 0.0}, ValueError, "threshold must be a finite number > 0; got 0.0"),
        ({"threshold": "0.2"}, TypeError, "threshold must be"),
        ({"log_offset": -1}, ValueError, "log_offset"),
        ({"refractory_us": 2.5}, TypeError, "refractory_us must be an int >= 0; got 2.5"),
        ({"refractory_us": -1}, ValueError, "refractory_us must be an int >= 0; got -1"),
        ({"noise_rate_hz": float("inf")}, ValueError, "noise_rate_hz"),
        ({"rng": "seed"}, TypeError, "rng must be a numpy.random.Generator"),
        ({"rng": -3}, ValueError, "rng as a seed must be an int >= 0; got -3"),
    ],
)
def test_emulate_events_rejects_bad_input(kwargs, error, match):
    args = {"frames": np.zeros((2, 2, 2)), "times_us": np.array([0.0, 1.0]), **kwargs}
    frames, times = args.pop("frames"), args.pop("times_us")
    with pytest.raises(error, match=match):
        emulate_events(frames, times, **args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"image": np.zeros(8)}, r"image must have shape \[h, w\]"),
        ({"sensor_size": (34,)}, r"sensor_size must be \(width, height\)"),
        ({"inset": 17}, "inset must leave room"),
        ({"vertices": ((0.0, 0.0),)}, "vertices must be at least two"),
        ({"step_us": 3000}, "step_us must divide saccade_us"),
    ],
)
def test_saccade_frames_rejects_bad_input(kwargs, match):
    image = kwargs.pop("image", np.ones((8, 8)))
    with pytest.raises(ValueError, match=match):
        saccade_frames(image, **kwargs)


@pytest.mark.parametrize(
    "name", ["spikede.events", "spikede.events._pixel", "spikede.events._saccade"]
)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
