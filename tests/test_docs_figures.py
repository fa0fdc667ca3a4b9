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
