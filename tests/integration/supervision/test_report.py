"""Monthly report from generated data: every plot is a PNG, CSV numbers match the database."""

from __future__ import annotations

import asyncio
import csv
import random
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from hotline.report_command import report_app
from storage.database import Database
from storage.models import (
    CallRow,
    EscalationStepRow,
    SatisfactionScoreRow,
    SiteRow,
    TicketRow,
)
from storage.reports import ReportRepository
from supervision.domain.monthly import CallFact, EmergencyPeriod, EscalationFact, TicketFact
from supervision.records import MonthFacts, SatisfactionFact
from supervision.report import PLOTS, render_monthly
from testkit.scratch_db import create_tables, scratch_sqlite_url

# Each report renders its plots with matplotlib: seconds of CPU per test.
pytestmark = pytest.mark.slow

CST_OFFSET = "+8 hours"
NOV = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 2026-11-01 00:00 Beijing
TIERS = ["province", "city", "county", "township"]
CAUSES = ["MCU power supply", "transmission line cut", "camera lens", "configuration", ""]


async def generate(db: Database, seed: int = 6) -> None:
    rng = random.Random(seed)
    now = NOV + timedelta(days=40)
    async with db.sessions.begin() as s:
        for i in range(8):
            s.add(
                SiteRow(
                    site_code=f"32{i:02d}",
                    customer_id=f"C{i % 3}",
                    organisation=f"Org {i}",
                    site_name=f"会议室 {i}",
                    tier=TIERS[i % 4],
                    address="",
                    distance_km=20.0 * i,
                    sector="",
                    network_notes="",
                    updated_at=now,
                )
            )
        # A day either side of the month, which must be left out.
        span = (
            [NOV - timedelta(hours=3)]
            + [
                NOV + timedelta(days=d, minutes=rng.randrange(0, 24 * 60))
                for d in range(30)
                for _ in range(rng.randrange(3, 12))
            ]
            + [NOV + timedelta(days=30, hours=1)]
        )
        for n, started in enumerate(sorted(span)):
            outcome = rng.choice(["answered"] * 6 + ["abandoned"] * 2 + ["ivr_hangup"])
            queued = started + timedelta(seconds=25)
            answered = (
                queued + timedelta(seconds=rng.randrange(2, 60)) if outcome == "answered" else None
            )
            emergency = (
                NOV + timedelta(days=11, hours=2) <= started <= NOV + timedelta(days=11, hours=9)
            )
            ticket = f"HL-{n:05d}" if outcome != "ivr_hangup" else None
            s.add(
                CallRow(
                    call_id=f"17634{n:05d}.{n}",
                    caller_number="+8613800138000",
                    caller_name="",
                    site_code=f"32{n % 8:02d}",
                    level=1 + n % 4,
                    queue="hotline-main",
                    agent=None,
                    agent_interface=None,
                    started_at=started,
                    queued_at=queued,
                    answered_at=answered,
                    ended_at=started + timedelta(minutes=5),
                    outcome=outcome,
                    ticket_number=None if emergency and n % 3 == 0 else ticket,
                    paper_number=f"P-{n:04d}" if emergency else None,
                    hold_seconds=None,
                    talk_seconds=None,
                    updated_at=now,
                )
            )
            if ticket is None or (emergency and n % 3 == 0):
                continue
            level = 1 + n % 4
            due = started + (timedelta(minutes=30) if level == 1 else timedelta(hours=2))
            responded = started + timedelta(minutes=rng.randrange(5, 200))
            s.add(
                TicketRow(
                    number=ticket,
                    call_id=f"17634{n:05d}.{n}",
                    site_code=f"32{n % 8:02d}",
                    level=level,
                    status=rng.choice(["open", "resolved", "closed"]),
                    source="backfill" if emergency else "call",
                    caller_number="+8613800138000",
                    caller_name="",
                    created_at=started,
                    updated_at=now,
                    response_due=due,
                    onsite_due=None,
                    responded_at=responded,
                    resolved_at=None,
                    closed_at=None,
                    description="fault",
                    cause=rng.choice(CAUSES),
                )
            )
            if n % 2:
                s.add(
                    SatisfactionScoreRow(
                        call_id=f"17634{n:05d}.{n}",
                        ticket_number=ticket,
                        score=rng.choice([1, 1, 2, 3, 4, 5, None]),
                        at=started + timedelta(minutes=6),
                    )
                )
            for k in range(rng.randrange(0, 3)):
                s.add(
                    EscalationStepRow(
                        key=f"{ticket}/esc/{level}/{k}",
                        ticket_number=ticket,
                        kind="escalation",
                        level=level,
                        step_index=k,
                        targets="duty_engineer",
                        reason="",
                        due_at=started,
                        taken_at=started + timedelta(minutes=15 * (k + 1)),
                    )
                )
            if level == 1:
                s.add(
                    EscalationStepRow(
                        key=f"{ticket}/breach/response",
                        ticket_number=ticket,
                        kind="breach",
                        level=level,
                        step_index=None,
                        targets="duty_engineer",
                        reason="",
                        due_at=due,
                        taken_at=due,
                    )
                )


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


