"""Run the code of every documentation page, so the docs cannot drift from the code.

For each Markdown page under ``docs/``, the fenced ``python`` blocks are executed in order
as one script in a fresh namespace, inside a temporary working directory (pages may write
files, such as figures), with matplotlib's non-interactive ``Agg`` backend. A page whose
code raises fails its test, with the page and the block named.

A ``text`` block titled ``Output`` right after a ``python`` block shows what that block
prints; the test checks that the block prints exactly that (trailing spaces aside).

The pages themselves hold no test scaffolding (no ``assert``). What a page claims beyond
its printed output is checked here, in :data:`CHECKS`: a check runs right after the block
of its page that contains its anchor text, on the namespace the page's code has built so
far (later blocks may reuse names).

A page must not train a network whose neuron layers stay silent (it would teach the
wrong thing): the wrapper's warning that a layer "emitted no spike" fails the page.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import pytest

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(
    r"^```(?P<lang>\w*)(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
PAGES = sorted(DOCS.rglob("*.md"))
#: The start of SNNWrapper's warning about neuron layers without a spike (raised, on a page).
SILENT_LAYERS = r"neuron layer\(s\) .* emitted no spike"


@dataclass
class Block:
    """One fenced ``python`` block and the output it is documented to print, if any."""

    code: str
    output: str | None


def page_blocks(text: str) -> list[Block]:
    """Return the ``python`` blocks of a page's Markdown ``text``, in order."""
    blocks: list[Block] = []
    for fence in FENCE.finditer(text):
        if fence["lang"] == "python":
            blocks.append(Block(fence["body"], None))
        elif fence["lang"] == "text" and 'title="Output"' in fence["info"] and blocks:
            blocks[-1].output = fence["body"]
    return blocks


def python_blocks(page: Path) -> list[str]:
    """Return the bodies of the fenced ``python`` blocks of ``page``, in order."""
    return [block.code for block in page_blocks(page.read_text(encoding="utf-8"))]


def normalise(output: str) -> str:
    """Drop trailing spaces on each line and blank lines at both ends."""
    return "\n".join(line.rstrip() for line in output.strip("\n").splitlines())


class Tee(io.StringIO):
    """Capture what is written while still passing it on to the real stream."""

    def __init__(self, stream: io.TextIOBase) -> None:
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(text)
        return super().write(text)


Namespace = dict[str, Any]
#: page -> [(anchor text of one python block, check run right after that block)]
CHECKS: dict[str, list[tuple[str, Callable[[Namespace], None]]]] = {}


def after(page: str, anchor: str) -> Callable[[Callable[[Namespace], None]], Callable[[Namespace], None]]:
    """Register a check of ``page`` to run after its python block containing ``anchor``."""

    def register(check: Callable[[Namespace], None]) -> Callable[[Namespace], None]:
        CHECKS.setdefault(page, []).append((anchor, check))
        return check

    return register


# --- getting-started.md -----------------------------------------------------------------------


def assert_layers_fire(rates: dict[str, float], layers: int) -> None:
    """Every one of the ``layers`` neuron layers fires on 5-95% of its steps."""
    assert len(rates) == layers, rates
    assert all(0.05 <= rate <= 0.95 for rate in rates.values()), rates


@after("getting-started.md", "out, rec = net(x, record=True)")
def _(ns: Namespace) -> None:
    assert ns["out"].shape == (8, 16, 2)
    assert_layers_fire(ns["rec"].firing_rates(), 2)


@after("getting-started.md", "final = accuracy()")
def _(ns: Namespace) -> None:
    assert ns["final"] > 0.9  # two balanced classes: chance is 0.5


# --- tutorials/neurons.md ---------------------------------------------------------------------


@after("tutorials/neurons.md", "by_hand.append(s)")
def _(ns: Namespace) -> None:
    assert ns["spikes"].tolist() == ns["by_hand"]


@after("tutorials/neurons.md", "get_surrogate(name, sharpness=2.0)")
def _(ns: Namespace) -> None:
    import torch

    x = ns["x"]
    for name in ("sigmoid", "arctan", "triangle", "gaussian"):
        surrogate = ns["get_surrogate"](name, sharpness=2.0)
        spikes = surrogate(x)
        (grad,) = torch.autograd.grad(spikes.sum(), x)
        # forward: exact spikes; backward: the pseudo-derivative h(x)
        assert torch.equal(spikes.detach(), (x >= 0).to(x.dtype)), name
        assert torch.allclose(grad, surrogate.derivative(x.detach())), name


# --- tutorials/alpha.md -----------------------------------------------------------------------


