"""The release command on a temporary copy of the repository.

Each test copies ``packages/``, ``scripts/`` and ``hatch.toml`` to a temporary folder, runs
``scripts/release.py`` there as a subprocess (as ``hatch run release:bump`` does), and reads
the files back with ``tomllib`` and ``packaging`` to check versions, sibling ranges and
changelogs. The slow tests check that the bumped workspace still resolves and that hatch can
still create the workspace environment from it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ["spikede-interp", "spikede-solvers", "spikede-fx", "spikede"]
DATE = "2027-01-15"
IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "dist", "build", "*.egg-info", ".pytest_cache"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(REPO / "packages", root / "packages", ignore=IGNORE)
    shutil.copytree(REPO / "scripts", root / "scripts", ignore=IGNORE)
    shutil.copy2(REPO / "hatch.toml", root / "hatch.toml")
    # Start from a known state whatever the repository's versions are today.
    for folder in FOLDERS:
        _set_version(root, folder, "0.1.0")
        text = _pyproject_path(root, folder).read_text()
        text = re.sub(r'"(spikede(?:-[a-z]+)?)>=[^"]*"', r'"\1>=0.1.0,<0.2"', text)
        _pyproject_path(root, folder).write_text(text)
        (root / "packages" / folder / "CHANGELOG.md").write_text(
            f"# Changelog of {folder}\n\nAll notable changes to this package.\n\n## 0.1.0 - 2026-11-24\n\n- First release.\n"
        )
    return root


def _pyproject_path(root: Path, folder: str) -> Path:
    return root / "packages" / folder / "pyproject.toml"


def _about(root: Path, folder: str) -> Path:
    return (
        root / "packages" / folder / "src" / folder.replace("-", "_") / "__about__.py"
    )


def _set_version(root: Path, folder: str, version: str) -> None:
    path = _about(root, folder)
    path.write_text(
        re.sub(r'__version__ = "[^"]*"', f'__version__ = "{version}"', path.read_text())
    )


def _version(root: Path, folder: str) -> Version:
    return Version(
        re.search(r'__version__ = "([^"]*)"', _about(root, folder).read_text()).group(1)
    )


def _pins(root: Path, folder: str) -> dict[str, str]:
    with _pyproject_path(root, folder).open("rb") as handle:
        deps = tomllib.load(handle)["project"]["dependencies"]
    return {
        canonicalize_name(Requirement(d).name): str(Requirement(d).specifier)
        for d in deps
    }


def _changelog(root: Path, folder: str) -> str:
    return (root / "packages" / folder / "CHANGELOG.md").read_text()


def _sections(text: str) -> list[str]:
    return re.findall(r"^## (.+)$", text, re.MULTILINE)


def _section_body(text: str, heading: str) -> str:
    match = re.search(
        rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL
    )
    assert match, f"no section {heading!r} in:\n{text}"
    return match.group(1).strip()


def _release(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(root / "scripts" / "release.py"),
            *args,
            "--root",
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _bump(root: Path, package: str, part: str) -> subprocess.CompletedProcess:
    proc = _release(root, "bump", package, part, "--date", DATE)
    assert proc.returncode == 0, proc.stderr
    return proc


def _snapshot(root: Path) -> dict[Path, str]:
    return {
        p: p.read_text()
        for p in (root / "packages").rglob("*")
        if p.is_file() and p.suffix in {".py", ".toml", ".md"}
    }


def test_patch_bump_of_a_leaf_leaves_ranges_alone(repo):
    before = _snapshot(repo)
    _bump(repo, "spikede-solvers", "patch")
    assert _version(repo, "spikede-solvers") == Version("0.1.1")
    for other in ("spikede-interp", "spikede-fx", "spikede"):
        assert _version(repo, other) == Version("0.1.0")
    # The umbrella's range >=0.1.0,<0.2 admits 0.1.1: its files are untouched, byte for byte.
    for path in (
        _pyproject_path(repo, "spikede"),
        repo / "packages/spikede/CHANGELOG.md",
    ):
        assert path.read_text() == before[path]
    log = _changelog(repo, "spikede-solvers")
    assert _sections(log)[:2] == [f"0.1.1 - {DATE}", "0.1.0 - 2026-11-24"]
    assert _release(repo, "check").returncode == 0


def test_minor_bump_of_a_leaf_moves_the_umbrella_range(repo):
    before = _pyproject_path(repo, "spikede").read_text()
    fx_before = _pyproject_path(repo, "spikede-fx").read_text()
    proc = _bump(repo, "spikede-solvers", "minor")
    assert _version(repo, "spikede-solvers") == Version("0.2.0")
    assert _pins(repo, "spikede")["spikede-solvers"] == "<0.3,>=0.2.0"
    assert _pins(repo, "spikede")["spikede-interp"] == "<0.2,>=0.1.0"
    # Exactly one quoted string changed: formatting and comments of the file survive.
    after = _pyproject_path(repo, "spikede").read_text()
    assert after == before.replace(
        '"spikede-solvers>=0.1.0,<0.2"', '"spikede-solvers>=0.2.0,<0.3"'
    )
    assert _pyproject_path(repo, "spikede-fx").read_text() == fx_before
    # The dependent must be released too: its changelog says why, under Unreleased.
    umbrella_log = _changelog(repo, "spikede")
    assert _sections(umbrella_log)[0] == "Unreleased"
    assert "spikede-solvers>=0.2.0,<0.3" in _section_body(umbrella_log, "Unreleased")
    assert "release spikede too" in proc.stdout
    assert _sections(_changelog(repo, "spikede-solvers"))[0] == f"0.2.0 - {DATE}"
    assert _release(repo, "check").returncode == 0


def test_major_bump_of_a_leaf(repo):
    _bump(repo, "spikede-solvers", "major")
    assert _version(repo, "spikede-solvers") == Version("1.0.0")
    assert _pins(repo, "spikede")["spikede-solvers"] == "<2,>=1.0.0"
    assert _sections(_changelog(repo, "spikede-solvers"))[0] == f"1.0.0 - {DATE}"
    assert _release(repo, "check").returncode == 0


def test_after_1_0_minor_bumps_raise_the_floor_and_patches_do_not(repo):
    _bump(repo, "spikede-solvers", "1.2.3")
    assert _pins(repo, "spikede")["spikede-solvers"] == "<2,>=1.2.3"
    _bump(repo, "spikede-solvers", "patch")
    assert _version(repo, "spikede-solvers") == Version("1.2.4")
    assert _pins(repo, "spikede")["spikede-solvers"] == "<2,>=1.2.3"
    _bump(repo, "spikede-solvers", "minor")
    assert _version(repo, "spikede-solvers") == Version("1.3.0")
    assert _pins(repo, "spikede")["spikede-solvers"] == "<2,>=1.3.0"
    assert _sections(_changelog(repo, "spikede-solvers"))[:3] == [
        f"1.3.0 - {DATE}",
        f"1.2.4 - {DATE}",
        f"1.2.3 - {DATE}",
    ]
    assert _release(repo, "check").returncode == 0


def test_minor_bump_of_interp_moves_both_dependents(repo):
    _bump(repo, "spikede-interp", "minor")
    assert _pins(repo, "spikede-fx")["spikede-interp"] == "<0.3,>=0.2.0"
    assert _pins(repo, "spikede")["spikede-interp"] == "<0.3,>=0.2.0"
    assert _pins(repo, "spikede")["spikede-fx"] == "<0.2,>=0.1.0"
    assert _release(repo, "check").returncode == 0


def test_unreleased_entries_move_under_the_dated_section(repo):
    path = repo / "packages/spikede-solvers/CHANGELOG.md"
    text = path.read_text().replace(
        "## 0.1.0",
        "## Unreleased\n\n- Fixed the L1 weights.\n- Faster history sums.\n\n## 0.1.0",
        1,
    )
    path.write_text(text)
    _bump(repo, "spikede-solvers", "patch")
    log = _changelog(repo, "spikede-solvers")
    assert "Unreleased" not in _sections(log)
    assert (
        _section_body(log, f"0.1.1 - {DATE}")
        == "- Fixed the L1 weights.\n- Faster history sums."
    )
    assert _section_body(log, "0.1.0 - 2026-11-24") == "- First release."
    assert log.startswith("# Changelog of spikede-solvers\n")


def test_dependent_then_released_carries_the_pin_note(repo):
    _bump(repo, "spikede-solvers", "minor")
    _bump(repo, "spikede", "patch")
    log = _changelog(repo, "spikede")
    assert _sections(log)[0] == f"0.1.1 - {DATE}"
    assert "spikede-solvers>=0.2.0,<0.3" in _section_body(log, f"0.1.1 - {DATE}")


def test_comments_in_the_dependency_list_survive(repo):
    path = _pyproject_path(repo, "spikede")
    text = path.read_text().replace(
        '  "spikede-solvers>=0.1.0,<0.2",',
        '  # follows the release policy\n  "spikede-solvers>=0.1.0,<0.2",  # solver\n',
    )
    path.write_text(text)
    _bump(repo, "spikede-solvers", "minor")
    after = path.read_text()
    assert (
        '  # follows the release policy\n  "spikede-solvers>=0.2.0,<0.3",  # solver\n'
        in after
    )


@pytest.mark.parametrize("bad", ["0.1.0", "0.0.9", "banana"])
def test_bad_bumps_change_nothing(repo, bad):
    before = _snapshot(repo)
    proc = _release(repo, "bump", "spikede-solvers", bad, "--date", DATE)
    assert proc.returncode == 1
    assert "error:" in proc.stderr
    assert _snapshot(repo) == before


def test_unknown_package_and_bad_date_are_refused(repo):
    proc = _release(repo, "bump", "spikede-nope", "patch")
    assert proc.returncode == 1 and "spikede-solvers" in proc.stderr
    proc = _release(repo, "bump", "spikede-solvers", "patch", "--date", "15/01/2027")
    assert proc.returncode == 1 and "YYYY-MM-DD" in proc.stderr


def test_check_fails_on_a_broken_pin(repo):
    path = _pyproject_path(repo, "spikede")
    path.write_text(
        path.read_text().replace(
            '"spikede-solvers>=0.1.0,<0.2"', '"spikede-solvers>=0.2.0,<0.3"'
        )
    )
    proc = _release(repo, "check")
    assert proc.returncode == 1
    assert "spikede-solvers>=0.2.0,<0.3" in proc.stderr and "0.1.0" in proc.stderr
    # ... and bumping the version the pin asks for repairs it.
    _set_version(repo, "spikede-solvers", "0.2.0")
    assert _release(repo, "check").returncode == 0


def test_check_tag(repo):
    _bump(repo, "spikede-solvers", "minor")
    proc = _release(repo, "check-tag", "spikede-solvers-v0.2.0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "package=spikede-solvers",
        "path=packages/spikede-solvers",
        "version=0.2.0",
    ]
    # The umbrella's prefix "spikede-v" is not confused with the longer names, and back.
    proc = _release(repo, "check-tag", "refs/tags/spikede-fx-v0.1.0")
    assert proc.returncode == 0 and proc.stdout.splitlines()[0] == "package=spikede-fx"
    proc = _release(repo, "check-tag", "spikede-v0.1.0")
    assert proc.returncode == 0 and proc.stdout.splitlines()[0] == "package=spikede"
    for bad in (
        "spikede-solvers-v0.1.0",
        "spikede-fx-v0.2.0",
        "spikede-other-v0.1.0",
        "spikede-v0.x",
    ):
        proc = _release(repo, "check-tag", bad)
        assert proc.returncode == 1 and proc.stdout == "", bad


# --------------------------------------------------------------------------- slow


def _dry_run(root: Path, report: Path) -> subprocess.CompletedProcess:
    """Resolve the four local packages together (with the torch that is installed), install nothing."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--no-index",
        "--no-build-isolation",
        "--quiet",
        "--report",
        str(report),
        *(str(root / "packages" / f) for f in FOLDERS),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_bumped_workspace_still_resolves_together(repo, tmp_path):
    _bump(repo, "spikede-solvers", "minor")
    _bump(repo, "spikede-interp", "patch")
    proc = _dry_run(repo, tmp_path / "ok.json")
    assert proc.returncode == 0, proc.stderr
    chosen = {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in json.loads((tmp_path / "ok.json").read_text())["install"]
    }
    assert {k: v for k, v in chosen.items() if k.startswith("spikede")} == {
        "spikede-interp": "0.1.1",
        "spikede-solvers": "0.2.0",
        "spikede-fx": "0.1.0",
        "spikede": "0.1.0",
    }
    # A pin the bump did not follow makes the same resolution fail.
    path = _pyproject_path(repo, "spikede")
    path.write_text(
        path.read_text().replace(
            '"spikede-solvers>=0.2.0,<0.3"', '"spikede-solvers>=0.1.0,<0.2"'
        )
    )
    proc = _dry_run(repo, tmp_path / "bad.json")
    assert proc.returncode != 0
    assert "spikede-solvers" in proc.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_bumped_workspace_environment_can_be_created(repo, tmp_path):
    hatch = shutil.which("hatch")
    if hatch is None:
        pytest.skip(
            "hatch is not on PATH (CI and the README install it with `pip install hatch`)"
        )
    _bump(repo, "spikede-solvers", "minor")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HATCH_", "VIRTUAL_ENV", "PYTHONPATH"))
    }
    env["HATCH_DATA_DIR"] = str(tmp_path / "hatch-data")
    env["HATCH_CACHE_DIR"] = str(tmp_path / "hatch-cache")
    proc = subprocess.run(
        [hatch, "env", "create"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    probe = "import spikede, spikede_fx, spikede_interp, spikede_solvers as s; print(s.__version__, s.__file__)"
    proc = subprocess.run(
        [hatch, "run", "python", "-c", probe],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    version, location = proc.stdout.split()[-2:]
    assert version == "0.2.0"
    # The workspace installs the members editable: the import comes from the copy's src/.
    assert Path(location).resolve().is_relative_to((repo / "packages").resolve())


def test_umbrella_bump_moves_the_citation(repo):
    """A release of spikede points CITATION.cff and the references page's BibTeX at it."""
    (repo / "docs" / "reference").mkdir(parents=True)
    for name in ("CITATION.cff", "docs/reference/references.md"):
        shutil.copy2(REPO / name, repo / name)
    _bump(repo, "spikede", "minor")
    cff = (repo / "CITATION.cff").read_text()
    assert '\nversion: "0.2.0"\n' in cff and f'\ndate-released: "{DATE}"\n' in cff
    assert "  version = {0.2.0}," in (repo / "docs/reference/references.md").read_text()
    # A leaf's release leaves the citation alone.
    _bump(repo, "spikede-interp", "patch")
    assert '\nversion: "0.2.0"\n' in (repo / "CITATION.cff").read_text()