async def sql(db: Database, query: str) -> list[tuple[object, ...]]:
    async with db.engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(query))).all()]


MONTH_WHERE = "{col} >= '2026-10-31 16:00:00' AND {col} < '2026-11-30 16:00:00'"


async def test_monthly_report_plots_and_csv_match_the_database(
    database: Database, tmp_path: Path
) -> None:
    await generate(database)
    stages: list[str] = []
    index = await render_monthly(
        ReportRepository(database),
        "2026-11",
        tmp_path / "out",
        progress=lambda stage, f: stages.append(stage),
        now=NOV + timedelta(days=40),
        language="en",
    )
    assert index == tmp_path / "out" / "2026-11" / "index.html"
    page = index.read_text(encoding="utf-8")
    for name, title in PLOTS:
        png = index.parent / f"{name}.png"
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", data[16:24])
        assert data[12:16] == b"IHDR" and width > 300 and height > 200, name
        assert f'src="{name}.png"' in page and title in page
    assert stages[0] == "reading the database" and stages[-1] == "done"

    where = MONTH_WHERE.format(col="started_at")
    per_day = {
        (day, outcome): n
        for day, outcome, n in await sql(
            database,
            f"SELECT date(started_at, '{CST_OFFSET}'), outcome, count(*) FROM calls "
            f"WHERE {where} GROUP BY 1, 2",
        )
    }
    rows = read_csv(index.parent / "calls_per_day.csv")
    assert len(rows) == 30
    for row in rows:
        assert int(row["answered"]) == per_day.get((row["day"], "answered"), 0)
        assert int(row["abandoned"]) == per_day.get((row["day"], "abandoned"), 0)
        assert int(row["other"]) == per_day.get((row["day"], "ivr_hangup"), 0)
    in_target = await sql(
        database,
        f"SELECT count(*) FROM calls WHERE {where} AND outcome = 'answered' AND "
        "(julianday(answered_at) - julianday(queued_at)) * 86400 <= 20.0001",
    )
    assert sum(int(r["answered_in_target"]) for r in rows) == in_target[0][0]
    (calls_total,) = await sql(database, f"SELECT count(*) FROM calls WHERE {where}")
    assert len(read_csv(index.parent / "calls.csv")) == calls_total[0]

    twhere = MONTH_WHERE.format(col="created_at")
    by_level = dict(
        await sql(database, f"SELECT level, count(*) FROM tickets WHERE {twhere} GROUP BY level")
    )
    assert {
        int(r["level"]): int(r["tickets"]) for r in read_csv(index.parent / "tickets_by_level.csv")
    } == by_level
    by_tier = dict(
        await sql(
            database,
            "SELECT s.tier, count(*) FROM tickets t JOIN sites s "
            f"ON s.site_code = t.site_code WHERE t.{twhere} GROUP BY s.tier",
        )
    )
    assert {
        r["tier"]: int(r["tickets"]) for r in read_csv(index.parent / "tickets_by_tier.csv")
    } == by_tier
    met = dict(
        await sql(
            database,
            f"SELECT level, count(*) FROM tickets WHERE {twhere} "
            "AND responded_at <= response_due GROUP BY level",
        )
    )
    for r in read_csv(index.parent / "sla_compliance.csv"):
        assert int(r["met"]) == met.get(int(r["level"]), 0)
        assert int(r["met"]) + int(r["breached"]) + int(r["pending"]) == int(r["tickets"])

    esc = {
        (lv, kind): n
        for lv, kind, n in await sql(
            database,
            "SELECT level, kind, count(*) FROM supervision_steps WHERE "
            f"{MONTH_WHERE.format(col='taken_at')} GROUP BY level, kind",
        )
    }
    assert {
        (int(r["level"]), r["kind"]): int(r["count"])
        for r in read_csv(index.parent / "escalations_by_level.csv")
    } == esc

    scores = {
        ("n/a" if sc is None else str(sc)): n
        for sc, n in await sql(
            database,
            "SELECT score, count(*) FROM satisfaction_scores WHERE "
            f"{MONTH_WHERE.format(col='at')} GROUP BY score",
        )
    }
    assert {
        r["score"]: int(r["count"])
        for r in read_csv(index.parent / "satisfaction.csv")
        if int(r["count"])
    } == scores

    pending = await sql(
        database,
        f"SELECT count(*) FROM calls WHERE {where} AND "
        "paper_number IS NOT NULL AND ticket_number IS NULL",
    )
    backfill = read_csv(index.parent / "backfill.csv")
    assert sum(1 for r in backfill if r["status"] == "pending") == pending[0][0] > 0
    (period,) = read_csv(index.parent / "emergency_periods.csv")
    assert int(period["calls"]) == len(backfill)
    top = read_csv(index.parent / "top_sites.csv")
    assert top[0]["site_name"].startswith("会议室")


