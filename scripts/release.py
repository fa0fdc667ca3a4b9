"""Release helper for the spikeDE monorepo: bump, check and tag-check one package.

Each package under ``packages/`` is versioned on its own. Its single source of
truth is the ``__version__`` line of the file named by ``[tool.hatch.version]
path`` in its ``pyproject.toml``. Sibling packages depend on each other with
ranges of the form ``>=X.Y.Z,<next-breaking``, where next-breaking is the next
minor release while a package is at ``0.x`` and the next major release from
``1.0`` on.

Commands::

    python scripts/release.py bump <package> <major|minor|patch|X.Y.Z> [--root DIR] [--date YYYY-MM-DD]
    python scripts/release.py check [--root DIR]
    python scripts/release.py check-tag <tag> [--root DIR]

``bump`` rewrites files textually (one quoted string or one line at a time), so
the formatting and comments of every ``pyproject.toml`` survive. ``check-tag``
prints ``package=...``, ``path=...`` and ``version=...`` lines on standard
output (ready to append to ``$GITHUB_OUTPUT``); every other message goes to
standard error.

Only the standard library and ``packaging`` are used.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import re
import sys
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: hatchling ships tomli there.
    import tomli as tomllib  # type: ignore[no-redef]

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

BUMP_PARTS = ("major", "minor", "patch")
_VERSION_LINE = re.compile(
    r"""^(__version__\s*=\s*)(["'])([^"']+)(["'])""", re.MULTILINE
)
_UNRELEASED = re.compile(r"^##\s+\[?unreleased\]?\s*$", re.IGNORECASE | re.MULTILINE)
_SECTION = re.compile(r"^##\s+", re.MULTILINE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ReleaseError(Exception):
    """A release step cannot go on; the message says why and what to do."""


@dataclass
class Package:
    """One package of the monorepo, as read from its folder."""

    name: str
    folder: Path
    pyproject: Path
    version_file: Path
    version: Version

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)


def _load_toml(path: Path) -> dict:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _read_version(version_file: Path) -> Version:
    match = _VERSION_LINE.search(version_file.read_text(encoding="utf-8"))
    if match is None:
        raise ReleaseError(f'{version_file}: no line of the form __version__ = "X.Y.Z"')
    try:
        return Version(match.group(3))
    except InvalidVersion as exc:
        raise ReleaseError(
            f"{version_file}: {match.group(3)!r} is not a valid version"
        ) from exc


def load_packages(root: Path) -> dict[str, Package]:
    """Read every ``packages/*/pyproject.toml`` under ``root``, keyed by canonical name."""
    packages_dir = root / "packages"
    if not packages_dir.is_dir():
        raise ReleaseError(
            f"root {root} has no packages/ folder; pass --root with the repository root"
        )
    found: dict[str, Package] = {}
    for pyproject in sorted(packages_dir.glob("*/pyproject.toml")):
        data = _load_toml(pyproject)
        name = data["project"]["name"]
        try:
            rel = data["tool"]["hatch"]["version"]["path"]
        except KeyError as exc:
            raise ReleaseError(
                f"{pyproject}: [tool.hatch.version] path is missing"
            ) from exc
        version_file = pyproject.parent / rel
        pkg = Package(
            name, pyproject.parent, pyproject, version_file, _read_version(version_file)
        )
        found[pkg.key] = pkg
    if not found:
        raise ReleaseError(f"no packages/*/pyproject.toml under {root}")
    return found


def _requirement_strings(data: dict) -> list[str]:
    project = data.get("project", {})
    strings = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        strings.extend(group)
    return strings


def sibling_requirements(
    pkg: Package, packages: dict[str, Package]
) -> list[tuple[str, Requirement]]:
    """Return ``(raw string, parsed requirement)`` for each sibling that ``pkg`` depends on."""
    out = []
    for raw in _requirement_strings(_load_toml(pkg.pyproject)):
        req = Requirement(raw)
        if (
            canonicalize_name(req.name) in packages
            and canonicalize_name(req.name) != pkg.key
        ):
            out.append((raw, req))
    return out


