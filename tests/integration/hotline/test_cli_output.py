"""What each command prints by default: its result, or one error line; details with -v."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HOTLINE = str(Path(sys.executable).parent / "hotline")


def run(*args: str, db_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["HOTLINE_DB_URL"] = db_url
    return subprocess.run(
        [HOTLINE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_db_upgrade_prints_its_result_only(tmp_path: Path) -> None:
    done = run("db", "upgrade", db_url=f"sqlite:///{tmp_path}/h.db", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = lines(done.stdout) + lines(done.stderr)
    assert 1 <= len(out) <= 2, out
    assert out[0].startswith("database at revision ")


def test_db_upgrade_verbose_shows_the_migrations(tmp_path: Path) -> None:
    done = run("-v", "db", "upgrade", db_url=f"sqlite:///{tmp_path}/h.db", cwd=tmp_path)
    assert done.returncode == 0
    assert "Running upgrade" in done.stderr


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://hotline@127.0.0.1:9/hotline",  # nothing listens on the discard port
        "sqlite:////nonexistent-dir/deeper/h.db",
    ],
)
def test_db_upgrade_unreachable_is_one_clear_line(tmp_path: Path, url: str) -> None:
    done = run("db", "upgrade", db_url=url, cwd=tmp_path)
    assert done.returncode != 0
    err = lines(done.stderr)
    assert 1 <= len(err) <= 3, err
    assert err[0].startswith("error: cannot upgrade"), err
    assert "HOTLINE_DB_URL" in err[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_bad_setting_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["HOTLINE_LOG_FORMAT"] = "xml"
    done = subprocess.run(
        [HOTLINE, "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode != 0
    err = lines(done.stderr)
    assert len(err) == 1 and "log_format" in err[0], err