@after("tutorials/alpha.md", "net = SNNWrapper(network(), alpha=0.7)")
def _(ns: Namespace) -> None:
    assert len(ns["net"].get_per_layer_alpha()) == 3


@after("tutorials/alpha.md", 'alpha=[0.4, 0.7, 1.0], alpha_mode="per_layer")')
def _(ns: Namespace) -> None:
    import torch

    assert torch.allclose(ns["orders"], torch.tensor([0.4, 0.7, 1.0]))


@after("tutorials/alpha.md", "record=True) as caught")
def _(ns: Namespace) -> None:
    assert ns["caught"], "an ambiguous flat list must warn"


@after("tutorials/alpha.md", "before = [a.detach().clone()")
def _(ns: Namespace) -> None:
    import torch

    assert_layers_fire(ns["rec"].firing_rates(), 3)
    before, after_ = ns["before"], ns["after"]
    assert not torch.equal(before[0], after_[0].detach())  # learnable: moved
    assert torch.equal(before[2], after_[2].detach())  # frozen: unchanged
    assert all(((a > 0) & (a <= 1)).all() for a in after_)


@after("tutorials/alpha.md", "fresh.load_state_dict(net.state_dict())")
def _(ns: Namespace) -> None:
    assert ns["same"] is True


# --- tutorials/wrapper-and-fx.md --------------------------------------------------------------


@after("tutorials/wrapper-and-fx.md", "func.get_post_neuron_module().code")
def _(ns: Namespace) -> None:
    assert ns["func"].neuron_count == 2 and ns["func"].boundary_count == 2


@after("tutorials/wrapper-and-fx.md", "discrete = torch.stack(")
def _(ns: Namespace) -> None:
    import torch

    assert torch.allclose(ns["by_hand"], ns["discrete"], atol=1e-6)


@after("tutorials/wrapper-and-fx.md", "gl_frac = SNNWrapper(")
def _(ns: Namespace) -> None:
    import torch

    assert torch.allclose(ns["euler"], ns["discrete"], atol=1e-5)
    assert torch.allclose(ns["gl_one"], ns["discrete"], atol=1e-5)
    assert not torch.allclose(ns["gl_frac"], ns["discrete"], atol=1e-2)


# --- tutorials/event-camera.md ----------------------------------------------------------------


@after("tutorials/event-camera.md", "events = saccade_events(image)")
def _(ns: Namespace) -> None:
    import numpy as np

    assert (np.diff(ns["events"]["t"]) >= 0).all()  # sorted by time


# --- tutorials/solvers.md ---------------------------------------------------------------------


@after("tutorials/solvers.md", "closed_form = torch.exp(x * x)")
def _(ns: Namespace) -> None:
    import torch

    z, ml = ns["z"], ns["mittag_leffler"]
    assert torch.allclose(ml(0.5, z), ns["closed_form"], rtol=1e-10, atol=0)
    assert torch.allclose(ml(1.0, z), torch.exp(z), rtol=1e-10, atol=0)


@after("tutorials/solvers.md", "solutions = {}")
def _(ns: Namespace) -> None:
    assert set(ns["solutions"]) == {"gl", "l1", "trap", "pred"}
    for method, y in ns["solutions"].items():
        assert y.shape == (ns["t"].numel(),), method
        assert (y - ns["exact"]).abs().max().item() < 5e-2, method


@after("tutorials/solvers.md", "def final_error(")
def _(ns: Namespace) -> None:
    import math

    for method, order in ns["expected"].items():
        coarse, fine = ns["final_error"](method, 256), ns["final_error"](method, 512)
        assert abs(math.log2(coarse / fine) - order) < 0.15, method


@after("tutorials/solvers.md", "def max_error(")
def _(ns: Namespace) -> None:
    observed, alpha = ns["observed"], ns["alpha"]
    assert abs(observed["l1", "uniform"] - alpha) < 0.15
    assert abs(observed["l1", "graded"] - (2.0 - alpha)) < 0.15
    assert abs(observed["trap", "graded"] - 2.0) < 0.15


@after("tutorials/solvers.md", "target_alpha = 0.7")
def _(ns: Namespace) -> None:
    assert abs(ns["alpha_param"].item() - ns["target_alpha"]) < 0.05


@after("tutorials/solvers.md", "def two_rates(")
def _(ns: Namespace) -> None:
    import torch

    grid, ml = ns["grid"], ns["mittag_leffler"]
    assert torch.allclose(ns["a"][:, 0], ml(0.5, -grid**0.5), atol=2e-2)
    assert torch.allclose(ns["b"][:, 0], ml(0.9, -2.0 * grid**0.9), atol=2e-2)


