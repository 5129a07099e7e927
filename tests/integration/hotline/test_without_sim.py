"""Without the development distribution (sim/), the commands that need it say in one line
how to install it; the product's other commands do not notice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# The `hotline` command in a process where hotline-sim's packages are not found, exactly as
# when the distribution is not installed.
WITHOUT_SIM = """
import sys

class WithoutSim:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pbx", "testkit"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, WithoutSim())
from hotline.cli import app
sys.argv[0] = "hotline"
app()
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["HOTLINE_DB_URL"] = f"sqlite:///{cwd}/h.db"
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_SIM, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (("demo", "--calls", "1"), "hotline demo"),
        (("sites", "generate", "sites.csv"), "hotline sites generate"),
    ],
)
def test_a_command_that_needs_sim_says_how_to_install_it(
    tmp_path: Path, args: tuple[str, ...], command: str
) -> None:
    done = run(*args, cwd=tmp_path)
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"error: {command} needs the development distribution hotline-sim: "
        "pip install -e sim (scripts/install does it)"
    ]
    assert not (tmp_path / "h.db").exists()  # refused before touching anything


def test_the_product_commands_run_without_sim(tmp_path: Path) -> None:
    done = run("db", "upgrade", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "database at revision " in done.stdout + done.stderr
