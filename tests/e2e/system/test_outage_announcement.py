"""A supervisor announces a known outage; callers who press 1 join its ticket.

Through the whole system: the announcement is rendered with espeak-ng into the sounds
directory, the IVR plays it after the greeting, a caller presses 1 and is queued with
HOTLINE_INCIDENT; no new ticket is opened, the incident's ticket gets a progress entry
and the call record points at it. Turning the announcement off restores the usual menu.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from pbx.agi_client import CallerScript
from routing.records import NewTicket, TicketSource

from .conftest import HILLTOP, System, logged_in_page

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (Debian package espeak-ng)",
)

TEXTS = {"zh": "省中心视频会议平台故障，正在抢修。", "en": "The central video platform is down."}


async def test_announced_outage_callers_join_the_incident(sqlite_system: System) -> None:
    s = sqlite_system
    now = datetime.now(UTC)
    incident = await s.tickets.create(
        NewTicket(
            level=1,
            caller_number="010-12345678",
            created_at=now,
            response_due=now + timedelta(minutes=30),
            onsite_due=now + timedelta(hours=2),
            source=TicketSource.MANUAL,
            description="central MCU down",
            created_by="sue",
        )
    )
    await s.agent_on_duty("alice")
    sue = {"Authorization": f"Bearer {await s.login('sue')}"}
    alice = {"Authorization": f"Bearer {await s.login('alice')}"}

    refused = await s.http.post(
        "/api/outage", headers=alice, json={"incident": incident.number, "texts": TEXTS}
    )
    assert refused.status_code == 403
    unknown = await s.http.post(
        "/api/outage", headers=sue, json={"incident": "HL-20000101-9999", "texts": TEXTS}
    )
    assert unknown.status_code == 404
    injected = await s.http.post(
        "/api/outage",
        headers=sue,
        json={"incident": incident.number, "texts": {"zh": "a\r\nb", "en": "x"}},
    )
    assert injected.status_code == 422

    on = await s.http.post(
        "/api/outage", headers=sue, json={"incident": incident.number, "texts": TEXTS}
    )
    assert on.status_code == 200, on.text
    state = on.json()
    assert state["active"] and state["incident"] == incident.number and state["by"] == "sue"
    prompt = s.service.settings.sounds_dir / f"{state['prompt']}.wav"
    assert prompt.exists() and prompt.stat().st_size > 8000  # a real recording, 8 kHz
    assert (await s.http.get("/api/outage", headers=alice)).json()["active"]

    # The caller hears the announcement and presses 1 ("I am calling about this").
    call = await s.pbx.place_call(
        "13911112222", "Chen Jie", script=CallerScript(("1",)), talk_time=2.0
    )
    result = await call.finished
    assert result.agi is not None
    assert any(state["prompt"] in line for line in result.agi.commands)
    assert result.agi.variables["HOTLINE_INCIDENT"] == incident.number
    await s.pipeline.drain(15)
    assert await s.tickets.get_by_call(result.linkedid) is None, "no new ticket"
    record = await s.calls.get(result.linkedid)
    assert record is not None and record.ticket_number == incident.number
    joined = await s.tickets.get(incident.number)
    assert joined is not None
    # Joined once: answering and hanging up do not join the incident again.
    assert sum(result.linkedid in p.text for p in joined.progress_log) == 1

    off = await s.http.delete("/api/outage", headers=sue)
    assert off.status_code == 200 and off.json() == {"active": False}
    second = await s.pbx.place_call(
        "13911112222", "Chen Jie", script=CallerScript(("2",)), talk_time=1.0
    )
    result2 = await second.finished
    assert result2.agi is not None
    assert not any(state["prompt"] in line for line in result2.agi.commands)
    ticket = await s.ticket_of(result2.linkedid)
    assert ticket.site_code == HILLTOP and ticket.level == 2


@pytest.mark.browser
async def test_supervisor_announces_and_stops_from_the_page(
    sqlite_system: System, browser: Any, artifacts: Path
) -> None:
    s = sqlite_system
    now = datetime.now(UTC)
    incident = await s.tickets.create(
        NewTicket(
            level=1,
            caller_number="010-12345678",
            created_at=now,
            response_due=now + timedelta(minutes=30),
            onsite_due=now + timedelta(hours=2),
            source=TicketSource.MANUAL,
            description="central MCU down",
            created_by="sue",
        )
    )
    context, page, errors = await logged_in_page(browser, s.url, "sue", lands_on="supervisor")
    await expect(page.locator("#out-state")).to_have_text("off")
    await page.fill("#out-incident", incident.number)
    await page.fill("#out-zh", TEXTS["zh"])
    await page.fill("#out-en", TEXTS["en"])
    await page.click("#out-on")
    await expect(page.locator("#out-state")).to_have_text(
        f"ON for {incident.number}", timeout=30_000
    )
    await expect(page.locator("#out-detail")).to_contain_text("by sue")
    await page.screenshot(path=str(artifacts / "outage-announced.png"), full_page=True)
    assert s.service.path.ivr.mode.outage is not None
    await page.click("#out-off")
    await expect(page.locator("#out-state")).to_have_text("off")
    assert s.service.path.ivr.mode.outage is None
    assert errors == []
    await context.close()
