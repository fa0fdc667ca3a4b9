"""Build the documentation site, serve it on localhost and check it in headless Chromium.

The build runs ``mkdocs build --strict`` into a temporary directory: any warning (a
docstring whose parameters disagree with the signature, a broken link or cross-reference)
fails it. The HTML checks then need no browser; the browser checks drive Debian's
``chromium`` through ``chromedriver`` (W3C WebDriver spoken over HTTP with the standard
library, so no extra Python package is needed) and are skipped, with a message saying what
to install, when either program is missing. CI installs both.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "spikede": "api/spikede/index.html",
    "spikede_fx": "api/spikede-fx/index.html",
    "spikede_solvers": "api/spikede-solvers/index.html",
    "spikede_interp": "api/spikede-interp/index.html",
}
MATHJAX_SCRIPT = "javascripts/vendor/mathjax/tex-mml-svg.js"
# a laptop-sized window: the layout shows the navigation and a content column of ~750 px
WINDOW = (1280, 900)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def public_names(module_name: str) -> list[str]:
    """Return ``module.__all__`` of an installed spikeDE package."""
    module = importlib.import_module(module_name)
    return list(module.__all__)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, deadline_s: float = 20.0) -> None:
    """Poll ``url`` until it answers, or fail after ``deadline_s`` seconds."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > end:
                pytest.fail(f"{url} did not answer within {deadline_s} s")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the site with ``mkdocs build --strict`` into a temporary directory."""
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    warnings = [line for line in log.splitlines() if line.startswith("WARNING")]
    assert not warnings, "\n".join(warnings)
    return out


# --- checks on the built HTML (no browser) -------------------------------------------------


def test_every_page_of_the_nav_is_built(site: Path) -> None:
    for page in [
        "index.html",
        "installation/index.html",
        "getting-started/index.html",
        "tutorials/solvers/index.html",
        "tutorials/neurons/index.html",
        "tutorials/wrapper-and-fx/index.html",
        "tutorials/alpha/index.html",
        "tutorials/memory-performance/index.html",
        "tutorials/digits/index.html",
        "tutorials/observability/index.html",
        "guide/solvers/index.html",
        "reference/errors/index.html",
        "reference/references/index.html",
        "reference/changelog/index.html",
        "api/spikede-plot/index.html",
        *PACKAGES.values(),
    ]:
        assert (site / page).is_file(), page


@pytest.mark.parametrize("module_name", sorted(PACKAGES))
def test_api_page_documents_every_public_name(site: Path, module_name: str) -> None:
    html = (site / PACKAGES[module_name]).read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="([^"]+)"', html))
    names = public_names(module_name)
    missing = [name for name in names if f"{module_name}.{name}" not in anchors]
    assert not missing, f"{module_name}: public names missing from the API page: {missing}"


def test_every_image_of_every_page_is_in_the_site(site: Path) -> None:
    shown = 0
    for page in site.rglob("*.html"):
        for src in re.findall(r'<img[^>]+src="([^"]+)"', page.read_text(encoding="utf-8")):
            assert not re.match(r"(https?:)?//", src), (page, src)
            assert (page.parent / src).resolve().is_file(), (page, src)
            shown += 1
    assert shown >= 10


@pytest.mark.parametrize("module_name", sorted(PACKAGES))
def test_api_page_sections_render_as_documentation(site: Path, module_name: str) -> None:
    html = (site / PACKAGES[module_name]).read_text(encoding="utf-8")
    # a Returns section describes one value: one row, not one row per line of prose
    for match in re.finditer(
        r'doc-section-title">Returns:</span>.*?<tbody>(.*?)</tbody>', html, re.S
    ):
        assert match.group(1).count("<tr") == 1, match.group(0)[:300]
    text = re.sub(r"<code>.*?</code>|<pre.*?</pre>", "", html, flags=re.S)
    assert "``" not in text  # reST inline literals left raw
    assert not re.search(r"::\s*</p>", html)  # reST literal-block markers left raw
    assert not re.search(r'id="[\w.]*extra_repr"', html)
    assert "_ThresholdNeuron" not in html  # private bases are not shown


def test_mathjax_is_served_by_the_site_not_a_cdn(site: Path) -> None:
    script = site / MATHJAX_SCRIPT
    assert script.is_file() and script.stat().st_size > 100_000
    html = (site / "index.html").read_text(encoding="utf-8")
    sources = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert any(src.endswith(MATHJAX_SCRIPT) for src in sources), sources
    remote = [src for src in sources if re.match(r"(https?:)?//", src)]
    assert not remote, f"scripts loaded from another host: {remote}"


def test_search_index_holds_the_tutorials(site: Path) -> None:
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    locations = {doc["location"].split("#")[0] for doc in index["docs"]}
    assert "tutorials/solvers/" in locations
    assert any("mittag" in doc["text"].lower() for doc in index["docs"])


def test_cross_package_links_resolve(site: Path) -> None:
    html = (site / "index.html").read_text(encoding="utf-8")
    # autorefs turns [`SNNWrapper`][spikede.SNNWrapper] into a link to the API page
    assert 'href="api/spikede/#spikede.SNNWrapper"' in html
    assert 'href="api/spikede-fx/#spikede_fx.ODEFuncFromFX"' in html


# --- checks in a real browser --------------------------------------------------------------


class WebDriver:
    """Just enough of the W3C WebDriver protocol, over ``urllib``, to drive chromedriver."""

    def __init__(self, driver_url: str, chromium: str, user_data_dir: str, start_s: float) -> None:
        self.base = driver_url
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": [*CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}"],
                    },
                }
            }
        }
        self.session = self._call("POST", "/session", caps, timeout_s=start_s)["sessionId"]

    def _call(
        self,
        method: str,
        path: str,
        body: object | None = None,
        timeout_s: float = 60.0,
    ) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"WebDriver {method} {path}: {exc.read().decode()}") from exc

    def get(self, url: str) -> None:
        self._call("POST", f"/session/{self.session}/url", {"url": url})

    def set_window(self, width: int, height: int) -> None:
        self._call(
            "POST",
            f"/session/{self.session}/window/rect",
            {"width": width, "height": height},
        )

    def run(self, script: str) -> object:
        return self._call(
            "POST",
            f"/session/{self.session}/execute/sync",
            {"script": script, "args": []},
        )

    def wait_for(self, script: str, what: str, timeout_s: float = 20.0) -> object:
        """Evaluate ``script`` until it returns something truthy, or fail naming ``what``."""
        end = time.monotonic() + timeout_s
        while True:
            value = self.run(script)
            if value:
                return value
            if time.monotonic() > end:
                pytest.fail(f"gave up waiting {timeout_s} s for {what}; last value {value!r}")
            time.sleep(0.1)

    def quit(self) -> None:
        self._call("DELETE", f"/session/{self.session}")


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    """Serve the built site with ``python -m http.server`` on a free port of 127.0.0.1."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(site),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# chromedriver gives up on a browser that has not started after 60 s; waiting longer lets
# its own error (in its log) reach the failure message instead of a bare socket timeout
BROWSER_START_S = 150.0
BROWSER_ATTEMPTS = 2