def test_cli_writes_the_report(tmp_path: Path, monkeypatch: object) -> None:
    url = scratch_sqlite_url(tmp_path)

    async def prepare() -> None:
        db = Database(url)
        await create_tables(db)
        await generate(db, seed=7)
        await db.dispose()

    asyncio.run(prepare())
    runner = CliRunner()
    env = {"HOTLINE_DB_URL": url}
    result = runner.invoke(
        report_app, ["monthly", "--month", "2026-11", "--out", str(tmp_path / "r")], env=env
    )
    assert result.exit_code == 0, result.output
    # Chinese by default (HOTLINE_LOCALE); --lang en asks for English.
    page = (tmp_path / "r" / "2026-11" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and "月度运营报告" in page
    english = runner.invoke(
        report_app,
        ["monthly", "--month", "2026-11", "--out", str(tmp_path / "en"), "--lang", "en"],
        env=env,
    )
    assert english.exit_code == 0, english.output
    page = (tmp_path / "en" / "2026-11" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "monthly operations report" in page
    bad = runner.invoke(report_app, ["monthly", "--month", "November"], env=env)
    assert bad.exit_code == 2 and "2026-11" in bad.output


async def test_the_report_speaks_chinese_with_a_cjk_font(
    database: Database, tmp_path: Path
) -> None:
    from matplotlib import font_manager

    from supervision.report_plots import PLOT_FONTS
    from translations import translator

    await generate(database, seed=3)
    index = await render_monthly(
        ReportRepository(database), "2026-11", tmp_path, now=NOV + timedelta(days=40)
    )
    page = index.read_text(encoding="utf-8")
    zh = translator("zh-CN").gettext
    assert '<html lang="zh-CN">' in page
    for _name, title in PLOTS:
        assert zh(title) != title and f"<figcaption>{zh(title)}</figcaption>" in page
    assert "Summary" not in page and "Emergency periods" not in page
    # The plots ask for the Noto CJK font first, and this machine has it: no tofu boxes.
    found = font_manager.findfont(
        font_manager.FontProperties(family=PLOT_FONTS[0]), fallback_to_default=False
    )
    assert "NotoSansCJK" in Path(found).name.replace("-", ""), found


class OneOfEach:
    """A month with one record of each kind, for the tables' exact text."""

    async def month_facts(self, start: datetime, end: datetime) -> MonthFacts:
        t = NOV + timedelta(days=2, hours=1)
        return MonthFacts(
            [
                CallFact(
                    call_id="1.1",
                    started_at=t,
                    queued_at=t + timedelta(seconds=5),
                    answered_at=t + timedelta(seconds=9),
                    outcome="answered",
                    level=1,
                    site_code="3201",
                    paper_number=None,
                    ticket_number="HL-1",
                ),
                CallFact("1.2", t, None, None, "ivr_hangup", None, None, "P-7", None),
            ],
            [
                TicketFact(
                    number="HL-1",
                    level=1,
                    status="open",
                    source="call",
                    created_at=t,
                    response_due=t + timedelta(minutes=30),
                    responded_at=None,
                    resolved_at=None,
                    site_code="3201",
                    site_name="会议室, 1",
                    site_tier="city",
                    cause="",
                    onsite_due=t + timedelta(hours=5),  # field work: not in tickets.csv
                )
            ],
            [EscalationFact("HL-1/esc/1/0", "HL-1", "escalation", 1, t + timedelta(minutes=15))],
            [SatisfactionFact("1.1", "HL-1", 5, t + timedelta(minutes=6))],
        )


class OnePeriod:
    async def periods(self, start: datetime, end: datetime) -> list[EmergencyPeriod]:
        return [EmergencyPeriod(NOV + timedelta(days=2), None, "seat <system> down", 1, 0)]


async def test_the_tables_hold_every_field_of_their_records(tmp_path: Path) -> None:
    index = await render_monthly(
        OneOfEach(),
        "2026-11",
        tmp_path,
        now=NOV + timedelta(days=40),
        language="en",
        emergency=OnePeriod(),
    )

    def text(name: str) -> list[str]:
        return (index.parent / name).read_text(encoding="utf-8").splitlines()

    at = "2026-11-02T17:00:00+00:00"
    assert text("calls.csv") == [
        "call_id,started_at,queued_at,answered_at,outcome,level,site_code,paper_number,"
        "ticket_number",
        f"1.1,{at},2026-11-02T17:00:05+00:00,2026-11-02T17:00:09+00:00,answered,1,3201,,HL-1",
        f"1.2,{at},,,ivr_hangup,,,P-7,",
    ]
    assert text("tickets.csv") == [
        "number,level,status,source,created_at,response_due,responded_at,resolved_at,"
        "site_code,site_name,site_tier,cause",
        f'HL-1,1,open,call,{at},2026-11-02T17:30:00+00:00,,,3201,"会议室, 1",city,',
    ]
    assert text("escalations.csv") == [
        "key,ticket_number,kind,level,taken_at",
        "HL-1/esc/1/0,HL-1,escalation,1,2026-11-02T17:15:00+00:00",
    ]
    assert text("satisfaction_scores.csv") == [
        "call_id,ticket_number,score,at",
        "1.1,HL-1,5,2026-11-02T17:06:00+00:00",
    ]
    days = text("calls_per_day.csv")
    assert days[0] == "day,offered,answered,abandoned,answered_in_target,other,service_level"
    assert days[3] == "2026-11-03,1,1,0,1,1,1.0000"  # Beijing time: the 3rd
    satisfaction = text("satisfaction.csv")
    assert satisfaction[5:] == ["5,very dissatisfied,1", "n/a,not applicable,0"]
    assert text("emergency_periods.csv") == [
        "started_at,ended_at,reason,calls,backfilled",
        "2026-11-02T16:00:00+00:00,,seat <system> down,1,0",
    ]
    assert text("backfill.csv") == [
        "paper_number,call_id,started_at,ticket_number,status",
        f"P-7,1.2,{at},,pending",
    ]
    page = index.read_text(encoding="utf-8")
    assert (
        "<h2>Emergency periods</h2>\n<table><tr><th>From</th><th>To</th><th>Reason</th>"
        "<th>Calls</th><th>Backfilled</th></tr>\n<tr><td>2026-11-03 00:00</td>"
        "<td>still active</td><td>seat &lt;system&gt; down</td><td>1</td><td>0</td></tr></table>"
    ) in page
    assert "<tr><th>Calls answered</th><td>1</td></tr>" in page
