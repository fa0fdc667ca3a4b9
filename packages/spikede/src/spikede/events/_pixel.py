"""The pixel model of an event camera: log-intensity change detection, noise, refractory period.

Each pixel holds a reference log intensity. Between two samples of the scene the log
intensity of a pixel is taken as linear in time; whenever it goes past the reference plus
or minus the contrast threshold ``C``, the pixel emits an event (ON for an increase, OFF
for a decrease) at the interpolated crossing time and moves its reference by ``C`` in that
direction, so a change of more than ``k C`` (and at most ``(k + 1) C``) gives ``k`` events. After an event the pixel is in reset
for the refractory period: it emits nothing, and its reference follows the input, so at the
end of the reset the reference is the log intensity of that moment.
"""

from __future__ import annotations

import numpy as np

from spikede.events import _checks

__all__ = ["EVENT_DTYPE", "emulate_events"]

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
"""Tonic's event layout with an integer polarity (0 = OFF, 1 = ON).

Tonic's own default uses a bool ``p``; an integer field keeps
``tonic.transforms.UniformNoise`` balanced (it draws polarities as floats in ``[0, 2)`` and
casts them, which a bool field turns all into ON)."""


def emulate_events(
    frames: np.ndarray,
    times_us: np.ndarray,
    *,
    threshold: float = 0.25,
    log_offset: float = 0.1,
    refractory_us: int = 0,
    noise_rate_hz: float = 0.0,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Turn a sampled intensity video into the events an event camera would report.

    The log intensity ``L = log(log_offset + I)`` of every pixel is taken as linear in time
    between samples. A pixel emits an ON (OFF) event each time ``L`` rises (falls) past its
    reference level plus (minus) ``threshold``, and the reference then moves by
    ``threshold``: a change of more than ``k`` and at most ``k + 1`` thresholds gives ``k``
    events, at the interpolated crossing times. After an event the pixel is blind for ``refractory_us`` and its reference follows
    the input meanwhile (the pixel is held in reset). References start at the first frame.

    Background-activity noise adds, independently of the scene, a Poisson process of rate
    ``noise_rate_hz`` in every pixel over ``[times_us[0], times_us[-1])``, each noise event
    ON or OFF with probability 1/2. The refractory period then applies to the merged
    stream: an event closer than ``refractory_us`` to the previous kept event of its pixel
    is dropped, so no pixel ever reports two events closer than that.

    Args:
        frames: Intensities ``>= 0``, shape ``[N, H, W]`` (``N >= 2`` samples).
        times_us: Sample times in microseconds, shape ``[N]``, strictly increasing.
        threshold: Contrast threshold ``C`` in log-intensity units, ``> 0``.
        log_offset: Added to the intensity before the logarithm (the dark level), ``> 0``.
        refractory_us: Refractory period of a pixel in microseconds, an int ``>= 0``.
        noise_rate_hz: Background-activity rate per pixel per second, ``>= 0``.
        rng: A ``numpy.random.Generator``, an int seed, or None (fresh entropy). Only the
            noise draws from it; without noise the output is deterministic.

    Returns:
        A structured array of dtype :data:`EVENT_DTYPE` (fields ``x`` column, ``y`` row,
        ``t`` integer microseconds, rounded down, ``p`` 1 for ON and 0 for OFF), sorted by
        ``t``, in the layout Tonic's transforms take.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``frames`` or ``times_us`` have the wrong shape, are not finite,
            ``frames`` is negative, ``times_us`` is not strictly increasing, or a number is
            out of range.

    Example:
        >>> import numpy as np
        >>> frames = np.zeros((2, 1, 3))
        >>> frames[1, 0, 1] = 1.0                       # one pixel brightens from 0 to 1
        >>> ev = emulate_events(frames, np.array([0, 1000]), threshold=0.5)
        >>> int(np.log(1.1 / 0.1) // 0.5), len(ev)      # floor(log(11) / 0.5) ON events
        (4, 4)
        >>> ev["x"].tolist(), ev["p"].tolist(), ev["t"].tolist()
        ([1, 1, 1, 1], [1, 1, 1, 1], [208, 417, 625, 834])
    """
    frames, times = _check_video(frames, times_us)
    threshold = _checks.positive_float("threshold", threshold)
    log_offset = _checks.positive_float("log_offset", log_offset)
    refractory_us = _checks.non_negative_int("refractory_us", refractory_us)
    noise_rate_hz = _checks.non_negative_float("noise_rate_hz", noise_rate_hz)
    generator = _checks.generator("rng", rng)

    height, width = frames.shape[1:]
    log_i = np.log(log_offset + frames.reshape(frames.shape[0], -1))
    pixel, t, p = _signal_events(log_i, times, threshold, float(refractory_us))
    if noise_rate_hz > 0.0:
        noise = _noise_events(height * width, times, noise_rate_hz, generator)
        pixel, t, p = (np.concatenate(pair) for pair in zip((pixel, t, p), noise))
        if refractory_us > 0:
            keep = _refractory_mask(pixel, t, refractory_us)
            pixel, t, p = pixel[keep], t[keep], p[keep]

    events = np.empty(pixel.size, dtype=EVENT_DTYPE)
    events["x"] = pixel % width
    events["y"] = pixel // width
    events["t"] = t
    events["p"] = p
    return events[np.lexsort((events["p"], events["x"], events["y"], events["t"]))]


def _check_video(frames: object, times_us: object) -> tuple[np.ndarray, np.ndarray]:
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 3 or frames.shape[0] < 2 or 0 in frames.shape:
        raise ValueError(
            f"frames must have shape [N, H, W] with N >= 2 samples; got shape {frames.shape}"
        )
    if not np.isfinite(frames).all() or (frames < 0).any():
        raise ValueError(
            "frames must hold finite intensities >= 0; got values in "
            f"[{np.nanmin(frames)}, {np.nanmax(frames)}] (or non-finite ones)"
        )
    times = np.asarray(times_us, dtype=np.float64)
    if times.shape != frames.shape[:1]:
        raise ValueError(
            f"times_us must have shape [N] = [{frames.shape[0]}] (one time per frame); "
            f"got shape {times.shape}"
        )
    if not np.isfinite(times).all() or (np.diff(times) <= 0).any():
        raise ValueError(f"times_us must be finite and strictly increasing; got {times_us!r}")
    return frames, times


def _signal_events(
    log_i: np.ndarray, times: np.ndarray, threshold: float, refractory: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Events of the change detector on ``log_i [N, P]``: (pixel, t µs int64, p int8).

    The reference of a pixel is ``base + n C``: ``base`` its level at the last reset (the
    first frame, or the end of a refractory period) and ``n`` the net count of events since,
    so the levels are computed the same way every time (no drift from adding and
    subtracting ``C``). A level is crossed when the input goes strictly past it; touching
    it is not enough (a pixel back at its first level, as at the end of a closed saccade
    path, does not fire there).
    """
    base = log_i[0].copy()
    n = np.zeros(base.shape)
    reset_until = np.full(base.shape, -np.inf)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for k in range(times.size - 1):
        t0, t1 = times[k], times[k + 1]
        l0, l1 = log_i[k], log_i[k + 1]
        # a pixel out of reset whose level is within [ref - C, ref + C] at both ends stays
        # there in between (the level is linear): skip it
        ref = base + n * threshold
        cand = np.flatnonzero((reset_until > t0) | (l1 > ref + threshold) | (l1 < ref - threshold))
        start = np.full(cand.size, t0)
        while cand.size:
            held = reset_until[cand] > start
            if held.any():
                end = reset_until[cand]
                outlasts = held & (end >= t1)
                base[cand[outlasts]], n[cand[outlasts]] = l1[cand[outlasts]], 0.0
                ends = held & ~outlasts
                start[ends] = end[ends]
                idx = cand[ends]
                base[idx] = l0[idx] + (l1[idx] - l0[idx]) * (end[ends] - t0) / (t1 - t0)
                n[idx] = 0.0
                cand, start = cand[~outlasts], start[~outlasts]
            up = l1[cand] > base[cand] + (n[cand] + 1.0) * threshold
            down = l1[cand] < base[cand] + (n[cand] - 1.0) * threshold
            fires = up | down
            cand, start, up = cand[fires], start[fires], up[fires]
            if not cand.size:
                break
            n[cand] += np.where(up, 1.0, -1.0)
            target = base[cand] + n[cand] * threshold
            t_cross = t0 + (t1 - t0) * (target - l0[cand]) / (l1[cand] - l0[cand])
            found.append((cand, t_cross, up.astype(np.int8)))
            reset_until[cand] = t_cross + refractory
            start = t_cross.copy()  # found keeps t_cross; start is edited in place
    if not found:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int8)
    pixel, t, p = (np.concatenate(parts) for parts in zip(*found))
    return pixel.astype(np.int64), np.floor(t).astype(np.int64), p


def _noise_events(
    n_pixels: int, times: np.ndarray, rate_hz: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Background activity: Poisson events of ``rate_hz`` per pixel over the recording."""
    t0, t1 = times[0], times[-1]
    count = rng.poisson(rate_hz * n_pixels * (t1 - t0) * 1e-6)
    pixel = rng.integers(0, n_pixels, size=count)
    t = np.floor(rng.uniform(t0, t1, size=count)).astype(np.int64)
    p = rng.integers(0, 2, size=count).astype(np.int8)
    return pixel.astype(np.int64), t, p


def _refractory_mask(pixel: np.ndarray, t: np.ndarray, refractory_us: int) -> np.ndarray:
    """Keep-mask: per pixel, greedily drop events within ``refractory_us`` of the last kept."""
    order = np.lexsort((t, pixel))
    ts, ps = t[order], pixel[order]
    close = np.zeros(ts.size, dtype=bool)
    close[1:] = (ps[1:] == ps[:-1]) & (np.diff(ts) < refractory_us)
    keep_sorted = np.ones(ts.size, dtype=bool)
    # an event far enough from its predecessor is kept whatever the predecessor's fate;
    # only the (few) close ones depend on which earlier events were kept
    for i in np.flatnonzero(close):
        j = i - 1
        while not keep_sorted[j]:  # stays in the pixel: a pixel's first event is kept
            j -= 1
        keep_sorted[i] = ts[i] - ts[j] >= refractory_us
    keep = np.empty_like(keep_sorted)
    keep[order] = keep_sorted
    return keep