def start_browser(
    chromedriver: str, chromium: str, workdir: Path
) -> tuple[subprocess.Popen, WebDriver]:
    """Start chromedriver and one browser session in ``workdir``."""
    port = free_port()
    driver = subprocess.Popen(
        [chromedriver, f"--port={port}", f"--log-path={workdir / 'chromedriver.log'}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/status")
        web = WebDriver(
            f"http://127.0.0.1:{port}",
            chromium,
            str(workdir / "profile"),
            BROWSER_START_S,
        )
    except BaseException:
        driver.terminate()
        driver.wait(timeout=10)
        raise
    return driver, web


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[WebDriver]:
    """Headless Chromium driven by chromedriver; skips when either is not installed.

    A first start on a fresh machine can stall (a cold disk, a loaded host), so a failed
    start is retried once with a new driver and profile; if both fail, the failure shows
    the tail of chromedriver's log.
    """
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        missing = ", ".join(
            name
            for name, path in (("chromium", chromium), ("chromedriver", chromedriver))
            if path is None
        )
        pytest.skip(
            f"browser test needs Debian's chromium and chromium-driver; not found: {missing} "
            "(apt-get install -y chromium chromium-driver)"
        )
    failures = []
    for attempt in range(1, BROWSER_ATTEMPTS + 1):
        workdir = Path(tempfile.mkdtemp(prefix="spikede-docs-chromium-"))
        try:
            driver, web = start_browser(chromedriver, chromium, workdir)
        except (OSError, AssertionError) as exc:
            log = workdir / "chromedriver.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            failures.append(f"attempt {attempt}: {exc!r}\n{tail}")
            shutil.rmtree(workdir, ignore_errors=True)
            continue
        try:
            web.set_window(*WINDOW)
            yield web
        finally:
            web.quit()
            driver.terminate()
            driver.wait(timeout=10)
            shutil.rmtree(workdir, ignore_errors=True)
        return
    pytest.fail(
        f"headless chromium did not start ({BROWSER_ATTEMPTS} attempts, "
        f"{BROWSER_START_S:.0f} s each); chromedriver's log:\n" + "\n".join(failures)
    )


@pytest.mark.parametrize("module_name", sorted(PACKAGES))
def test_browser_api_page_renders_public_names(
    browser: WebDriver, server: str, module_name: str
) -> None:
    browser.get(server + PACKAGES[module_name].removesuffix("index.html"))
    title = browser.wait_for(
        "return document.querySelector('h1') && document.querySelector('h1').textContent",
        "the page title",
    )
    assert module_name in title
    shown = browser.run(
        "return Array.from(document.querySelectorAll('.doc-heading'))"
        ".filter(h => h.offsetParent !== null).map(h => h.id)"
    )
    missing = [n for n in public_names(module_name) if f"{module_name}.{n}" not in shown]
    assert not missing, f"{module_name}: not rendered in the browser: {missing}"


def test_browser_search_finds_mittag_leffler(browser: WebDriver, server: str) -> None:
    browser.get(server + "?q=mittag")
    count = browser.wait_for(
        "return document.querySelectorAll('.md-search-result__item').length",
        "search results for 'mittag'",
    )
    assert count >= 1
    links = browser.run(
        "return Array.from(document.querySelectorAll('.md-search-result__link'))"
        ".map(a => a.getAttribute('href'))"
    )
    assert any("tutorials/solvers" in href for href in links), links


def test_browser_math_renders(browser: WebDriver, server: str) -> None:
    browser.get(server)
    rendered = browser.wait_for(
        "return document.querySelectorAll('.arithmatex mjx-container svg').length",
        "MathJax to typeset the home page",
    )
    assert rendered >= 5
    state = browser.run(
        "return {errors: document.querySelectorAll('mjx-merror, .mjx-error').length,"
        " raw: Array.from(document.querySelectorAll('.arithmatex'))"
        ".filter(e => !e.querySelector('mjx-container')).length}"
    )
    assert state == {"errors": 0, "raw": 0}, state


# What one page looks like once loaded: its images, prose left as raw Markdown, code in
# table cells broken inside a word, and API signatures wider than their box. Code and math
# are not prose.
PAGE_REPORT = r"""
const article = document.querySelector('article') || document.body;
const prose = article.cloneNode(true);
prose.querySelectorAll('pre, code, .highlight, .arithmatex, script, style')
  .forEach(e => e.remove());
const text = prose.textContent;
// whether the line breaks of a code element fall between two word characters
function breaksInsideAWord(code) {
  const node = code.firstChild;
  if (!node || node.nodeType !== Node.TEXT_NODE) return false;
  const text = node.textContent, range = document.createRange();
  let top = null;
  for (let i = 0; i < text.length; i++) {
    range.setStart(node, i);
    range.setEnd(node, i + 1);
    const now = range.getBoundingClientRect().top;
    if (top !== null && now > top + 2 && /\w/.test(text[i - 1]) && /\w/.test(text[i])) {
      return true;
    }
    top = now;
  }
  return false;
}
const raw = [];
for (const pattern of [/\*\*/g, /```/g, /\[[^\]\n]{1,80}\]\[[^\]\n]{0,80}\]/g]) {
  for (const m of text.matchAll(pattern)) {
    raw.push(text.slice(Math.max(0, m.index - 40), m.index + m[0].length + 40));
  }
}
return {
  title: document.title,
  images: Array.from(article.querySelectorAll('img'))
    .map(i => ({src: i.getAttribute('src'), width: i.naturalWidth})),
  raw: raw,
  broken: Array.from(article.querySelectorAll('td code'))
    .filter(breaksInsideAWord).map(c => c.textContent),
  clipped: Array.from(document.querySelectorAll('.doc-signature pre > code'))
    .filter(c => c.scrollWidth > c.clientWidth + 1)
    .map(c => c.textContent.trim().split('\n')[0].slice(0, 80)),
};
"""


def site_pages(site: Path) -> list[str]:
    """The address of every page of the built site, relative to its root."""
    return sorted(
        page.relative_to(site).as_posix().removesuffix("index.html")
        for page in site.rglob("index.html")
    )


@pytest.fixture(scope="module")
def rendered(browser: WebDriver, server: str, site: Path) -> dict[str, dict]:
    """Load every page of the site once and report what it shows (:data:`PAGE_REPORT`)."""
    reports = {}
    for page in site_pages(site):
        browser.get(server + page)
        browser.wait_for(
            "return document.readyState === 'complete' && "
            "Array.from(document.images).every(i => i.complete)",
            f"{page or 'the home page'} and its images to load",
        )
        reports[page] = browser.run(PAGE_REPORT)
    return reports


def test_browser_loads_every_page(rendered: dict[str, dict]) -> None:
    for page in [
        "",
        "guide/solvers/",
        "reference/errors/",
        "reference/references/",
        "reference/changelog/",
        *[p.removesuffix("index.html") for p in PACKAGES.values()],
    ]:
        assert page in rendered, page
    untitled = [page for page, report in rendered.items() if "spikeDE" not in report["title"]]
    assert not untitled, untitled


def test_browser_every_figure_loads(rendered: dict[str, dict]) -> None:
    broken = {
        page: [img["src"] for img in report["images"] if img["width"] == 0]
        for page, report in rendered.items()
    }
    assert not {page: srcs for page, srcs in broken.items() if srcs}, broken
    with_figures = [page for page, report in rendered.items() if report["images"]]
    assert len(with_figures) >= 10, with_figures


def test_browser_no_markdown_left_raw(rendered: dict[str, dict]) -> None:
    raw = {page: report["raw"] for page, report in rendered.items() if report["raw"]}
    assert not raw, f"Markdown left unrendered (bold, fences or reference links): {raw}"


def test_browser_names_in_tables_stay_whole(rendered: dict[str, dict]) -> None:
    broken = {page: report["broken"] for page, report in rendered.items() if report["broken"]}
    assert not broken, f"code in table cells broken inside a word: {broken}"


def test_browser_api_signatures_fit_their_box(rendered: dict[str, dict]) -> None:
    signatures = 0
    for module_name, page in PACKAGES.items():
        report = rendered[page.removesuffix("index.html")]
        assert not report["clipped"], (
            f"{module_name}: signatures wider than the page: {report['clipped']}"
        )
    for page, report in rendered.items():
        assert not report["clipped"], f"{page}: signatures wider than the page: {report['clipped']}"
        signatures += page.startswith("api/")
    assert signatures >= len(PACKAGES)
