"""The drift check of scripts/test: ranges, lock and venv must agree, or one line says why."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CHECK = ROOT / "scripts" / "check_lock.py"
# The lock under test: the candidate while scripts/upgrade-deps tries one (HOTLINE_LOCK),
# else the committed one.
LOCK = Path(os.environ.get("HOTLINE_LOCK") or ROOT / "requirements.lock")


def check(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK), "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "requirements-tools.in"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(LOCK, tmp_path / "requirements.lock")
    for sub in ROOT.glob("*/pyproject.toml"):
        (tmp_path / sub.parent.name).mkdir()
        shutil.copy(sub, tmp_path / sub.parent.name / "pyproject.toml")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_committed_lock_matches_the_ranges_and_this_venv() -> None:
    done = check(ROOT, "--lock", str(LOCK))
    assert done.returncode == 0, done.stderr


def test_a_range_the_lock_no_longer_satisfies(copy: Path) -> None:
    edit(copy / "pyproject.toml", '"redis>=5.2"', '"redis>=99"')
    done = check(copy, "--no-venv")
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("dependency drift: ")
    assert "redis" in line and "redis>=99" in line and "scripts/upgrade-deps" in line


def test_a_changed_range_the_lock_still_satisfies(copy: Path) -> None:
    # Still satisfied by the pinned version, but the lock was not made from it.
    edit(copy / "pyproject.toml", '"redis>=5.2"', '"redis>=5.2.1"')
    done = check(copy, "--no-venv")
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert "ranges changed since requirements.lock was made" in line


def test_a_new_dependency_missing_from_the_lock(copy: Path) -> None:
    edit(copy / "pyproject.toml", '"psutil>=6",', '"psutil>=6",\n    "left-pad>=1",')
    done = check(copy, "--no-venv")
    assert done.returncode == 1
    assert "left-pad" in done.stderr and "not in requirements.lock" in done.stderr


def test_reordering_the_ranges_is_not_drift(copy: Path) -> None:
    edit(copy / "pyproject.toml", '    "psutil>=6",\n', "")
    edit(copy / "pyproject.toml", '"panoramisk==1.4",', '"psutil >= 6",\n    "panoramisk==1.4",')
    assert check(copy, "--no-venv").returncode == 0


def test_a_venv_that_differs_from_the_lock(copy: Path) -> None:
    lock = copy / "requirements.lock"
    text = lock.read_text(encoding="utf-8")
    pinned = re.search(r"^pytest==(\S+)", text, re.M)
    assert pinned is not None
    lock.write_text(text.replace(f"pytest=={pinned[1]}", "pytest==0.0.1"), encoding="utf-8")
    # The ranges still agree (pytest>=8.3 is violated, so drop that range for this case).
    edit(copy / "pyproject.toml", '"pytest>=8.3",', '"pytest",')
    (copy / "requirements.lock").write_text(
        re.sub(
            r"^# inputs-sha256: .*$",
            "# inputs-sha256: " + check(copy, "--print-digest").stdout.strip(),
            lock.read_text(encoding="utf-8"),
            flags=re.M,
        ),
        encoding="utf-8",
    )
    done = check(copy)
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert "venv does not match requirements.lock: pytest==0.0.1 locked" in line


def test_a_package_the_editable_install_does_not_know(copy: Path) -> None:
    edit(copy / "pyproject.toml", '"pipeline*",', '"pipeline*", "not_installed_yet*",')
    done = check(copy, "--lock", str(LOCK))
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert "'not_installed_yet'" in line and "run scripts/install" in line
