"""The GitHub Actions workflows: valid YAML, the keys that matter, and the README's commands.

``check-jsonschema --builtin-schema vendor.github-workflows`` validates both files against
the GitHub workflow schema too when it is installed (it ships the schema, so it works
offline).
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
PACKAGES = ["spikede-interp", "spikede-solvers", "spikede-fx", "spikede"]
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def _load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def _steps(job: dict) -> list[dict]:
    steps = job["steps"]
    assert isinstance(steps, list) and steps
    for step in steps:
        assert ("run" in step) != ("uses" in step), (
            f"a step needs exactly one of run/uses: {step}"
        )
    return steps


def _runs(workflow: dict) -> list[str]:
    return [
        s["run"] for job in workflow["jobs"].values() for s in _steps(job) if "run" in s
    ]


def readme_test_command() -> str:
    """The README's test command: the `hatch run test...` line of its shell blocks."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:bash|sh|console|shell)\n(.*?)```", text, re.DOTALL)
    commands = [
        line.split("#")[0].strip() for block in blocks for line in block.splitlines()
    ]
    found = [c for c in commands if c.startswith("hatch run test")]
    assert len(found) == 1, (
        f"README.md should show one `hatch run test` command, found {found}"
    )
    return found[0]


@pytest.mark.parametrize("name", ["ci.yml", "publish.yml"])
def test_workflow_has_the_required_top_level_keys(name):
    data = _load(name)
    assert {"name", "on", "jobs"} <= set(data)
    for job_id, job in data["jobs"].items():
        assert job.get("runs-on"), f"{name}: job {job_id} has no runs-on"
        uses = [s["uses"] for s in _steps(job) if "uses" in s]
        for action in uses:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[\w./-]+", action), (
                f"{name}: unpinned action {action}"
            )


def test_ci_runs_on_pull_requests_and_main():
    on = _load("ci.yml")["on"]
    assert "pull_request" in on
    assert on["push"]["branches"] == ["main"]


def test_ci_tests_every_supported_python_with_the_readme_command():
    data = _load("ci.yml")
    test_job = data["jobs"]["test"]
    assert test_job["strategy"]["matrix"]["python-version"] == PYTHONS
    setup = [
        s
        for s in _steps(test_job)
        if s.get("uses", "").startswith("actions/setup-python@")
    ]
    assert (
        setup and setup[0]["with"]["python-version"] == "${{ matrix.python-version }}"
    )
    runs = [s["run"].strip() for s in _steps(test_job) if "run" in s]
    assert any(r.endswith("pip install hatch") for r in runs)
    assert readme_test_command() in runs
    assert "hatch run docs:build" in [r.strip() for r in _runs(data)]


def test_python_matrix_matches_the_package_classifiers():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    for package in PACKAGES:
        with (REPO / "packages" / package / "pyproject.toml").open("rb") as handle:
            classifiers = tomllib.load(handle)["project"]["classifiers"]
        versions = sorted(
            c.rsplit(" ", 1)[1]
            for c in classifiers
            if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
        )
        assert versions == PYTHONS, package


def test_publish_triggers_on_each_package_tag_only():
    patterns = _load("publish.yml")["on"]["push"]["tags"]
    assert sorted(patterns) == sorted(f"{p}-v*" for p in PACKAGES)
    # Which patterns fire for each package's tag: one at least, and the package is then told
    # apart by the longest prefix (tested in test_release.py::test_check_tag).
    for package in PACKAGES:
        tag = f"{package}-v1.2.3"
        fired = [p for p in patterns if fnmatch.fnmatchcase(tag, p)]
        assert fired == [f"{package}-v*"], (tag, fired)
    assert not any(fnmatch.fnmatchcase("spikede-solvers-1.2.3", p) for p in patterns)


def test_publish_uses_trusted_publishing_for_one_package():
    data = _load("publish.yml")
    jobs = data["jobs"]
    publish = [
        j
        for j in jobs.values()
        if any("pypa/gh-action-pypi-publish" in s.get("uses", "") for s in _steps(j))
    ]
    assert len(publish) == 1
    job = publish[0]
    assert job["permissions"]["id-token"] == "write"
    environment = job["environment"]
    assert (
        environment["name"] if isinstance(environment, dict) else environment
    ) == "pypi"
    step = next(
        s for s in _steps(job) if "pypa/gh-action-pypi-publish" in s.get("uses", "")
    )
    assert "password" not in step.get("with", {}), "trusted publishing needs no token"
    # Only the publish job may mint an OIDC token.
    assert data.get("permissions", {}).get("id-token") != "write"
    runs = "\n".join(_runs(data))
    assert (
        "scripts/release.py check-tag" in runs
        and "$GITHUB_REF_NAME" in runs
        and "$GITHUB_OUTPUT" in runs
    )
    # Tests of that package and the cross-package tests, then a build in its own folder.
    assert 'hatch run test "${{ steps.tag.outputs.path }}/tests" tests' in runs
    build = [
        s for j in jobs.values() for s in _steps(j) if "hatch build" in s.get("run", "")
    ]
    assert build and build[0]["working-directory"] == "${{ steps.tag.outputs.path }}"
    assert "-t sdist" in build[0]["run"] and "-t wheel" in build[0]["run"]
    assert job.get("needs"), "publishing must wait for the tests and the build"


@pytest.mark.skipif(
    shutil.which("check-jsonschema") is None, reason="check-jsonschema is not installed"
)
def test_workflows_pass_the_github_workflow_schema(tmp_path):
    files = [str(WORKFLOWS / "ci.yml"), str(WORKFLOWS / "publish.yml")]
    proc = subprocess.run(
        [
            "check-jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *files,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The validator is not blind: a job without runs-on or steps is refused.
    broken = tmp_path / "broken.yml"
    broken.write_text("name: broken\non: push\njobs:\n  a:\n    stepz: []\n")
    proc = subprocess.run(
        [
            "check-jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(broken),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
