"""Still images seen by an event camera that makes three saccades, as N-MNIST was recorded.

N-MNIST (Orchard et al., 2015) shows each MNIST digit on a monitor to an event camera that
moves in three quick saccades tracing a triangle, so that edges of every orientation move
across the pixels. Here the image is resampled (bilinearly) onto the inner part of the
sensor and shifted along the same kind of closed triangular path at constant speed; the
resulting video goes through :func:`spikede.events.emulate_events`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from spikede.events import _checks
from spikede.events._pixel import emulate_events

__all__ = ["NMNIST_SENSOR_SIZE", "TRIANGLE", "saccade_events", "saccade_frames"]

NMNIST_SENSOR_SIZE = (34, 34, 2)
"""Tonic's ``sensor_size`` (width, height, polarities) of N-MNIST, the default sensor here."""

TRIANGLE = ((0.0, -1.5), (1.5, 1.0), (-1.5, 1.0))
"""Default saccade vertices ``(dx, dy)`` in pixels: a triangle around the resting position."""


def saccade_frames(
    image: np.ndarray,
    *,
    sensor_size: tuple[int, int] = (34, 34),
    inset: int = 3,
    vertices: Sequence[tuple[float, float]] = TRIANGLE,
    saccade_us: int = 100_000,
    step_us: int = 1_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Render ``image`` moving along a closed path of saccades, as a sampled video.

    The image is stretched (bilinear interpolation, black outside) onto the sensor's area
    without a border of ``inset`` pixels, then shifted by ``(dx, dy)`` pixels that go at
    constant speed from each vertex to the next and back to the first, one saccade of
    ``saccade_us`` per side. An 8x8 digit on the default 34x34 sensor becomes 28x28, as
    MNIST digits are in N-MNIST.

    Args:
        image: Intensities ``>= 0``, shape ``[h, w]``.
        sensor_size: ``(width, height)`` of the sensor in pixels.
        inset: Border in pixels left free for the motion, ``>= 0``.
        vertices: At least two ``(dx, dy)`` shifts in pixels; the path closes on itself.
        saccade_us: Duration of one saccade in microseconds, ``>= 1``.
        step_us: Sampling interval of the video in microseconds, ``>= 1``; it must divide
            ``saccade_us``.

    Returns:
        ``(frames, times_us)``: ``frames [N, height, width]`` and integer ``times_us [N]``
        from 0 to ``len(vertices) * saccade_us``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If a shape or value is out of range.

    Example:
        >>> import numpy as np
        >>> frames, times = saccade_frames(np.eye(8), step_us=10_000)
        >>> frames.shape, int(times[-1])
        ((31, 34, 34), 300000)
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or 0 in image.shape:
        raise ValueError(f"image must have shape [h, w]; got shape {image.shape}")
    if not np.isfinite(image).all() or (image < 0).any():
        raise ValueError("image must hold finite intensities >= 0")
    width, height = _sensor(sensor_size)
    inset = _checks.non_negative_int("inset", inset)
    if 2 * inset >= min(width, height):
        raise ValueError(
            f"inset must leave room for the image: 2 * inset < {min(width, height)}; got {inset}"
        )
    path = np.asarray(vertices, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != 2 or path.shape[0] < 2 or not np.isfinite(path).all():
        raise ValueError(f"vertices must be at least two finite (dx, dy) pairs; got {vertices!r}")
    saccade_us = _checks.non_negative_int("saccade_us", saccade_us)
    step_us = _checks.non_negative_int("step_us", step_us)
    if step_us < 1 or saccade_us < 1 or saccade_us % step_us:
        raise ValueError(
            "saccade_us and step_us must be >= 1 and step_us must divide saccade_us; "
            f"got saccade_us={saccade_us}, step_us={step_us}"
        )

    per_side = saccade_us // step_us
    corners = np.vstack([path, path[:1]])
    frac = np.arange(per_side) / per_side
    shifts = [a + (b - a) * frac[:, None] for a, b in pairwise(corners)]
    shifts = np.vstack([*shifts, corners[-1:]])
    times = np.arange(shifts.shape[0], dtype=np.int64) * step_us

    inner_w, inner_h = width - 2 * inset, height - 2 * inset
    cols = np.arange(width) + 0.5 - inset
    rows = np.arange(height) + 0.5 - inset
    frames = np.empty((shifts.shape[0], height, width))
    for n, (dx, dy) in enumerate(shifts):
        u = (cols - dx) * image.shape[1] / inner_w - 0.5
        v = (rows - dy) * image.shape[0] / inner_h - 0.5
        frames[n] = _bilinear(image, v[:, None], u[None, :])
    return frames, times


def saccade_events(
    image: np.ndarray,
    *,
    sensor_size: tuple[int, int] = (34, 34),
    inset: int = 3,
    vertices: Sequence[tuple[float, float]] = TRIANGLE,
    saccade_us: int = 100_000,
    step_us: int = 1_000,
    threshold: float = 0.25,
    log_offset: float = 0.1,
    refractory_us: int = 0,
    noise_rate_hz: float = 0.0,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """The events of a still ``image`` seen through three saccades, as in N-MNIST.

    :func:`saccade_frames` followed by :func:`emulate_events`; the arguments are theirs.

    Returns:
        A structured array of :data:`EVENT_DTYPE` sorted by ``t``, for a sensor of
        ``(*sensor_size, 2)`` in Tonic's terms (:data:`NMNIST_SENSOR_SIZE` by default).

    Example:
        >>> import numpy as np
        >>> ring = np.zeros((8, 8))
        >>> ring[1:7, 1:7], ring[3:5, 3:5] = 1.0, 0.0        # a bright square ring
        >>> ev = saccade_events(ring, noise_rate_hz=2.0, rng=0)
        >>> ev.dtype.names, bool((ev["t"][1:] >= ev["t"][:-1]).all())
        (('x', 'y', 't', 'p'), True)
        >>> 1000 < len(ev) < 20000, set(ev["p"].tolist())
        (True, {0, 1})
    """
    frames, times = saccade_frames(
        image,
        sensor_size=sensor_size,
        inset=inset,
        vertices=vertices,
        saccade_us=saccade_us,
        step_us=step_us,
    )
    return emulate_events(
        frames,
        times,
        threshold=threshold,
        log_offset=log_offset,
        refractory_us=refractory_us,
        noise_rate_hz=noise_rate_hz,
        rng=rng,
    )


def _sensor(sensor_size: object) -> tuple[int, int]:
    if (
        not isinstance(sensor_size, Sequence)
        or len(sensor_size) != 2
        or any(
            isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sensor_size
        )
    ):
        raise ValueError(f"sensor_size must be (width, height), two ints >= 1; got {sensor_size!r}")
    return int(sensor_size[0]), int(sensor_size[1])


def _bilinear(image: np.ndarray, v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Sample ``image`` at row ``v`` and column ``u`` (pixel centres at integers), 0 outside."""
    padded = np.pad(image, 1)
    v, u = np.broadcast_arrays(v + 1.0, u + 1.0)
    v = np.clip(v, 0.0, padded.shape[0] - 1.0)
    u = np.clip(u, 0.0, padded.shape[1] - 1.0)
    r0 = np.minimum(np.floor(v).astype(int), padded.shape[0] - 2)
    c0 = np.minimum(np.floor(u).astype(int), padded.shape[1] - 2)
    fv, fu = v - r0, u - c0
    top = padded[r0, c0] * (1 - fu) + padded[r0, c0 + 1] * fu
    bottom = padded[r0 + 1, c0] * (1 - fu) + padded[r0 + 1, c0 + 1] * fu
    return top * (1 - fv) + bottom * fv
