"""Drift check between the dependency ranges, the lock and the installed venv.

Run by `scripts/test` before anything else. It prints one line and exits 1 when

* the dependency ranges in the pyproject files or requirements-tools.in changed
  since requirements.lock was made (the lock records a digest of them),
* a range is not satisfied by the version the lock pins, or
* the venv running this script holds another version than the lock pins, misses a
  locked package, or holds a package the lock does not know, or
* a package of this repository (a pyproject's `packages.find` include list) cannot be
  imported from the venv: the editable install predates it.

Exits 0 silently when all agree. Uses only the standard library and `packaging`
(which the lock installs), so it runs in the project's venv.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
DIGEST_PREFIX = "# inputs-sha256: "
FIX = "run scripts/upgrade-deps --minimal"
# Distributions of this repository: installed from source, so not in the lock.
OWN = {"hotline", "hotline-sim"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


class Drift(Exception):
    """One line saying what disagrees and what to do."""


def input_requirements(pyprojects: list[Path], tools: Path) -> list[str]:
    """Every range the lock is made from: runtime, `dev` extra, build system, tools."""
    reqs: list[str] = []
    for path in pyprojects:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        project = data.get("project", {})
        reqs += project.get("dependencies", [])
        reqs += project.get("optional-dependencies", {}).get("dev", [])
        reqs += data.get("build-system", {}).get("requires", [])
    for line in tools.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            reqs.append(line)
    return [r for r in reqs if canonicalize_name(Requirement(r).name) not in OWN]


def digest(reqs: list[str]) -> str:
    """A digest of the ranges that ignores order, spacing and duplicates."""
    normal = sorted({str(Requirement(r)) for r in reqs})
    return hashlib.sha256("\n".join(normal).encode()).hexdigest()


def locked_pins(lock: Path) -> tuple[dict[str, tuple[str, str | None]], str | None]:
    """The lock's `name==version` pins (with their markers) and its recorded digest."""
    pins: dict[str, tuple[str, str | None]] = {}
    recorded = None
    for line in lock.read_text(encoding="utf-8").splitlines():
        if line.startswith(DIGEST_PREFIX):
            recorded = line[len(DIGEST_PREFIX) :].strip()
            continue
        match = _PIN.match(line)
        if match:
            name, version, marker = match.groups()
            pins[canonicalize_name(name)] = (version, marker)
    return pins, recorded


def check_inputs(pyprojects: list[Path], tools: Path, lock: Path) -> None:
    if not lock.exists():
        raise Drift(f"{lock.name} is missing: {FIX}")
    reqs = input_requirements(pyprojects, tools)
    pins, recorded = locked_pins(lock)
    for text in reqs:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = canonicalize_name(req.name)
        if name not in pins:
            raise Drift(f"{req.name} is required ({text}) but not in {lock.name}: {FIX}")
        version = pins[name][0]
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            raise Drift(f"{lock.name} pins {req.name}=={version}, outside {text!r}: {FIX}")
    if recorded != digest(reqs):
        raise Drift(f"dependency ranges changed since {lock.name} was made: {FIX}")


def check_installed(lock: Path) -> None:
    pins, _ = locked_pins(lock)
    wanted = {
        name: version
        for name, (version, marker) in pins.items()
        if marker is None or Marker(marker).evaluate()
    }
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"]
    }
    for name, version in sorted(wanted.items()):
        have = installed.get(name)
        if have != version:
            state = "missing" if have is None else f"{have} installed"
            raise Drift(
                f"venv does not match {lock.name}: {name}=={version} locked, {state}: "
                "run scripts/install"
            )
    extra = sorted(set(installed) - set(wanted) - OWN)
    if extra:
        raise Drift(
            f"venv holds packages {lock.name} does not lock ({', '.join(extra)}): "
            "run scripts/install"
        )


def check_packages(pyprojects: list[Path]) -> None:
    """The editable installs map each package they knew when made: a package added
    since is not importable until scripts/install runs again."""
    for path in pyprojects:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
        find = config.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {})
        for pattern in find.get("include", []):
            name = pattern.rstrip("*").rstrip(".")
            if name and importlib.util.find_spec(name) is None:
                raise Drift(
                    f"package {name!r} of {path.parent.name or path.parent}/pyproject.toml is"
                    " not importable from the venv (added since the last install):"
                    " run scripts/install"
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument(
        "--lock", type=Path, help="the lock to check (default ROOT/requirements.lock)"
    )
    parser.add_argument("--no-venv", action="store_true", help="check the files only")
    parser.add_argument(
        "--print-digest",
        action="store_true",
        help="print the digest of the current ranges and exit",
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    pyprojects = [root / "pyproject.toml", *sorted(root.glob("*/pyproject.toml"))]
    tools = root / "requirements-tools.in"
    lock = args.lock or root / "requirements.lock"
    if args.print_digest:
        print(digest(input_requirements(pyprojects, tools)))
        return 0
    try:
        check_inputs(pyprojects, tools, lock)
        if not args.no_venv:
            check_installed(lock)
            check_packages(pyprojects)
    except Drift as exc:
        print(f"dependency drift: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
