"""The `sites`, `users` and `db` sub-apps, driven as an operator would (SQLite file)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bus.redis import RedisBus
from bus.topics import SITES_CHANGED
from hotline.admin_commands import db_app, sites_app, users_app


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("HOTLINE_DB_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    app = typer.Typer()
    app.add_typer(sites_app, name="sites")
    app.add_typer(users_app, name="users")
    app.add_typer(db_app, name="db")
    return app


def test_operator_flow(cli: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    csv = tmp_path / "sites.csv"
    csv.write_text(
        "\ufeffsite_code,organisation,site_name,contact_phone\n"
        "100001,湖北省水利厅,视频会议中心,027-87654321\n"
        "10000A,坏行,坏行,13800138000\n",
        encoding="utf-8",
    )
    before = runner.invoke(cli, ["sites", "import", str(csv)])
    assert before.exit_code == 1 and "hotline db upgrade" in before.output

    upgraded = runner.invoke(cli, ["db", "upgrade"])
    assert upgraded.exit_code == 0 and "revision 0009" in upgraded.output

    imported = runner.invoke(cli, ["sites", "import", str(csv)])
    assert imported.exit_code == 2  # valid rows kept, bad rows reported
    assert "line 3: site_code" in imported.output
    assert "1 of 2 rows imported" in imported.output

    added = runner.invoke(
        cli,
        [
            "users",
            "add",
            "alice",
            "--role",
            "agent",
            "--password",
            "blue-harbour-42",
            "--interface",
            "PJSIP/1001",
        ],
    )
    assert added.exit_code == 0 and "alice (agent)" in added.output
    again = runner.invoke(
        cli, ["users", "add", "alice", "--role", "agent", "--password", "blue-harbour-42"]
    )
    assert again.exit_code == 1 and "already exists" in again.output
    bad_role = runner.invoke(
        cli, ["users", "add", "eve", "--role", "root", "--password", "quiet-meadow-7"]
    )
    assert bad_role.exit_code == 1 and "role" in bad_role.output

    missing = runner.invoke(cli, ["sites", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_generate_writes_an_importable_directory(cli: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "demo.csv"
    result = runner.invoke(cli, ["sites", "generate", str(out), "--sites", "40", "--seed", "5"])
    assert result.exit_code == 0 and "40 sites" in result.output
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    imported = runner.invoke(cli, ["sites", "import", str(out)])
    assert imported.exit_code == 0 and "40 sites created" in imported.output


@pytest.mark.redis
async def test_an_import_tells_the_site_caches_over_redis(
    cli: typer.Typer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    redis_prefix: str,
) -> None:
    monkeypatch.setenv("HOTLINE_REDIS_URL", redis_url)
    monkeypatch.setenv("HOTLINE_REDIS_PREFIX", redis_prefix)
    csv = tmp_path / "sites.csv"
    csv.write_text(
        "site_code,organisation,site_name,contact_phone\n100001,湖北省水利厅,视频会议中心,027-87654321\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    bus = RedisBus(redis_url, prefix=redis_prefix)
    news = await bus.subscribe(SITES_CHANGED)
    try:
        upgraded = await asyncio.to_thread(runner.invoke, cli, ["db", "upgrade"])
        assert upgraded.exit_code == 0
        imported = await asyncio.to_thread(runner.invoke, cli, ["sites", "import", str(csv)])
        assert imported.exit_code == 0, imported.output
        async with asyncio.timeout(5):
            message = await anext(aiter(news))
        assert message["type"] == SITES_CHANGED
    finally:
        await news.close()
        await bus.close()
