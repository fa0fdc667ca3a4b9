"""Guards of the monorepo itself: declared dependencies, metadata, and what the builds ship.

The fast tests read the four ``pyproject.toml`` files with ``tomllib`` and check them with
``packaging``; the slow ones build every package with ``hatch build`` (once per session),
rebuild each wheel from its sdist alone, look inside the archives, and install the
solvers wheel into an empty virtual environment that has only torch.
"""

from __future__ import annotations

import ast
import email
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ["spikede-interp", "spikede-solvers", "spikede-fx", "spikede"]
IMPORT_NAME = {folder: folder.replace("-", "_") for folder in FOLDERS}
# One-file modules a package ships next to its import package (src/<name>): the umbrella's
# `spikeDE` import name, a module file so that it cannot collide with `spikede/` on a
# case-insensitive file system.
EXTRA_MODULES = {folder: [] for folder in FOLDERS} | {"spikede": ["spikeDE.py"]}
SIBLINGS = {canonicalize_name(f) for f in FOLDERS}
# What each package may depend on at run time (issue 2): nothing more, nothing less.
EXPECTED_DEPENDENCIES = {
    "spikede-interp": {"torch"},
    "spikede-solvers": {"torch"},
    "spikede-fx": {"torch", "spikede-interp"},
    "spikede": {"torch", "spikede-interp", "spikede-solvers", "spikede-fx"},
}
TORCH_IN_CI = Version("2.13.0")
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def _pyproject(folder: str) -> dict:
    with (REPO / "packages" / folder / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def _version(folder: str) -> Version:
    path = (
        REPO
        / "packages"
        / folder
        / _pyproject(folder)["tool"]["hatch"]["version"]["path"]
    )
    match = re.search(
        r"""^__version__\s*=\s*["']([^"']+)["']""", path.read_text(), re.MULTILINE
    )
    assert match, f"{path} has no __version__ line"
    return Version(match.group(1))


def _requirements(folder: str) -> list[Requirement]:
    return [
        Requirement(r) for r in _pyproject(folder)["project"].get("dependencies", [])
    ]


def _sibling_pins() -> list[tuple[str, Requirement]]:
    return [
        (folder, req)
        for folder in FOLDERS
        for req in _requirements(folder)
        if canonicalize_name(req.name) in SIBLINGS
    ]


# --------------------------------------------------------------------------- fast checks


def test_every_package_is_present_with_its_own_version_file():
    names = {canonicalize_name(_pyproject(f)["project"]["name"]) for f in FOLDERS}
    assert names == SIBLINGS
    for folder in FOLDERS:
        project = _pyproject(folder)["project"]
        assert project["dynamic"] == ["version"], folder
        assert "version" not in project, (
            f"{folder}: the version must live only in __about__.py"
        )
        assert (
            _pyproject(folder)["tool"]["hatch"]["version"]["path"]
            == f"src/{IMPORT_NAME[folder]}/__about__.py"
        )
        assert _version(folder).release, folder


def test_sibling_pins_exist():
    # fx -> interp, and the umbrella -> the three: four pins, or the range test below checks nothing.
    pinned = {(folder, canonicalize_name(req.name)) for folder, req in _sibling_pins()}
    assert pinned == {
        ("spikede-fx", "spikede-interp"),
        ("spikede", "spikede-interp"),
        ("spikede", "spikede-solvers"),
        ("spikede", "spikede-fx"),
    }


@pytest.mark.parametrize(
    ("folder", "requirement"),
    _sibling_pins(),
    ids=[f"{f}->{r.name}" for f, r in _sibling_pins()],
)
def test_sibling_range_admits_the_version_in_the_repo(folder, requirement):
    sibling_version = _version(requirement.name)
    assert requirement.specifier.contains(sibling_version, prereleases=True), (
        f"{folder} requires {requirement}, which excludes {requirement.name} {sibling_version} "
        "in this repository: run scripts/release.py bump, or fix the pin"
    )
    # Policy: a lower bound and an upper bound at the next breaking release.
    operators = {spec.operator for spec in requirement.specifier}
    assert operators == {">=", "<"}, (
        f"{folder}: {requirement} is not of the form >=X.Y.Z,<next"
    )


def test_sibling_range_check_rejects_an_excluded_version():
    # The check above must be able to fail: a pin that stops below the repo's version.
    version = _version("spikede-interp")
    too_old = SpecifierSet(f"<{version}")
    assert not too_old.contains(version, prereleases=True)


@pytest.mark.parametrize("folder", FOLDERS)
def test_declared_dependencies_are_exactly_the_expected_ones(folder):
    declared = {canonicalize_name(r.name) for r in _requirements(folder)}
    assert declared == EXPECTED_DEPENDENCIES[folder]
    torch = next(
        r for r in _requirements(folder) if canonicalize_name(r.name) == "torch"
    )
    assert torch.specifier.contains(TORCH_IN_CI), (
        f"{folder}: {torch} excludes the torch we test with"
    )


@pytest.mark.parametrize("folder", FOLDERS)
def test_requires_python_is_3_10_or_newer(folder):
    spec = SpecifierSet(_pyproject(folder)["project"]["requires-python"])
    for python in PYTHONS:
        assert spec.contains(python), (
            f"{folder}: requires-python {spec} excludes {python}"
        )
    assert not spec.contains("3.9"), f"{folder}: requires-python {spec} admits 3.9"


@pytest.mark.parametrize("folder", FOLDERS)
def test_index_metadata(folder):
    project = _pyproject(folder)["project"]
    base = REPO / "packages" / folder
    assert len(project["description"]) > 20
    assert (
        project["readme"] == "README.md" and (base / "README.md").stat().st_size > 100
    )
    assert project["license"] == "MIT" and (base / "LICENSE").is_file()
    assert (base / "CHANGELOG.md").is_file()
    classifiers = set(project["classifiers"])
    assert "Typing :: Typed" in classifiers
    for python in PYTHONS:
        assert f"Programming Language :: Python :: {python}" in classifiers
    urls = {key.lower(): value for key, value in project["urls"].items()}
    for key in ("documentation", "source", "issues"):
        assert urls.get(key, "").startswith("https://"), (
            f"{folder}: project URL {key!r} missing"
        )
    assert (base / "src" / IMPORT_NAME[folder] / "py.typed").is_file()


def _third_party_imports(folder: str) -> dict[str, set[str]]:
    """Top-level module name -> files importing it, over the package's src/ (absolute imports)."""
    own = IMPORT_NAME[folder]
    src = REPO / "packages" / folder / "src"
    found: dict[str, set[str]] = {}
    paths = sorted((src / own).rglob("*.py")) + [src / m for m in EXTRA_MODULES[folder]]
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == own or top in sys.stdlib_module_names or top == "__future__":
                    continue
                found.setdefault(top, set()).add(path.name)
    return found


def _distribution_of(module: str) -> str:
    if module.startswith("spikede"):
        return canonicalize_name(module)
    dists = importlib.metadata.packages_distributions().get(module)
    return canonicalize_name(dists[0] if dists else module)


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_third_party_import_is_declared(folder):
    project = _pyproject(folder)["project"]
    declared = {canonicalize_name(r.name) for r in _requirements(folder)}
    for extra in project.get("optional-dependencies", {}).values():
        declared |= {canonicalize_name(Requirement(r).name) for r in extra}
    imports = _third_party_imports(folder)
    missing = {
        m: sorted(files)
        for m, files in imports.items()
        if _distribution_of(m) not in declared
    }
    assert not missing, f"{folder} imports undeclared packages: {missing}"


def test_import_scan_finds_imports():
    # The scanner is not blind: fx imports torch (its BaseNeuron is an nn.Module).
    assert "torch" in _third_party_imports("spikede-fx")
    assert _distribution_of("torch") == "torch"


# --------------------------------------------------------------------------- slow: builds


def _run(
    cmd: list[str], cwd: Path | None = None, env: dict | None = None, timeout: int = 300
) -> str:
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, (
        f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    return proc.stdout


def _clean_env() -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # hatch builds its build environment with uv: let uv trust the system certificate
    # store, as pip does, so a machine behind a TLS-inspecting proxy can reach the index.
    env.setdefault("UV_SYSTEM_CERTS", "1")
    env.setdefault("UV_NATIVE_TLS", "1")
    return env


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """Per package: the ``hatch build`` sdist and wheel, and a wheel rebuilt from the sdist alone."""
    out = tmp_path_factory.mktemp("builds")
    hatch = shutil.which("hatch")
    result = {}
    for folder in FOLDERS:
        dist = out / folder
        source = REPO / "packages" / folder
        if hatch:
            _run(
                [hatch, "build", "-t", "sdist", "-t", "wheel", str(dist)],
                cwd=source,
                env=_clean_env(),
            )
        else:  # hatch itself not on PATH: the same backend through the PEP 517 front end.
            _run(
                [
                    sys.executable,
                    "-m",
                    "build",
                    "--no-isolation",
                    "--sdist",
                    "--wheel",
                    "--outdir",
                    str(dist),
                    str(source),
                ]
            )
        sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
        assert len(sdists) == 1 and len(wheels) == 1, (
            f"{folder}: built {sorted(p.name for p in dist.iterdir())}"
        )
        # From scratch: unpack the sdist in an empty folder and build a wheel from that alone.
        unpacked = out / f"{folder}-unpacked"
        with tarfile.open(sdists[0]) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(unpacked, filter="data")
            else:  # Python without extraction filters (before 3.10.12 / 3.11.4)
                tar.extractall(unpacked)
        (tree,) = list(unpacked.iterdir())
        rebuilt = out / f"{folder}-from-sdist"
        _run(
            [
                sys.executable,
                "-m",
                "build",
                "--no-isolation",
                "--wheel",
                "--outdir",
                str(rebuilt),
                str(tree),
            ]
        )
        result[folder] = {
            "sdist": sdists[0],
            "wheel": wheels[0],
            "rebuilt": next(rebuilt.glob("*.whl")),
        }
    return result


def _wheel_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def _wheel_metadata(path: Path):
    with zipfile.ZipFile(path) as archive:
        (meta,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_string(archive.read(meta).decode("utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("folder", FOLDERS)
def test_wheel_holds_only_its_own_modules(builds, folder):
    imp = IMPORT_NAME[folder]
    version = _version(folder)
    for key in ("wheel", "rebuilt"):
        wheel = builds[folder][key]
        assert wheel.name == f"{imp}-{version}-py3-none-any.whl"
        names = _wheel_names(wheel)
        dist_info = f"{imp}-{version}.dist-info/"
        extra = EXTRA_MODULES[folder]
        strays = [n for n in names if not n.startswith((f"{imp}/", dist_info)) and n not in extra]
        assert set(extra) <= set(names), f"{wheel.name} lacks {extra}"
        assert not strays, (
            f"{wheel.name} ships files outside {imp}/ and its dist-info: {strays}"
        )
        shipped = {n[len(imp) + 1 :] for n in names if n.startswith(f"{imp}/")}
        src = REPO / "packages" / folder / "src" / imp
        expected = {
            p.relative_to(src).as_posix()
            for p in src.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        }
        assert "py.typed" in shipped and "__init__.py" in shipped
        assert shipped == expected, (
            f"{wheel.name}: shipped {sorted(shipped ^ expected)} differ from src/"
        )


@pytest.mark.slow
@pytest.mark.parametrize("folder", FOLDERS)
def test_wheel_metadata_matches_pyproject(builds, folder):
    project = _pyproject(folder)["project"]
    meta = _wheel_metadata(builds[folder]["wheel"])
    assert canonicalize_name(meta["Name"]) == canonicalize_name(folder)
    assert Version(meta["Version"]) == _version(folder)
    assert SpecifierSet(meta["Requires-Python"]) == SpecifierSet(
        project["requires-python"]
    )
    requires = {str(Requirement(r)) for r in meta.get_all("Requires-Dist") or []}
    extras = project.get("optional-dependencies", {})
    expected = {str(Requirement(r)) for r in project["dependencies"]} | {
        str(Requirement(f'{r}; extra == "{name}"')) for name, reqs in extras.items() for r in reqs
    }
    assert requires == expected
    assert set(meta.get_all("Provides-Extra") or []) == set(extras)
    assert meta["Description-Content-Type"] == "text/markdown"
    readme = (REPO / "packages" / folder / "README.md").read_text(encoding="utf-8")
    assert meta.get_payload().strip() == readme.strip()
    assert (meta["License-Expression"] or meta["License"]) == "MIT"
    urls = {u.split(",")[0].strip().lower() for u in meta.get_all("Project-URL") or []}
    assert {"documentation", "source", "issues"} <= urls
    # The wheel rebuilt from the sdist alone carries the same metadata.
    assert str(_wheel_metadata(builds[folder]["rebuilt"])) == str(meta)


@pytest.mark.slow
@pytest.mark.parametrize("folder", FOLDERS)
def test_sdist_is_self_contained(builds, folder):
    imp = IMPORT_NAME[folder]
    with tarfile.open(builds[folder]["sdist"]) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
    for required in (
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        f"src/{imp}/py.typed",
        f"src/{imp}/__about__.py",
        f"src/{imp}/__init__.py",
    ):
        assert required in names, f"{folder} sdist lacks {required}"
    extra = [f"src/{m}" for m in EXTRA_MODULES[folder]]
    assert set(extra) <= set(names), f"{folder} sdist lacks {extra}"
    others = [
        n
        for n in names
        if n.startswith("src/") and not n.startswith(f"src/{imp}/") and n not in extra
    ]
    assert not others, f"{folder} sdist ships other packages' sources: {others}"


_SOLVERS_ALONE = r"""
import importlib.metadata, importlib.util, json, sys
import torch
import spikede_solvers
from spikede_solvers import fdeint

# Caputo D^(1/2) y = -y, y(0) = 1 has y = E_{1/2}(-t^(1/2)) = exp(t) erfc(sqrt(t)).
t = torch.linspace(0.0, 1.0, 201, dtype=torch.float64)
y0 = torch.ones(1, dtype=torch.float64)
y = fdeint(lambda s, v: -v, y0, t, 0.5, method="gl")
exact = torch.exp(t) * torch.special.erfc(torch.sqrt(t))
error = (y.reshape(len(t)) - exact).abs().max().item()

others = ["spikede_interp", "spikede_fx", "spikede"]
print(json.dumps({
    "error": error,
    "dtype": str(y.dtype),
    "version": spikede_solvers.__version__,
    "imported": sorted(m for m in sys.modules if m.split(".")[0] in others),
    "findable": [m for m in others if importlib.util.find_spec(m) is not None],
    "distributions": sorted(d.metadata["Name"] for d in importlib.metadata.distributions()),
}))
"""


@pytest.mark.slow
def test_solvers_wheel_installs_and_works_alone(builds, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], env=_clean_env())
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    env = _clean_env()
    # An empty environment: torch (from the machine's pip configuration) and the wheel, nothing else.
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            f"torch=={TORCH_IN_CI}",
            str(builds["spikede-solvers"]["rebuilt"]),
        ],
        env=env,
        timeout=600,
    )
    report = json.loads(
        _run([str(python), "-c", _SOLVERS_ALONE], cwd=tmp_path, env=env)
        .strip()
        .splitlines()[-1]
    )
    assert Version(report["version"]) == _version("spikede-solvers")
    assert report["dtype"] == "torch.float64"
    assert report["error"] < 2e-2, report
    assert report["imported"] == [] and report["findable"] == [], report
    spikede_dists = [
        canonicalize_name(d)
        for d in report["distributions"]
        if d.lower().startswith("spikede")
    ]
    assert spikede_dists == ["spikede-solvers"], report
    listed = json.loads(
        _run([str(python), "-m", "pip", "list", "--format=json"], env=env)
    )
    assert sorted(
        canonicalize_name(p["name"])
        for p in listed
        if p["name"].lower().startswith("spikede")
    ) == ["spikede-solvers"]


def test_ci_script_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:bash|sh|console|shell)\n(.*?)```", readme, re.DOTALL)
    commands = [
        line.split("#")[0].strip() for block in blocks for line in block.splitlines()
    ]
    test_commands = [c for c in commands if c.startswith("hatch run test")]
    assert len(test_commands) == 1, (
        f"README.md should show one `hatch run test` command: {test_commands}"
    )
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    lines = [line.split("#")[0].strip() for line in script.splitlines()]
    assert test_commands[0] in lines, (
        f".ci/run does not run the README's test command {test_commands[0]!r}"
    )
    assert "pip install" in script and "hatch" in script
