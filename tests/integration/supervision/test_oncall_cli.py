"""`hotline oncall import FILE.csv` as an operator runs it (migrated SQLite file)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hotline.admin_commands import db_app
from hotline.oncall_command import oncall_app
from storage.database import Database
from storage.oncall import OnCallRepository

ROWS = (
    "start,end,engineer,phone,channel,address\n"
    "2026-12-05T08:00+08:00,2026-12-05T20:00+08:00,王工,13900139000,dingtalk,"
    "https://oapi.dingtalk.com/robot/send?access_token=a\n"
    "2026-12-05T20:00+08:00,2026-12-06T08:00+08:00,李工,13900139001,fax,http://h\n"
    "2026-12-05T20:00+08:00,2026-12-06T08:00+08:00,赵工,13900139002,email,zhao@example.cn\n"
    "2026-12-06T08:00+08:00,2026-12-05T08:00+08:00,钱工,13900139003,sms,http://sms.example/send\n"
)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[typer.Typer, str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("HOTLINE_DB_URL", url)
    app = typer.Typer()
    app.add_typer(db_app, name="db")
    app.add_typer(oncall_app, name="oncall")
    return app, url


async def _shifts(url: str) -> list[tuple[str, str]]:
    db = Database(url)
    try:
        store = OnCallRepository(db)
        shifts = await store.shifts_between(
            datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 9, tzinfo=UTC)
        )
        return [(s.engineer, s.channel) for s in shifts]
    finally:
        await db.dispose()


def test_import_reports_bad_rows_by_line(cli: tuple[typer.Typer, str], tmp_path: Path) -> None:
    app, url = cli
    runner = CliRunner()
    csv = tmp_path / "rota.csv"
    csv.write_text(ROWS, encoding="utf-8")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0

    result = runner.invoke(app, ["oncall", "import", str(csv)])
    assert result.exit_code == 2  # valid rows kept, bad rows reported
    assert f"{csv}:line 3: channel: one of dingtalk|wecom|sms|email|webhook" in result.output
    assert f"{csv}:line 5: end: must be after start" in result.output
    assert "2 of 4 rows imported: 2 shifts added, 0 updated, 2 rows rejected" in result.output
    assert asyncio.run(_shifts(url)) == [("王工", "dingtalk"), ("赵工", "email")]

    good = tmp_path / "good.csv"
    good.write_text("\n".join(ROWS.splitlines()[:2]) + "\n", encoding="utf-8")
    again = runner.invoke(app, ["oncall", "import", str(good)])
    assert again.exit_code == 0
    assert "1 of 1 rows imported: 0 shifts added, 1 updated" in again.output
    assert len(asyncio.run(_shifts(url))) == 2  # the same period is not doubled

    missing = runner.invoke(app, ["oncall", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "no such file" in missing.output
    header = tmp_path / "header.csv"
    header.write_text("start,end\n", encoding="utf-8")
    bad = runner.invoke(app, ["oncall", "import", str(header)])
    assert bad.exit_code == 1 and "line 1: missing required column(s)" in bad.output
