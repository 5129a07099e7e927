"""The supervision router over ASGI: acknowledgement links, role guard, pauses, wallboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request

from bus import InProcessBus
from routing.domain.levels import FaultLevel
from routing.records import NewTicket, TicketSource
from storage.database import Database
from storage.reports import ReportRepository
from storage.supervision import SupervisionRepository
from storage.tickets import TicketRepository
from supervision.domain.escalation import Action, ActionKind, ChannelKind
from supervision.records import NoticeDraft
from supervision.wallboard import WallboardPublisher
from supervision.web import SupervisionWebDeps, router
from testkit.open_access import any_websocket, anyone

T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


def supervisor_only(request: Request) -> None:
    role = request.headers.get("x-role")
    if role is None:
        raise HTTPException(401, "log in")
    if role != "supervisor":
        raise HTTPException(403, "supervisors only")


def app_for(
    db: Database, bus: InProcessBus, clock: list[datetime], language: str = "zh-CN"
) -> FastAPI:
    app = FastAPI()
    deps = SupervisionWebDeps(
        SupervisionRepository(db),
        bus,
        publisher=WallboardPublisher(bus, clock=lambda: clock[0]),
        require_supervisor=supervisor_only,
        authorize_websocket=any_websocket,
        clock=lambda: clock[0],
        language=language,
    )
    app.include_router(router(deps))
    return app


async def test_ack_link_marks_the_notice(database: Database) -> None:
    store = SupervisionRepository(database)
    action = Action(
        "HL-1/esc/1/0",
        ActionKind.ESCALATION,
        "HL-1",
        FaultLevel.P1,
        ("duty_engineer",),
        T0,
        "open 15 min",
        0,
    )
    await store.record_steps(
        [(action, [NoticeDraft("duty", "wecom", ChannelKind.IM, "P1 HL-1", "b", "Abc123")])], T0
    )
    clock = [T0 + timedelta(minutes=3)]
    app = app_for(database, InProcessBus(), clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        # Opening the link (or an IM client's preview of it) acknowledges nothing.
        page = await client.get("/ack/Abc123", params={"by": "alice"})
        assert page.status_code == 200 and "HL-1" in page.text
        assert '<form method="post" action="/ack/Abc123">' in page.text
        r = await client.get("/api/supervision/notices", headers={"x-role": "supervisor"})
        assert r.json()["items"][0]["acked_at"] is None
        r = await client.post("/ack/Abc123", data={"by": "alice"})
        assert r.status_code == 200 and "HL-1" in r.text and "alice" in r.text
        clock[0] += timedelta(minutes=5)
        await client.post("/ack/Abc123", data={"by": "bob"})  # the first ack stands
        again = await client.get("/ack/Abc123")
        assert "alice" in again.text and "<form" not in again.text
        assert (await client.get("/ack/nope")).status_code == 404
        assert (await client.post("/ack/nope", data={"by": "x"})).status_code == 404
        assert (await client.get("/ack/" + "x" * 40)).status_code == 404
        r = await client.get("/api/supervision/notices", headers={"x-role": "supervisor"})
        (item,) = r.json()["items"]
        assert item["acked_by"] == "alice"
        assert item["acked_at"] == (T0 + timedelta(minutes=3)).isoformat()
        # In the hotline's language (zh-CN by default), the time in the desk's zone.
        assert '<html lang="zh-CN">' in again.text and "已确认" in again.text
        assert "由 alice 于 2026-11-18 10:03 确认。" in again.text, again.text
        assert "Acknowledged" not in again.text


async def test_ack_pages_in_english(database: Database) -> None:
    store = SupervisionRepository(database)
    action = Action(
        "HL-2/esc/1/0", ActionKind.ESCALATION, "HL-2", FaultLevel.P1, ("x",), T0, "t", 0
    )
    await store.record_steps(
        [(action, [NoticeDraft("duty", "wecom", ChannelKind.IM, "P1 HL-2", "b", "Eng123")])], T0
    )
    app = app_for(database, InProcessBus(), [T0], language="en")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        page = await client.get("/ack/Eng123")
        assert '<html lang="en">' in page.text and "Your name" in page.text
        assert "确认" not in page.text
        unknown = await client.get("/ack/nope")
        assert unknown.status_code == 404 and "Unknown acknowledgement code" in unknown.text


def test_the_routes_are_not_built_without_their_access_checks(database: Database) -> None:
    store, bus = SupervisionRepository(database), InProcessBus()
    with pytest.raises(TypeError, match="require_supervisor"):
        SupervisionWebDeps(store, bus, authorize_websocket=any_websocket)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="authorize_websocket"):
        SupervisionWebDeps(store, bus, require_supervisor=anyone)  # type: ignore[call-arg]


async def test_role_guard_and_static_files(database: Database) -> None:
    app = app_for(database, InProcessBus(), [T0])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        assert (await client.get("/wallboard")).status_code == 401
        assert (await client.get("/wallboard", headers={"x-role": "agent"})).status_code == 403
        page = await client.get("/wallboard", headers={"x-role": "supervisor"})
        assert page.status_code == 200 and "/ws/wallboard" not in page.text
        assert '<script src="/wallboard/static/wallboard.js">' in page.text
        js = await client.get("/wallboard/static/wallboard.js")
        assert js.status_code == 200 and "/ws/wallboard" in js.text
        assert "http" not in js.text.replace("https:", "")  # no CDN, nothing external
        assert (await client.get("/wallboard/static/secret.py")).status_code == 404
        r = await client.get("/api/wallboard", headers={"x-role": "supervisor"})
        assert r.json()["type"] == "wallboard" and r.json()["answered_today"] == 0


async def test_pause_and_resume_stop_the_clock(database: Database) -> None:
    number = (
        await TicketRepository(database, clock=lambda: T0).create(
            NewTicket(
                level=2,
                caller_number="+8613800138000",
                created_at=T0,
                response_due=T0 + timedelta(hours=2),
                onsite_due=None,
                source=TicketSource.MANUAL,
            )
        )
    ).number
    clock = [T0 + timedelta(minutes=10)]
    app = app_for(database, InProcessBus(), clock)
    sup = {"x-role": "supervisor"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        r = await client.post(
            f"/api/supervision/tickets/{number}/pause",
            json={"reason": "customer away"},
            headers=sup,
        )
        assert r.json()["changed"] is True
        r = await client.post(f"/api/supervision/tickets/{number}/pause", json={}, headers=sup)
        assert r.json()["changed"] is False
        clock[0] += timedelta(minutes=30)
        r = await client.post(f"/api/supervision/tickets/{number}/resume", headers=sup)
        assert r.json()["changed"] is True
    (ticket,) = await SupervisionRepository(database).open_tickets()
    assert [(p.start, p.end) for p in ticket.pauses] == [
        (T0 + timedelta(minutes=10), T0 + timedelta(minutes=40))
    ]


async def test_pausing_needs_a_real_ticket_and_records_who(database: Database) -> None:
    from sqlalchemy import select

    from storage.models import TicketPauseRow

    number = (
        await TicketRepository(database, clock=lambda: T0).create(
            NewTicket(
                level=3,
                caller_number="+8613800138000",
                created_at=T0,
                response_due=T0 + timedelta(hours=2),
                onsite_due=None,
                source=TicketSource.MANUAL,
            )
        )
    ).number
    audited: list[tuple[str, str]] = []

    async def who(request: Request) -> str:
        return request.headers["x-user"]

    async def audit(request: Request, action: str, actor: str, **detail: object) -> None:
        audited.append((action, actor))

    app = FastAPI()
    deps = SupervisionWebDeps(
        SupervisionRepository(database),
        InProcessBus(),
        require_supervisor=supervisor_only,
        authorize_websocket=any_websocket,
        require_agent=supervisor_only,
        current_user=who,
        audit=audit,
        clock=lambda: T0,
    )
    app.include_router(router(deps))
    headers = {"x-role": "supervisor", "x-user": "alice"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        for path in ("HL-20990101-9999/pause", "HL-20990101-9999/resume", "x" * 41 + "/pause"):
            r = await client.post(f"/api/supervision/tickets/{path}", json={}, headers=headers)
            assert r.status_code == 404, (path, r.status_code)
        r = await client.post(
            f"/api/supervision/tickets/{number}/pause", json={"reason": "away"}, headers=headers
        )
        assert r.status_code == 200 and r.json()["by"] == "alice"
    async with database.sessions() as session:
        rows = (await session.scalars(select(TicketPauseRow))).all()
    assert [(p.ticket_number, p.by, p.reason) for p in rows] == [(number, "alice", "away")]
    assert audited == [("sla_pause", "alice")]


async def test_api_errors_in_the_askers_language(database: Database) -> None:
    app = app_for(database, InProcessBus(), [T0])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        asked = {"x-role": "supervisor"}
        for header, expected in [
            ({}, "没有这个工单。"),  # nobody asked: the hotline's language
            ({"Accept-Language": "en-US"}, "No such ticket."),
        ]:
            r = await client.post(
                "/api/supervision/tickets/HL-NOPE/resume", headers={**asked, **header}
            )
            assert r.status_code == 404 and r.json()["detail"] == expected
        month = await client.get("/reports/monthly/November", headers=asked)
        assert month.status_code == 404
        assert month.json()["detail"] == "没有这个月份：请按 YYYY-MM 格式填写。"
        unconfigured = await client.get("/reports/monthly/2026-11/", headers=asked)
        assert unconfigured.status_code == 503 and unconfigured.json()["detail"] == "未配置报表。"


async def test_the_report_in_the_askers_language(database: Database, tmp_path: Path) -> None:
    app = FastAPI()
    deps = SupervisionWebDeps(
        SupervisionRepository(database),
        InProcessBus(),
        require_supervisor=supervisor_only,
        authorize_websocket=any_websocket,
        clock=lambda: T0,
        reports=ReportRepository(database),
        report_dir=tmp_path,
    )
    app.include_router(router(deps))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        asked = {"x-role": "supervisor"}
        chinese = await client.get("/reports/monthly/2026-11/", headers=asked)
        assert chinese.status_code == 200 and '<html lang="zh-CN">' in chinese.text
        english = {**asked, "Accept-Language": "en-GB,en;q=0.9"}
        moved = await client.get("/reports/monthly/2026-11/", headers=english)
        assert moved.status_code == 303
        assert moved.headers["location"] == "/reports/monthly/2026-11/en/"
        page = await client.get("/reports/monthly/2026-11/en/", headers=english)
        assert '<html lang="en">' in page.text and "monthly operations report" in page.text
        # Each language has its own plots (their words differ); the CSV are the same data.
        zh_png = await client.get("/reports/monthly/2026-11/calls_per_day.png", headers=asked)
        en_png = await client.get("/reports/monthly/2026-11/en/calls_per_day.png", headers=asked)
        assert zh_png.status_code == en_png.status_code == 200
        assert zh_png.content != en_png.content
        for wrong in ("/reports/monthly/2026-11/zh-CN/", "/reports/monthly/2026-11/fr/x.png"):
            assert (await client.get(wrong, headers=asked)).status_code == 404
