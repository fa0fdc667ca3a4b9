"""The figure scripts of the documentation: their numbers and that they draw."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy.special import binom

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.mark.parametrize("alpha", [0.3, 0.6, 0.9, 1.0])
def test_gl_weights_equal_binomial_coefficients(
    alpha: float, load_script: Callable[[str], ModuleType]
) -> None:
    memory = load_script("docs_memory_figure")
    j = np.arange(1, 201)
    np.testing.assert_allclose(
        memory.gl_weight_magnitudes(alpha, j.size),
        np.abs(binom(alpha, j)),
        rtol=1e-12,
        atol=1e-300,
    )


def test_gl_weights_decay_as_a_power_law(
    load_script: Callable[[str], ModuleType],
) -> None:
    memory = load_script("docs_memory_figure")
    alpha = 0.6
    w = memory.gl_weight_magnitudes(alpha, 4000)
    # |w_j| ~ j^(-1-alpha) / |Gamma(-alpha)|: the log-log slope over the far tail
    slope = np.log(w[3999] / w[1999]) / np.log(4000 / 2000)
    assert abs(slope - (-1.0 - alpha)) < 1e-3


def test_memory_figure_is_drawn(
    tmp_path: Path, load_script: Callable[[str], ModuleType]
) -> None:
    import matplotlib.image

    memory = load_script("docs_memory_figure")
    out = memory.draw(tmp_path / "sub" / "kernels.png")
    image = matplotlib.image.imread(out)
    assert image.shape[0] > 300 and image.shape[1] > 800
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_committed_memory_figure_exists() -> None:
    assert (SCRIPTS.parent / "docs" / "assets" / "memory_kernels.png").is_file()


def test_relaxation_figure_is_drawn_by_the_tutorial_code(
    tmp_path: Path, load_script: Callable[[str], ModuleType]
) -> None:
    import matplotlib.image

    relaxation = load_script("docs_relaxation_figure")
    out = relaxation.draw(tmp_path / "relaxation.png")
    image = matplotlib.image.imread(out)
    assert image.shape[0] > 300 and image.shape[1] > 500
    assert image[..., :3].std() > 0.05
    assert (SCRIPTS.parent / "docs" / "assets" / "relaxation.png").is_file()


def test_relaxation_figure_script_rejects_a_page_without_the_figure(
    tmp_path: Path, load_script: Callable[[str], ModuleType]
) -> None:
    relaxation = load_script("docs_relaxation_figure")
    page = tmp_path / "page.md"
    page.write_text("text\n```python\nvalue = 1 + 1\n```\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="writes relaxation.png"):
        relaxation.draw(tmp_path / "out.png", page=page)
    assert not (tmp_path / "out.png").exists()


def test_page_figures_exist_and_are_shown_on_their_pages(
    load_script: Callable[[str], ModuleType],
) -> None:
    figures = load_script("docs_page_figures")
    for name, page in figures.FIGURES.items():
        assert (SCRIPTS.parent / "docs" / "assets" / name).is_file(), name
        text = (SCRIPTS.parent / "docs" / page).read_text(encoding="utf-8")
        assert f'savefig("{name}"' in text, (page, name)
        assert f"](../assets/{name})" in text, (page, name)


def test_page_figures_copies_what_the_page_writes(
    tmp_path: Path, load_script: Callable[[str], ModuleType]
) -> None:
    figures = load_script("docs_page_figures")
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nfrom pathlib import Path\nPath('a.png').write_bytes(b'png')\n```\n"
        "```python\nraise SystemExit('never reached')\n```\n",
        encoding="utf-8",
    )
    (written,) = figures.draw_page(page, ["a.png"], tmp_path / "out")
    assert written.read_bytes() == b"png"
    quiet = tmp_path / "quiet.md"
    quiet.write_text("```python\nx = 1\n```\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="writes b.png"):
        figures.draw_page(quiet, ["b.png"], tmp_path / "out")
    assert not (tmp_path / "out" / "b.png").exists()
    with pytest.raises(ValueError, match="unknown figure"):
        figures.draw(["nope.png"], tmp_path)


def test_benchmark_figure_is_drawn_from_a_results_file(
    tmp_path: Path, load_script: Callable[[str], ModuleType]
) -> None:
    import json

    import matplotlib.image

    bench = load_script("docs_benchmark_figure")
    rows = [
        {"workload": "w1", "T": T, "case": case, "fwd_s": 1e-3 * T * k,
         "fwd_bwd_s": 3e-3 * T * k, "peak_mib": 0.05 * T * k, "error": None}
        for T in (200, 50, 1000)
        for k, case in enumerate(bench.CASES, start=1)
    ]
    rows.append({"workload": "w1", "T": 4000, "case": "gl full", "error": "out of memory"})
    rows.append({"workload": "w2", "T": 50, "case": "gl full", "fwd_s": 1.0, "error": None})
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"meta": {}, "rows": rows}), encoding="utf-8")

    data = bench.series(rows, "w1")
    assert list(data) == list(bench.CASES)
    assert data["gl full"]["T"] == [50.0, 200.0, 1000.0]  # sorted, the failed row left out
    assert data["gl full"]["fwd_s"] == [pytest.approx(1e-3 * T * 3) for T in (50, 200, 1000)]

    out = bench.draw(results, tmp_path / "fig.png", "w1")
    image = matplotlib.image.imread(out)
    assert image.shape[1] > 1000 and image[..., :3].std() > 0.05
    with pytest.raises(ValueError, match="no rows of workload 'w3'"):
        bench.draw(results, tmp_path / "none.png", "w3")


def test_committed_benchmark_figure_is_shown() -> None:
    docs = SCRIPTS.parent / "docs"
    assert (docs / "assets" / "benchmark_w1.png").is_file()
    page = (docs / "tutorials" / "memory-performance.md").read_text(encoding="utf-8")
    assert "](../assets/benchmark_w1.png)" in page


def test_observability_figure_is_drawn_by_the_tutorial_code(
    tmp_path: Path, load_script: Callable[[str], ModuleType]
) -> None:
    import matplotlib.image

    figure = load_script("docs_observability_figure")
    out = figure.draw(tmp_path / "observability.png")
    image = matplotlib.image.imread(out)
    assert image.shape[0] > 400 and image.shape[1] > 800
    assert image[..., :3].std() > 0.05
    assert (SCRIPTS.parent / "docs" / "assets" / "observability.png").is_file()


@pytest.mark.slow
def test_solver_guide_shows_what_its_script_measures(
    load_script: Callable[[str], ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    """Every table row of ``scripts/docs_solver_orders.py`` is on the solver guide as printed."""
    import torch

    orders = load_script("docs_solver_orders")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        orders.order_table()
        orders.history_table()
    finally:
        torch.set_num_threads(threads)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| `")]
    page = (SCRIPTS.parent / "docs" / "guide" / "solvers.md").read_text(encoding="utf-8")
    assert len(rows) == 5 + 5 + 8
    missing = [row for row in rows if row not in page]
    assert not missing, "rerun scripts/docs_solver_orders.py and update docs/guide/solvers.md"


def test_peer_figure_and_table_are_drawn_from_rows(
    tmp_path: Path, load_script: Callable[[str], ModuleType]
) -> None:
    import matplotlib.image

    figure = load_script("docs_peer_figure")
    rows = [
        {"T": T, "case": case, "fwd_s": 1e-4 * T * k, "fwd_bwd_s": 3e-4 * T * k,
         "rates": [0.2, 0.25]}
        for T in (1000, 100)
        for k, case in enumerate(figure.CASES, start=1)
    ]
    lines = figure.table(rows).splitlines()
    assert lines[0].startswith("| case | T = 100 | T = 1000 | vs SpikingJelly at T = 1000 |")
    assert len(lines) == 2 + len(figure.CASES)
    # the reference is the first case (k = 1); the second takes twice its time
    assert lines[3] == f"| {list(figure.CASES)[1]} | 20.0 / 60.0 | 200.0 / 600.0 | 2.00x / 2.00x | 0.200 / 0.250 |"
    out = figure.draw(rows, tmp_path / "sub" / "peers.png")
    image = matplotlib.image.imread(out)
    assert image.shape[0] > 300 and image.shape[1] > 800
    assert image[..., :3].std() > 0.05


def test_committed_peer_figure_and_table_are_on_the_page(
    load_script: Callable[[str], ModuleType],
) -> None:
    """The page shows the figure and the table of the committed run of the script."""
    import json

    figure = load_script("docs_peer_figure")
    docs = SCRIPTS.parent / "docs"
    assert (docs / "assets" / "peers_time.png").is_file()
    results = SCRIPTS.parent / "benchmarks" / "results" / "peers-figure-20261203-compiled.json"
    rows = json.loads(results.read_text(encoding="utf-8"))["rows"]
    page = (docs / "tutorials" / "memory-performance.md").read_text(encoding="utf-8")
    assert "](../assets/peers_time.png)" in page
    missing = [line for line in figure.table(rows).splitlines() if line not in page]
    assert not missing, "rerun scripts/docs_peer_figure.py --json and update the page"
