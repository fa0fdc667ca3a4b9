"""Event-camera emulation: still images turned into event streams, as N-MNIST was recorded.

:func:`saccade_events` moves an image along three saccades in front of an emulated event
camera (:func:`emulate_events`: per-pixel log-intensity change detection with a contrast
threshold, refractory period and background-activity noise). The events come as a numpy
structured array in Tonic's layout (:data:`EVENT_DTYPE`), sorted by time, so Tonic's
transforms (``ToFrame``, ``Denoise``, ``DropEvent``, ``UniformNoise``...) apply unchanged.
Needs numpy only; Tonic is the optional extra ``spikede[events]``.

Example:
    >>> import numpy as np
    >>> from spikede.events import saccade_events, NMNIST_SENSOR_SIZE
    >>> bar = np.zeros((8, 8))
    >>> bar[:, 3:5] = 1.0                               # a vertical bright bar
    >>> ev = saccade_events(bar, rng=0)
    >>> ev.dtype == EVENT_DTYPE, NMNIST_SENSOR_SIZE
    (True, (34, 34, 2))
"""

from spikede.events._pixel import EVENT_DTYPE, emulate_events
from spikede.events._saccade import NMNIST_SENSOR_SIZE, TRIANGLE, saccade_events, saccade_frames

__all__ = [
    "EVENT_DTYPE",
    "NMNIST_SENSOR_SIZE",
    "TRIANGLE",
    "emulate_events",
    "saccade_events",
    "saccade_frames",
]