@after("tutorials/solvers.md", "y_one = fdeint(")
def _(ns: Namespace) -> None:
    import torch

    assert torch.allclose(ns["y_one"], ns["y_gl"])


@after("tutorials/solvers.md", "y_euler = odeint(")
def _(ns: Namespace) -> None:
    import math

    import torch

    assert torch.allclose(ns["y_euler"], ns["y_gl1"], rtol=1e-12, atol=1e-14)
    assert abs(ns["y_rk4"][-1, 0].item() - math.exp(-5.0)) < 1e-7


@after("tutorials/solvers.md", 'method="dopri5"')
def _(ns: Namespace) -> None:
    for rtol in (1e-4, 1e-6, 1e-8):
        y = ns["odeint"](ns["forced"], ns["y_start"], ns["t_out"], method="dopri5",
                         options={"rtol": rtol, "atol": rtol})
        assert (y[:, 0] - ns["forced_exact"]).abs().max().item() < 30 * rtol, rtol


def checks_of(page: str, code: str) -> list[Callable[[Namespace], None]]:
    """The checks of ``page`` to run after its block ``code``."""
    return [check for anchor, check in CHECKS.get(page, []) if anchor in code]


def test_every_check_names_one_block_of_its_page() -> None:
    for page, checks in CHECKS.items():
        blocks = python_blocks(DOCS / page)
        for anchor, _ in checks:
            found = sum(anchor in code for code in blocks)
            assert found == 1, f"{page}: anchor {anchor!r} is in {found} python blocks"


def test_pages_hold_no_test_scaffolding() -> None:
    for page in PAGES:
        for number, code in enumerate(python_blocks(page), 1):
            assert not re.search(r"^\s*assert\b|AssertionError", code, re.MULTILINE), (
                f"{page.relative_to(DOCS)} [python block {number}]: move the check into CHECKS"
            )


def test_blocks_and_outputs_are_found() -> None:
    text = (
        "intro\n```python\nx = 1\n```\n\n```bash\nls\n```\n"
        '```python title="t"\nprint(2)\n```\n```text title="Output"\n2\n```\n'
        "```text\nnot an output\n```\n"
    )
    assert page_blocks(text) == [Block("x = 1\n", None), Block("print(2)\n", "2\n")]


def test_pages_with_code_exist() -> None:
    with_code = [
        page.relative_to(DOCS).as_posix() for page in PAGES if python_blocks(page)
    ]
    for page in [
        "getting-started.md",
        "tutorials/solvers.md",
        "tutorials/neurons.md",
        "tutorials/wrapper-and-fx.md",
        "tutorials/alpha.md",
        "tutorials/memory-performance.md",
        "tutorials/observability.md",
    ]:
        assert page in with_code


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if python_blocks(p)],
    ids=lambda p: p.relative_to(DOCS).as_posix(),
)
def test_page_code_runs(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    name = page.relative_to(DOCS).as_posix()
    run_page(name, page_blocks(page.read_text(encoding="utf-8")))


def run_page(name: str, blocks: list[Block]) -> None:
    """Run the ``blocks`` of page ``name`` in order, checking outputs and :data:`CHECKS`."""
    import matplotlib.pyplot as plt
    import torch

    torch.manual_seed(0)
    # The pages use tiny tensors, for which one thread is fastest; several threads on a
    # busy 2-core machine mostly wait for each other. Restored afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    try:
        for number, block in enumerate(blocks, 1):
            where = f"{name} [python block {number}]"
            code = compile(block.code, where, "exec")
            captured = Tee(sys.stdout)
            with contextlib.redirect_stdout(captured), warnings.catch_warnings():
                warnings.filterwarnings("error", SILENT_LAYERS, RuntimeWarning)
                exec(code, namespace)
            if block.output is not None:
                assert normalise(captured.getvalue()) == normalise(block.output), (
                    f"{where} prints something else than its Output block shows"
                )
            for check in checks_of(name, block.code):
                check(namespace)
    finally:
        torch.set_num_threads(threads)
        plt.close("all")


def test_a_page_whose_network_stays_silent_fails() -> None:
    silent = (
        "import torch\nfrom torch import nn\nfrom spikede import LIFNeuron, SNNWrapper\n"
        "net = SNNWrapper(nn.Sequential(nn.Linear(2, 3), LIFNeuron(threshold=1e3)))\n"
        "out = net(torch.rand(4, 1, 2))\n"
    )
    with pytest.raises(RuntimeWarning, match=SILENT_LAYERS):
        run_page("silent.md", [Block(silent, None)])
    # the same network, firing, passes
    run_page("firing.md", [Block(silent.replace("threshold=1e3", "threshold=1e-3"), None)])