def next_breaking(version: Version) -> str:
    """The first release that may break users of ``version``: next minor for 0.x, else next major."""
    if version.major == 0:
        return f"0.{version.minor + 1}"
    return f"{version.major + 1}"


def compatible_range(version: Version) -> str:
    """The policy range for siblings that need ``version``: ``>=X.Y.Z,<next-breaking``."""
    return f">={version},<{next_breaking(version)}"


def new_version(old: Version, part: str) -> Version:
    """Compute the version after bumping ``part`` (major/minor/patch) or an explicit X.Y.Z."""
    major, minor, patch = (list(old.release) + [0, 0, 0])[:3]
    if part == "major":
        return Version(f"{major + 1}.0.0")
    if part == "minor":
        return Version(f"{major}.{minor + 1}.0")
    if part == "patch":
        return Version(f"{major}.{minor}.{patch + 1}")
    try:
        target = Version(part)
    except InvalidVersion as exc:
        raise ReleaseError(
            f"bump part {part!r} is neither one of {BUMP_PARTS} nor a version X.Y.Z"
        ) from exc
    if target <= old:
        raise ReleaseError(
            f"new version {target} must be greater than the current version {old}"
        )
    return target


def _moves_ranges(old: Version, new: Version) -> bool:
    """True for a minor or major step: sibling ranges then move up to ``new`` in any case."""
    return (new.major, new.minor) != (old.major, old.minor)


def _format_requirement(req: Requirement, specifier: str) -> str:
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    marker = f"; {req.marker}" if req.marker else ""
    return f"{req.name}{extras}{specifier}{marker}"


def _replace_quoted(text: str, old: str, new: str, where: Path) -> str:
    count = 0
    for quote in ('"', "'"):
        needle = f"{quote}{old}{quote}"
        count += text.count(needle)
        text = text.replace(needle, f"{quote}{new}{quote}")
    if count == 0:
        raise ReleaseError(
            f"{where}: could not find the quoted requirement {old!r} to rewrite"
        )
    return text


def _write_version(pkg: Package, version: Version) -> None:
    text = pkg.version_file.read_text(encoding="utf-8")
    new_text, n = _VERSION_LINE.subn(
        lambda m: f"{m.group(1)}{m.group(2)}{version}{m.group(4)}", text, count=1
    )
    if n != 1:
        raise ReleaseError(f"{pkg.version_file}: no __version__ line to rewrite")
    pkg.version_file.write_text(new_text, encoding="utf-8")


def _changelog_path(pkg: Package) -> Path:
    return pkg.folder / "CHANGELOG.md"


def _has_section(text: str, version: Version) -> bool:
    pattern = re.compile(rf"^##\s+\[?{re.escape(str(version))}\]?(\s|$)", re.MULTILINE)
    return pattern.search(text) is not None


def _add_unreleased_entry(path: Path, entry: str) -> None:
    """Append ``entry`` under the changelog's ``## Unreleased`` heading, creating it if needed."""
    text = (
        path.read_text(encoding="utf-8")
        if path.exists()
        else f"# Changelog of {path.parent.name}\n"
    )
    match = _UNRELEASED.search(text)
    if match is None:
        first = _SECTION.search(text)
        block = f"## Unreleased\n\n- {entry}\n\n"
        if first is None:
            text = text.rstrip("\n") + "\n\n" + block
        else:
            text = text[: first.start()] + block + text[first.start() :]
    else:
        nxt = _SECTION.search(text, match.end())
        end = nxt.start() if nxt else len(text)
        body = text[match.end() : end].strip("\n")
        body = (body + "\n" if body else "") + f"- {entry}"
        text = (
            text[: match.start()]
            + f"## Unreleased\n\n{body}\n\n"
            + text[end:].lstrip("\n")
        )
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def _release_changelog(
    path: Path, version: Version, date: str, default_entry: str
) -> None:
    """Turn ``## Unreleased`` into ``## <version> - <date>``, or add a new dated section."""
    text = (
        path.read_text(encoding="utf-8")
        if path.exists()
        else f"# Changelog of {path.parent.name}\n"
    )
    if _has_section(text, version):
        raise ReleaseError(f"{path}: a section for {version} already exists")
    heading = f"## {version} - {date}"
    match = _UNRELEASED.search(text)
    if match is not None:
        nxt = _SECTION.search(text, match.end())
        end = nxt.start() if nxt else len(text)
        body = text[match.end() : end].strip("\n") or f"- {default_entry}"
        text = (
            text[: match.start()] + f"{heading}\n\n{body}\n\n" + text[end:].lstrip("\n")
        )
    else:
        first = _SECTION.search(text)
        block = f"{heading}\n\n- {default_entry}\n\n"
        if first is None:
            text = text.rstrip("\n") + "\n\n" + block
        else:
            text = text[: first.start()] + block + text[first.start() :]
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def find_package(packages: dict[str, Package], name: str) -> Package:
    """Look a package up by distribution name or folder name."""
    key = canonicalize_name(name)
    if key in packages:
        return packages[key]
    for pkg in packages.values():
        if pkg.folder.name == name:
            return pkg
    known = ", ".join(sorted(p.name for p in packages.values()))
    raise ReleaseError(
        f"package {name!r} is not in this repository; known packages: {known}"
    )


