"""`hotline users add|list|passwd|disable|enable|role` as an operator runs them: passwords
from a prompt or stdin (never visible in `ps`), the policy, the last admin kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hotline.admin_commands import db_app, users_app

SECRET = "unseen-orchid-4471"


@pytest.fixture
def db_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    monkeypatch.setenv("HOTLINE_DB_URL", url)
    monkeypatch.delenv("HOTLINE_REDIS_URL", raising=False)
    app = typer.Typer()
    app.add_typer(db_app, name="db")
    assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
    return {**os.environ, "HOTLINE_DB_URL": url}


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(users_app, name="users")
    return app


def _hotline() -> list[str]:
    """The installed `hotline` console script, as an operator runs it."""
    return [str(Path(sys.executable).parent / "hotline")]


def _command_lines() -> str:
    return subprocess.run(
        ["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize(
    "args",
    [
        ["users", "add", "zoe", "--role", "agent", "--password-stdin"],
        ["users", "passwd", "zoe", "--password-stdin"],
    ],
)
def test_no_password_appears_in_ps(
    db_env: dict[str, str], cli: typer.Typer, args: list[str]
) -> None:
    if args[1] == "passwd":
        added = CliRunner().invoke(
            cli,
            ["users", "add", "zoe", "--role", "agent", "--password-stdin"],
            input="first-secret-993\n",
        )
        assert added.exit_code == 0, added.output
    process = subprocess.Popen(
        [*_hotline(), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=db_env,
        text=True,
    )
    try:
        time.sleep(1.0)  # started and waiting for its standard input
        assert process.poll() is None
        seen = _command_lines()
        assert "--password-stdin" in seen  # the process is there ...
        assert SECRET not in seen  # ... its password is not
        out, err = process.communicate(SECRET + "\n", timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "--password is visible" not in err


def test_users_flow(db_env: dict[str, str], cli: typer.Typer) -> None:
    runner = CliRunner()
    prompted = runner.invoke(
        cli, ["users", "add", "root", "--role", "admin"], input=f"{SECRET}\n{SECRET}\n"
    )
    assert prompted.exit_code == 0 and "root (admin) created" in prompted.output
    old_style = runner.invoke(
        cli,
        [
            "users",
            "add",
            "amy",
            "--role",
            "agent",
            "--password",
            "silver-kettle-21",
            "--interface",
            "PJSIP/1001",
        ],
    )
    assert old_style.exit_code == 0 and "--password is visible" in old_style.output
    weak = runner.invoke(
        cli, ["users", "add", "ben", "--role", "agent", "--password-stdin"], input="password123\n"
    )
    assert weak.exit_code == 1 and "common" in weak.output

    listed = runner.invoke(cli, ["users", "list"])
    assert listed.exit_code == 0
    assert listed.output.splitlines() == [
        "amy\tagent\tPJSIP/1001\tenabled",
        "root\tadmin\t-\tenabled",
    ]

    last = runner.invoke(cli, ["users", "disable", "root"])
    assert last.exit_code == 1 and "last enabled admin" in last.output
    demote = runner.invoke(cli, ["users", "role", "root", "agent"])
    assert demote.exit_code == 1 and "last enabled admin" in demote.output

    assert runner.invoke(cli, ["users", "disable", "amy"]).exit_code == 0
    assert "amy\tagent\tPJSIP/1001\tdisabled" in runner.invoke(cli, ["users", "list"]).output
    assert runner.invoke(cli, ["users", "enable", "amy"]).exit_code == 0
    assert runner.invoke(cli, ["users", "role", "amy", "supervisor"]).exit_code == 0
    assert runner.invoke(cli, ["users", "role", "amy", "root"]).exit_code == 1
    passwd = runner.invoke(
        cli, ["users", "passwd", "amy"], input="fresh-pebble-88\nfresh-pebble-88\n"
    )
    assert passwd.exit_code == 0 and "sessions ended" in passwd.output
    assert (
        runner.invoke(
            cli, ["users", "passwd", "nobody", "--password-stdin"], input="x-y-z-1234567\n"
        ).exit_code
        == 1
    )
