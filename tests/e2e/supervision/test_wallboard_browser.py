"""Headless Chromium watches the live wallboard: a call waits, then an agent answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from fastapi import FastAPI
from playwright.async_api import Browser, expect

from bus import InProcessBus
from calls import CallAnswered, CallQueued, CallSnapshot
from routing.domain.levels import FaultLevel, SlaPolicy
from routing.records import TicketStatus
from storage.database import Database
from storage.supervision import SupervisionRepository
from supervision.domain.sla import SlaTicket, assess
from supervision.domain.wallboard import AgentPresence
from supervision.wallboard import WallboardPublisher
from supervision.web import SupervisionWebDeps, router
from testkit.call_snapshots import call_snapshot
from testkit.open_access import any_websocket, anyone
from testkit.scratch_db import create_tables, scratch_sqlite_url

from .conftest import ARTIFACTS, LiveServer

pytestmark = pytest.mark.browser


def now() -> datetime:
    return datetime.now(UTC)


def call(cid: str, queued_at: datetime) -> CallSnapshot:
    return call_snapshot(
        cid,
        queued_at - timedelta(seconds=20),
        caller_number="+8613800138000",
        queued_at=queued_at,
        site_code="3201",
        level=1,
        variables={"HOTLINE_LEVEL": "1", "HOTLINE_SITE": "3201"},
    )


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    tmp_path: Path,
) -> AsyncIterator[tuple[LiveServer, WallboardPublisher, InProcessBus]]:
    db = Database(scratch_sqlite_url(tmp_path))
    await create_tables(db)
    bus = InProcessBus()
    publisher = WallboardPublisher(bus, clock=now, interval=0.5)
    app = FastAPI()
    deps = SupervisionWebDeps(
        SupervisionRepository(db),
        bus,
        publisher=publisher,
        require_supervisor=anyone,
        authorize_websocket=any_websocket,
    )
    app.include_router(router(deps))
    await publisher.start()
    try:
        async with LiveServer(app) as server:
            yield server, publisher, bus
    finally:
        await publisher.stop()
        await bus.close()
        await db.dispose()


async def test_waiting_call_appears_then_is_answered(
    browser: Browser, stack: tuple[LiveServer, WallboardPublisher, InProcessBus]
) -> None:
    server, publisher, bus = stack
    publisher.set_agents(
        [
            AgentPresence("alice", "PJSIP/1001", paused=False, in_call=False),
            AgentPresence("bob", "PJSIP/1002", paused=True, in_call=False),
        ]
    )
    t0 = now() - timedelta(minutes=40)
    tickets = [SlaTicket("HL-20261118-0007", FaultLevel.P1, TicketStatus.OPEN, t0)]
    publisher.on_assessment([assess(t, SlaPolicy(), now()) for t in tickets], now())

    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    await page.goto(f"{server.url}/wallboard")
    await expect(page.locator("#status")).to_have_attribute("data-state", "online")
    await expect(page.locator("#waiting-total")).to_have_text("0")
    await expect(page.locator("#agents-ready")).to_have_text("1")
    await expect(page.locator("#agents-paused")).to_have_text("1")
    await expect(page.locator('#tickets tr[data-level="1"] td').nth(2)).to_have_text("1")

    queued_at = now() - timedelta(seconds=25)
    publisher.on_call_event(CallQueued(call("1763431200.42", queued_at), queued_at, position=1))
    row = page.locator('tr.waiting-call[data-call-id="1763431200.42"]')
    await expect(row).to_be_visible()
    await expect(row).to_contain_text("+8613800138000")
    await expect(row).to_contain_text("P1")
    await expect(page.locator("#waiting-total")).to_have_text("1")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "wallboard-waiting.png"), full_page=True)

    publisher.on_call_event(
        CallAnswered(
            call("1763431200.42", queued_at),
            now(),
            interface="PJSIP/1001",
            member_name="alice",
            hold_seconds=31,
        )
    )
    await expect(row).to_have_count(0)
    await expect(page.locator("#waiting-total")).to_have_text("0")
    await expect(page.locator("#answered-today")).to_have_text("1")
    await expect(page.locator("#agents-busy")).to_have_text("1")
    # Waited 31 s against a 20 s target: 0 % within target.
    await expect(page.locator("#service-level")).to_have_text("0%")

    await bus.publish(
        "emergency",
        {
            "type": "mode",
            "active": True,
            "since": now().isoformat(),
            "reason": "seat system down",
            "by": "lead",
            "state": "emergency",
        },
    )
    await expect(page.locator("#emergency")).to_be_visible()
    await expect(page.locator("#emergency")).to_contain_text("seat system down")
    await page.screenshot(path=str(ARTIFACTS / "wallboard-answered.png"), full_page=True)
    assert (ARTIFACTS / "wallboard-answered.png").stat().st_size > 1000
    await page.close()
