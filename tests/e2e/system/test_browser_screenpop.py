"""Real Chromium against the whole hotline: an agent logs in on the page and gets ready, a
caller dials the stand-in PBX, passes the IVR and queues, the agent's phone answers, the
pop shows the site and the ticket; the agent edits and saves; the change is in the
database and in the history. Screenshots land in artifacts/system/."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from pbx import CallerScript

from .conftest import LAKESIDE, PASSWORD, RIVERSIDE, System, logged_in_page, page_errors

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_call_through_the_pbx_pops_on_the_page_and_the_agent_saves(
    sqlite_system: System, browser: Any, artifacts: Path
) -> None:
    system = sqlite_system
    url = system.url
    context = await browser.new_context(viewport={"width": 1400, "height": 1100})
    page = await context.new_page()
    errors = page_errors(page)

    await page.goto(f"{url}/agent")
    await expect(page).to_have_url(f"{url}/login")
    await page.fill("#username", "alice")
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{url}/agent")
    await expect(page.locator("#link-state")).to_have_text("live")
    await page.click("#btn-ready")
    await expect(page.locator("#agent-state")).to_have_text("Ready")
    members = system.pbx.queue_members("hotline-main")
    assert [(m.interface, m.name, m.paused) for m in members] == [("PJSIP/1001", "alice", False)]

    # A caller from the Riverside switchboard presses 1 (critical) and stays on the line.
    call = await system.pbx.place_call(
        "010-12345678", "Wang Li", script=CallerScript(("1",)), talk_time=600
    )
    ticket = await system.ticket_of(call.linkedid)
    await expect(page.locator("#pop-site-name")).to_contain_text("Riverside Pump Station")
    await expect(page.locator("#pop-site-name")).to_contain_text(
        "Provincial Water Resources Bureau"
    )
    await expect(page.locator("#ticket-number")).to_have_text(ticket.number)
    await expect(page.locator("#site-contacts")).to_contain_text("010-12345678")
    await expect(page.locator("#site-engineers")).to_contain_text("Zhao Gang")
    await expect(page.locator("#site-equipment")).to_contain_text("OUT of warranty")
    await expect(page.locator("#f-level")).to_have_value("1")
    await page.screenshot(path=str(artifacts / "call-screen-pop.png"), full_page=True)

    # The agent corrects the level, describes the fault and saves.
    await page.fill("#f-description", "MCU reboots every few minutes, county link drops")
    await page.select_option("#f-level", "2")
    await page.fill("#f-cause", "suspected power supply")
    await page.fill("#f-note", "caller at the pump station confirmed")
    await page.click("#ticket-save")
    await expect(page.locator("#ticket-msg")).to_have_text(f"Saved {ticket.number}.")
    history = page.locator("#ticket-history tbody")
    await expect(history).to_contain_text("MCU reboots every few minutes")
    await expect(history).to_contain_text("caller at the pump station confirmed")
    await page.screenshot(path=str(artifacts / "call-ticket-saved.png"), full_page=True)

    stored = await system.tickets.get(ticket.number)
    assert stored is not None
    assert stored.site_code == RIVERSIDE and stored.call_id == call.linkedid
    assert stored.description == "MCU reboots every few minutes, county link drops"
    assert stored.cause == "suspected power supply"
    assert stored.level == 2 and stored.duty_agent == "alice"
    # A new level recomputes the deadlines from the original opening time (80 km site):
    # level 2 response 2 h; on-site the stricter of 12 h (level) and 12 h (distance).
    assert stored.response_due == stored.created_at + timedelta(hours=2)
    assert stored.onsite_due == stored.created_at + timedelta(hours=12)
    by_alice = {c.field: c for c in stored.history if c.by == "alice"}
    assert by_alice["level"].old == "1" and by_alice["level"].new == "2"
    assert by_alice["description"].new == stored.description
    assert by_alice["description"].note == "caller at the pump station confirmed"
    assert any(c.by == "system" and c.field == "status" for c in stored.history)

    # The caller hangs up: the page says so and keeps the ticket; the call record has it.
    system.pbx.sim.request_hangup(call.channel.name)
    assert (await asyncio.wait_for(call.finished, 30)).outcome == "answered"
    await expect(page.locator("#call-ended")).to_contain_text("answered", timeout=15000)
    await expect(page.locator("#ticket-number")).to_have_text(ticket.number)
    await system.pipeline.drain(10)
    record = await system.calls.get(call.linkedid)
    assert record is not None and record.ticket_number == ticket.number
    assert record.agent == "alice"
    await page.screenshot(path=str(artifacts / "call-ended.png"), full_page=True)
    assert errors == [], errors
    await context.close()


async def test_assigned_engineer_sees_the_direct_ring_then_the_pop(
    sqlite_system: System, browser: Any, artifacts: Path
) -> None:
    """bob is Lakeside's assigned engineer: his phone rings before the queue, and his
    console says why; after he answers, the pop is his."""
    system = sqlite_system
    system.pbx.sim.agents["PJSIP/1002"].answer_after = 8.0  # time to look at the ringing card
    context, page, errors = await logged_in_page(browser, system.url, "bob")
    await expect(page.locator("#link-state")).to_have_text("live")
    await page.click("#btn-ready")
    await expect(page.locator("#agent-state")).to_have_text("Ready")

    call = await system.pbx.place_call(
        "13722223333", "Sun Mei", script=CallerScript(("1",)), talk_time=600
    )
    await expect(page.locator("#ring-direct")).to_be_visible()
    await expect(page.locator("#ring-site")).to_have_text(LAKESIDE)
    await page.screenshot(path=str(artifacts / "preferred-engineer-ringing.png"), full_page=True)
    ticket = await system.ticket_of(call.linkedid)
    await expect(page.locator("#pop-site-name")).to_contain_text("Lakeside Gauge")
    await expect(page.locator("#ticket-number")).to_have_text(ticket.number)
    await expect(page.locator("#site-engineers")).to_contain_text("Bob Engineer")
    await expect(page.locator("#call-ringing")).to_be_hidden()
    assert errors == []
    await context.close()