def bump(root: Path, name: str, part: str, date: str | None = None) -> list[str]:
    """Bump one package, rewrite the sibling ranges that must follow, date its changelog.

    Returns the human-readable list of changes made.
    """
    if date is None:
        date = _dt.date.today().isoformat()
    elif not _DATE.match(date):
        raise ReleaseError(f"--date {date!r} is not of the form YYYY-MM-DD")
    packages = load_packages(root)
    pkg = find_package(packages, name)
    old = pkg.version
    new = new_version(old, part)
    move_ranges = _moves_ranges(old, new)
    changes = [f"{pkg.name}: {old} -> {new} ({pkg.version_file.relative_to(root)})"]

    # Plan every rewrite before touching a file, so an error leaves the tree unchanged.
    rewrites: list[tuple[Package, str, str]] = []
    for other in packages.values():
        if other.key == pkg.key:
            continue
        for raw, req in sibling_requirements(other, packages):
            if canonicalize_name(req.name) != pkg.key:
                continue
            if not move_ranges and req.specifier.contains(new, prereleases=True):
                continue
            rewrites.append(
                (other, raw, _format_requirement(req, compatible_range(new)))
            )

    _write_version(pkg, new)
    for other, raw, replacement in rewrites:
        text = other.pyproject.read_text(encoding="utf-8")
        other.pyproject.write_text(
            _replace_quoted(text, raw, replacement, other.pyproject), encoding="utf-8"
        )
        _add_unreleased_entry(_changelog_path(other), f"Require `{replacement}`.")
        changes.append(
            f"{other.name}: dependency {raw!r} -> {replacement!r} (release {other.name} too)"
        )
    _release_changelog(_changelog_path(pkg), new, date, f"Release {new}.")
    changes.append(f"{pkg.name}: CHANGELOG.md section '## {new} - {date}'")
    if pkg.key == _CITED:
        changes.extend(_update_citation(root, new, date))
    return changes


#: The package whose version the citation (CITATION.cff, the references page) names.
_CITED = "spikede"
_CITATIONS = (
    ("CITATION.cff", re.compile(r'^(version: ")[^"]*(")', re.M), re.compile(r'^(date-released: ")[^"]*(")', re.M)),
    ("docs/reference/references.md", re.compile(r"^(  version = \{)[^}]*(\},)", re.M), None),
)


def _update_citation(root: Path, version: Version, date: str) -> list[str]:
    """Point the citation files at the new release of the umbrella package."""
    changes = []
    for name, version_line, date_line in _CITATIONS:
        path = root / name
        if not path.exists():
            continue
        text, n = version_line.subn(rf"\g<1>{version}\g<2>", path.read_text(encoding="utf-8"))
        if n != 1:
            raise ReleaseError(f"{name}: expected one citation version line, found {n}")
        if date_line is not None:
            text = date_line.sub(rf"\g<1>{date}\g<2>", text)
        path.write_text(text, encoding="utf-8")
        changes.append(f"{name}: citation version {version}")
    return changes


