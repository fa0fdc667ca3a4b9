"""The event-camera study (examples/events_fsnn.py) in --quick mode: it trains, beats chance
on clean events, evaluates every corruption and writes its table, figure and summary."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tonic")

ROOT = Path(__file__).resolve().parents[1]


def load_study():
    spec = importlib.util.spec_from_file_location(
        "events_fsnn", ROOT / "examples" / "events_fsnn.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_study_trains_above_chance_and_writes_its_outputs(tmp_path, capsys):
    study = load_study()
    result = study.main(["--quick", "--no-progress", "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    acc = result["accuracy"]
    assert set(acc) == {"alpha=1", "alpha=0.5"}
    for label, rows in acc.items():
        assert set(rows) == {"clean=0", "noise_hz=100", "drop_fraction=0.6", "occlusion_px=10"}
        # 10 classes: chance is 0.1; three short epochs on 180 digits reach far above it
        assert rows["clean=0"]["mean"] > 0.4, (label, rows["clean=0"])
        assert all(0.0 <= r["mean"] <= 1.0 and len(r["runs"]) == 1 for r in rows.values())
    assert (tmp_path / "events_fsnn.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "events_fsnn.json").read_text())
    assert saved["accuracy"] == acc and saved["args"]["quick"] is True
    table = (tmp_path / "events_fsnn.md").read_text()
    assert "| clean |" in table and "alpha=0.5" in table and table in out


def test_corruptions_do_what_they_say():
    study = load_study()
    from spikede.events import saccade_events

    image = np.zeros((8, 8))
    image[2:6, 2:6] = 1.0
    clean = [saccade_events(image, step_us=5000)]
    noisy = study.add_noise(clean, 50.0, seed=0)[0]
    expected = 50.0 * 34 * 34 * 0.3  # rate x pixels x seconds
    assert abs(len(noisy) - len(clean[0]) - expected) < 4 * np.sqrt(expected)
    assert (np.diff(noisy["t"]) >= 0).all()
    dropped = study.drop_events(clean, 0.5, seed=0)[0]
    assert len(dropped) == len(clean[0]) - int(0.5 * len(clean[0]) + 0.5)  # as Tonic rounds
    occluded = study.occlude(clean * 20, 10, seed=0)
    assert all(len(o) <= len(clean[0]) for o in occluded)
    assert min(len(o) for o in occluded) < 0.9 * len(clean[0])
    frames = study.to_frames(clean + [noisy], 16)
    assert frames.shape == (16, 2, 2, 17, 17)
    assert float(frames[:, 0].sum()) == len(clean[0])  # every event lands in a bin
    assert study.bin_centres(16)[0] == 0.5 and float(study.bin_centres(16).diff().std()) == 0.0


def test_the_tutorial_shows_the_committed_figure_of_the_study():
    page = (ROOT / "docs" / "tutorials" / "event-camera.md").read_text(encoding="utf-8")
    assert "../assets/events_fsnn.png" in page
    assert (ROOT / "docs" / "assets" / "events_fsnn.png").stat().st_size > 10_000
