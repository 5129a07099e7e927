"""The assembled service as the composition root uses it."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from bus import InProcessBus
from fallback.records import EmergencyStatus
from routing.domain.levels import SlaPolicy
from routing.records import NewTicket, TicketSource
from storage.database import Database
from storage.models import CallRow
from storage.reports import ReportRepository
from storage.supervision import SupervisionRepository
from storage.tickets import TicketRepository
from supervision.config import SupervisionConfig
from supervision.domain.errors import SupervisionConfigError
from supervision.service import SupervisionService
from testkit.open_access import any_websocket, anyone

from .conftest import HttpRecorder

NOW = datetime(2026, 11, 18, 2, 30, tzinfo=UTC)


def config(rec: HttpRecorder, tmp_path: Path) -> SupervisionConfig:
    return SupervisionConfig.from_mapping(
        {
            "public_base_url": "http://console.local/",
            "interval_seconds": 0.05,
            "report_dir": str(tmp_path / "reports"),
            "calendar": {"holidays": ["2026-11-19"], "start": "08:30"},
            "retry": {"max_attempts": 2, "first_delay_seconds": 0.01},
            "recipients": [
                {
                    "name": "duty",
                    "roles": ["duty_engineer"],
                    "channel": "wecom",
                    "address": rec.url("/duty"),
                },
            ],
        }
    )


def test_config_is_checked() -> None:
    cfg = SupervisionConfig.from_mapping({"calendar": {"holidays": ["2026-10-01"]}})
    assert date(2026, 10, 1) in cfg.calendar.holidays
    for bad in (
        {"colour": "red"},
        {"calendar": {"start": "late"}},
        {"calendar": {"lunch": "12:00"}},
        {"retry": {"max_attempts": 0}},
        {"recipients": [{"name": "x"}]},
        {"smtp": {"port": "many"}},
    ):
        with pytest.raises(SupervisionConfigError):
            SupervisionConfig.from_mapping(bad)


async def test_service_escalates_and_serves_the_report(
    database: Database, http_recorder: HttpRecorder, tmp_path: Path
) -> None:
    created = NOW - timedelta(minutes=20)
    await TicketRepository(database, clock=lambda: created).create(
        NewTicket(
            level=3,
            caller_number="+8613800138000",
            created_at=created,
            response_due=created + timedelta(hours=2),
            onsite_due=None,
            source=TicketSource.MANUAL,
            description="one camera, no picture",
        )
    )
    async with database.sessions.begin() as s:
        for cid, started, outcome, hold in [
            ("y1", NOW - timedelta(hours=11), "answered", 3),  # 23:30 yesterday in Beijing
            ("a1", NOW - timedelta(hours=1), "answered", 12),
            ("a2", NOW - timedelta(minutes=50), "answered", 45),
            ("b1", NOW - timedelta(minutes=40), "abandoned", 60),
        ]:
            s.add(
                CallRow(
                    call_id=cid,
                    caller_number="+861",
                    caller_name="",
                    started_at=started,
                    queued_at=started,
                    outcome=outcome,
                    hold_seconds=hold,
                    updated_at=started,
                )
            )
    bus = InProcessBus()
    repo = SupervisionRepository(database)
    service = SupervisionService(
        store=repo,
        tickets=repo,
        calls=repo,
        reports=ReportRepository(database),
        bus=bus,
        config=config(http_recorder, tmp_path),
        sla=SlaPolicy(),
        clock=lambda: NOW,
        emergency_status=lambda: EmergencyStatus(
            True, NOW, "seat system down", "lead", "emergency"
        ),
    )
    await service.start()
    try:
        await asyncio.wait_for(http_recorder.arrived.wait(), 10)
        # Bounded so that a hang (seen once in CI, not reproduced) names the await it hung on.
        await asyncio.wait_for(service.dispatcher.drain(), 30)
        (post,) = http_recorder.to("/duty")
        content = post.json()["markdown"]["content"]
        assert "http://console.local/ack/" in content and "P3" in content
        assert "- **级别**：3 一般" in content  # the hotline's language: zh-CN by default
        app = FastAPI()
        app.include_router(
            service.web_router(require_supervisor=anyone, authorize_websocket=any_websocket)
        )
        async with (
            asyncio.timeout(60),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as client,
        ):
            board = (await client.get("/api/wallboard")).json()
            assert [t["open"] for t in board["tickets"]] == [0, 0, 1, 0]
            assert board["emergency"]["active"] is True
            assert board["emergency"]["reason"] == "seat system down"
            # Today's counts survived the restart (seeded from the call records).
            assert (
                board["answered_today"],
                board["abandoned_today"],
                board["answered_in_target"],
            ) == (2, 1, 1)
            r = await client.get("/reports/monthly/2026-11/")
            assert r.status_code == 200 and "月度运营报告 2026-11" in r.text
            png = await client.get("/reports/monthly/2026-11/calls_per_day.png")
            assert png.content[:4] == b"\x89PNG"
            csv = await client.get("/reports/monthly/2026-11/escalations.csv")
            assert "/esc/3/0" in csv.text
            assert (await client.get("/reports/monthly/2026-11/..%2Fx.db")).status_code == 404
            assert (await client.get("/reports/monthly/nov/")).status_code == 404
    finally:
        await service.stop()
        await bus.close()


async def test_the_hotline_language_decides_the_notices(
    database: Database, http_recorder: HttpRecorder, tmp_path: Path
) -> None:
    """HOTLINE_LOCALE=en (as hotline.runtime passes it): the robot's notice is English."""
    created = NOW - timedelta(minutes=20)
    await TicketRepository(database, clock=lambda: created).create(
        NewTicket(
            level=3,
            caller_number="+8613800138000",
            created_at=created,
            response_due=created + timedelta(hours=2),
            onsite_due=None,
            source=TicketSource.MANUAL,
            description="one camera, no picture",
        )
    )
    repo = SupervisionRepository(database)
    service = SupervisionService(
        store=repo,
        tickets=repo,
        calls=repo,
        bus=InProcessBus(),
        config=config(http_recorder, tmp_path),
        sla=SlaPolicy(),
        clock=lambda: NOW,
        language="en",
    )
    await service.start()
    try:
        await asyncio.wait_for(http_recorder.arrived.wait(), 10)
        # Bounded so that a hang (seen once in CI, not reproduced) names the await it hung on.
        await asyncio.wait_for(service.dispatcher.drain(), 30)
        (post,) = http_recorder.to("/duty")
        content = post.json()["markdown"]["content"]
        assert "[P3 minor] escalation:" in content and "- **Level**: 3 minor" in content
        assert "- **Why**: open 15 min without resolution" in content
        assert "级别" not in content and "升级" not in content
    finally:
        await service.stop()


async def test_the_consoles_report_judges_field_work_by_the_configured_commitments(
    database: Database, http_recorder: HttpRecorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console's monthly report uses the hotline's SLA and working calendar (with its
    holidays), as `hotline report monthly` does, not the defaults."""
    import supervision.report

    asked: dict[str, object] = {}

    async def render(*args: object, **kwargs: object) -> Path:
        asked.update(kwargs)
        index = tmp_path / "index.html"
        index.write_text("<html></html>")
        return index

    monkeypatch.setattr(supervision.report, "render_monthly", render)
    repo = SupervisionRepository(database)
    policy = SlaPolicy()
    cfg = config(http_recorder, tmp_path)
    service = SupervisionService(
        store=repo,
        tickets=repo,
        calls=repo,
        reports=ReportRepository(database),
        bus=InProcessBus(),
        config=cfg,
        sla=policy,
        clock=lambda: NOW,
    )
    app = FastAPI()
    app.include_router(
        service.web_router(require_supervisor=anyone, authorize_websocket=any_websocket)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        assert (await client.get("/reports/monthly/2026-11/")).status_code == 200
    assert asked["sla"] is policy
    assert asked["calendar"] is cfg.calendar
    assert date(2026, 11, 19) in cfg.calendar.holidays
