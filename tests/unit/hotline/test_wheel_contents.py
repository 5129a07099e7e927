"""The product wheel carries the product only: the PBX stand-in, the test helpers, the demo
directory and the demo runner belong to the development distribution in sim/."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# The development distribution's top-level packages (sim/pyproject.toml).
SIM_PACKAGES = ("pbx", "testkit")
# Where the scaffolding lived before it moved to sim/: none of it may come back.
SCAFFOLDING = (
    "ami/testing.py",
    "ami/transcript.py",
    "storage/testing.py",
    "routing/demo_directory.py",
    "hotline/demo.py",
)


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    # A copy of the tree, so that the build neither writes into the work tree nor picks up
    # a stale build/ directory (setuptools packs whatever build/lib holds).
    source = tmp_path_factory.mktemp("source") / "hotline"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".*", "build", "dist", "*.egg-info", "__pycache__", "artifacts", "journal", "sounds"
        ),
    )
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation"]
        + ["-q", "-w", str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = out.glob("hotline-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_wheel_holds_the_product(wheel_files: list[str]) -> None:
    assert "ami/protocol.py" in wheel_files
    assert "hotline/cli.py" in wheel_files
    assert "ivr/menus/default.toml" in wheel_files


def test_the_wheel_holds_no_stand_in_helpers_or_demo(wheel_files: list[str]) -> None:
    tops = {name.split("/", 1)[0] for name in wheel_files}
    assert not tops & {*SIM_PACKAGES, "sim", "tests", "bench"}
    assert [name for name in wheel_files if name in SCAFFOLDING] == []
    assert [name for name in wheel_files if "demo_directory" in name] == []


def test_the_package_list_names_no_sim_package() -> None:
    # setuptools does not look inside sim/ for the root project, so a pattern such as
    # "pbx*" would not put the stand-in back by itself; it says the wrong thing all the same.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert [p for p in patterns for top in SIM_PACKAGES if fnmatch.fnmatch(top, p)] == []
