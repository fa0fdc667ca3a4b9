"""The main job (examples/digits_fsnn.py), shortened: it trains, beats chance and saves its outputs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]


def load_demo():
    spec = importlib.util.spec_from_file_location("digits_fsnn", ROOT / "examples" / "digits_fsnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_short_demo_trains_above_chance_and_saves_outputs(tmp_path, capsys):
    demo = load_demo()
    summary = demo.main(
        ["--limit", "500", "--epochs", "3", "--T", "8", "--hidden", "64", "--no-progress", "--out-dir", str(tmp_path)]
    )
    out = capsys.readouterr().out
    runs = summary["runs"]
    assert set(runs) == {"alpha=1", "alpha=0.6"}
    for label, run in runs.items():
        # 10 classes: chance is 0.1; three short epochs already reach far above it
        assert run["test_acc"] > 0.5, (label, run["test_acc"])
        assert Path(run["weights"]).is_file()
        assert label in out
    assert runs["alpha=1"]["integrator"] == "odeint" and runs["alpha=0.6"]["integrator"] == "fdeint"
    assert (tmp_path / "digits_fsnn.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "digits_fsnn.json").read_text())
    assert saved["runs"]["alpha=0.6"]["test_acc"] == runs["alpha=0.6"]["test_acc"]
    assert str(tmp_path / "digits_fsnn.png") in out


def test_saved_weights_load_into_a_fresh_wrapper(tmp_path):
    import torch

    from spikede import SNNWrapper

    demo = load_demo()
    summary = demo.main(
        ["--limit", "200", "--epochs", "1", "--T", "6", "--hidden", "32", "--no-progress", "--out-dir", str(tmp_path)]
    )
    state = torch.load(summary["runs"]["alpha=0.6"]["weights"])
    fresh = SNNWrapper(demo.build_model(32, 2.0, 0.25), integrator="fdeint", alpha=0.6, method="gl")
    fresh.load_state_dict(state)
    x = torch.rand(6, 2, 64)
    assert fresh(x).shape == (6, 2, 10)