def check(root: Path) -> list[str]:
    """Return one message per sibling range that does not admit the sibling's version."""
    packages = load_packages(root)
    problems = []
    for pkg in packages.values():
        for raw, req in sibling_requirements(pkg, packages):
            sibling = packages[canonicalize_name(req.name)]
            if not req.specifier.contains(sibling.version, prereleases=True):
                problems.append(
                    f"{pkg.pyproject.relative_to(root)}: {pkg.name} requires {raw!r}, "
                    f"which does not admit {sibling.name} {sibling.version} in this repository; "
                    f"use '{sibling.name}{compatible_range(sibling.version)}'"
                )
    return problems


def package_for_tag(packages: dict[str, Package], tag: str) -> tuple[Package, str]:
    """Split a tag ``<name>-v<version>`` by the longest matching package-name prefix."""
    tag = tag.removeprefix("refs/tags/")
    best: Package | None = None
    for pkg in packages.values():
        prefix = f"{pkg.name}-v"
        if tag.startswith(prefix) and (best is None or len(pkg.name) > len(best.name)):
            best = pkg
    if best is None:
        expected = ", ".join(f"{p.name}-vX.Y.Z" for p in packages.values())
        raise ReleaseError(f"tag {tag!r} names no package; expected one of: {expected}")
    return best, tag[len(best.name) + 2 :]


def check_tag(root: Path, tag: str) -> tuple[Package, Version]:
    """Check that ``tag`` names a package at exactly the version in the repository."""
    packages = load_packages(root)
    pkg, raw_version = package_for_tag(packages, tag)
    try:
        tagged = Version(raw_version)
    except InvalidVersion as exc:
        raise ReleaseError(
            f"tag {tag!r}: {raw_version!r} is not a valid version"
        ) from exc
    if tagged != pkg.version:
        raise ReleaseError(
            f"tag {tag!r} says {pkg.name} {tagged}, but {pkg.version_file.relative_to(root)} "
            f"says {pkg.version}; run the bump first or tag {pkg.name}-v{pkg.version}"
        )
    changelog = _changelog_path(pkg)
    if not changelog.exists() or not _has_section(
        changelog.read_text(encoding="utf-8"), tagged
    ):
        raise ReleaseError(
            f"{changelog.relative_to(root)} has no '## {tagged}' section"
        )
    return pkg, tagged


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="release.py", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_bump = sub.add_parser(
        "bump", help="bump one package's version, sibling ranges and changelog"
    )
    p_bump.add_argument("package", help="distribution name, e.g. spikede-solvers")
    p_bump.add_argument(
        "part", help="major, minor, patch, or an explicit version X.Y.Z"
    )
    p_bump.add_argument(
        "--date", default=None, help="date of the changelog section (default: today)"
    )
    p_check = sub.add_parser(
        "check", help="every sibling range admits the version in the repository"
    )
    p_tag = sub.add_parser(
        "check-tag", help="a tag <package>-v<version> matches the package version"
    )
    p_tag.add_argument(
        "tag", help="e.g. spikede-solvers-v0.2.0 (a refs/tags/ prefix is dropped)"
    )
    for p in (p_bump, p_check, p_tag):
        p.add_argument(
            "--root",
            type=Path,
            default=Path(__file__).resolve().parent.parent,
            help="repository root (default: the folder above scripts/)",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    root = args.root.resolve()
    try:
        if args.command == "bump":
            for line in bump(root, args.package, args.part, args.date):
                print(line)
            problems = check(root)
            for line in problems:
                print(f"error: {line}", file=sys.stderr)
            return 1 if problems else 0
        if args.command == "check":
            problems = check(root)
            for line in problems:
                print(f"error: {line}", file=sys.stderr)
            if problems:
                return 1
            for pkg in load_packages(root).values():
                print(f"ok: {pkg.name} {pkg.version}", file=sys.stderr)
            return 0
        pkg, version = check_tag(root, args.tag)
        print(f"package={pkg.name}")
        print(f"path={pkg.folder.relative_to(root).as_posix()}")
        print(f"version={version}")
        print(f"ok: tag {args.tag} matches {pkg.name} {version}", file=sys.stderr)
        return 0
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
