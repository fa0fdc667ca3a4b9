"""spikede.plot: what each plot draws is the recording's data."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from spikede import LIFNeuron, SNNWrapper, plot, profile

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(scope="module")
def rec():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 6), LIFNeuron(threshold=0.2), nn.Linear(6, 4), LIFNeuron(threshold=0.2))
    snn = SNNWrapper(model, alpha=0.7)
    _, recording = snn(torch.rand(25, 2, 3), record=True)
    return recording


def test_raster_marks_every_spike_of_the_sample(rec):
    fig, ax = plt.subplots()
    assert plot.raster(rec, "1", ax=ax, sample=1) is ax
    points = ax.collections[0].get_offsets()
    steps, neurons = torch.nonzero(rec.spikes["1"][:, 1], as_tuple=True)
    assert len(points) == len(steps) > 0
    assert sorted(map(tuple, points.tolist())) == sorted(
        zip(rec.time[steps].tolist(), [float(n) for n in neurons.tolist()])
    )
    plt.close(fig)


def test_membrane_draws_the_chosen_neurons(rec):
    ax = plot.membrane(rec, "3", neurons=[1, 3])
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["neuron 1", "neuron 3"]
    assert lines[1].get_ydata().tolist() == pytest.approx(rec.membrane["3"][:, 0, 3].tolist())
    assert len(plot.membrane(rec, "1").get_lines()) == 5
    plt.close("all")


def test_firing_rates_bars_are_the_rates(rec):
    ax = plot.firing_rates(rec)
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == pytest.approx(list(rec.firing_rates().values()))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3"]
    plt.close("all")


def test_firing_rates_of_a_profile():
    model = nn.Sequential(nn.Linear(3, 6), LIFNeuron(threshold=0.2), nn.Linear(6, 2))
    p = profile(SNNWrapper(model, alpha=0.7), torch.rand(10, 2, 3))
    ax = plot.firing_rates(p)
    assert [bar.get_height() for bar in ax.patches] == pytest.approx(list(p.firing_rates().values()))
    plt.close("all")


def test_bad_arguments_are_refused(rec):
    with pytest.raises(ValueError, match=r"name='2' is not a recorded layer; recorded: \['1', '3'\]"):
        plot.raster(rec, "2")
    with pytest.raises(ValueError, match=r"neurons must be indices in \[0, 4\)"):
        plot.membrane(rec, "3", neurons=[4])
    with pytest.raises(ValueError, match="sample must be an int in"):
        plot.raster(rec, "1", sample=2)
    with pytest.raises(TypeError, match="spikede.Recording"):
        plot.raster({"1": torch.zeros(3)}, "1")
    with pytest.raises(TypeError, match="Recording or Profile"):
        plot.firing_rates(3)


def test_a_missing_matplotlib_is_named_with_the_extra(rec, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install spikede\[plot\]"):
        plot.raster(rec, "1")
