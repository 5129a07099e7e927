"""An agent logs in, a call rings, the screen-pop shows the site and the ticket, the agent
edits and saves; the change is in the database and the history. Real Chromium."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import console_test_harness as h
import pytest
from playwright.async_api import Browser, Page, expect

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


async def wait_subscribed(world: h.World, topic: str) -> None:
    for _ in range(1000):
        if world.bus.subscriber_count(topic) >= 1:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the page never subscribed to {topic}")


async def test_agent_screen_pop_edit_and_save(
    world: h.World,
    live: h.LiveServer,
    browser: Browser,
    artifacts: Path,
    watch_errors: Callable[[Page], list[str]],
) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    errors = watch_errors(page)

    # Anonymous visitors land on the log-in form; a wrong password keeps them there.
    await page.goto(f"{live.url}/agent")
    await expect(page).to_have_url(f"{live.url}/login")
    await page.fill("#username", "alice")
    await page.fill("#password", "wrong password")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_contain_text("Wrong user name or password")
    await page.fill("#username", "alice")
    await page.fill("#password", h.PASSWORD)
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{live.url}/agent")
    await expect(page.locator("#link-state")).to_have_text("live")
    await wait_subscribed(world, "user:alice")

    # Ready puts the agent in the main queue on the PBX.
    await page.click("#btn-ready")
    await expect(page.locator("#agent-state")).to_have_text("Ready")
    assert ("add", "hotline-main", "PJSIP/1001", "alice") in world.pbx.actions

    # A call: the routing service opened the ticket and publishes ringing, then screen_pop.
    call_id = "1700000700.3"
    ticket = await h.open_call_ticket(world, call_id, description=HOSTILE)
    site = await world.sites.site_record("4401001")
    assert site is not None
    await world.bus.publish(
        "user:alice",
        {
            "type": "ringing",
            "call_id": call_id,
            "caller_number": "01012345678",
            "site_code": "4401001",
        },
    )
    await expect(page.locator("#call-ringing")).to_be_visible()
    await expect(page.locator("#ring-caller")).to_have_text("01012345678")
    await page.screenshot(path=str(artifacts / "agent-ringing.png"), full_page=True)

    await world.bus.publish(
        "user:alice",
        {
            "type": "screen_pop",
            "call_id": call_id,
            "ticket_number": ticket.number,
            "site": site.as_json(),
            "ticket": ticket.as_json(),
        },
    )
    await expect(page.locator("#pop-site-name")).to_contain_text("Riverside Pump Station")
    await expect(page.locator("#pop-site-name")).to_contain_text(
        "Provincial Water Resources Bureau"
    )
    await expect(page.locator("#ticket-number")).to_have_text(ticket.number)
    await expect(page.locator("#site-equipment")).to_contain_text("OUT of warranty")
    await expect(page.locator("#site-contacts")).to_contain_text("010-12345678")
    await expect(page.locator("#site-engineers")).to_contain_text("Zhao Gang")
    await expect(page.locator("#site-open-tickets")).to_contain_text(ticket.number)
    # The hostile description is shown as text, never run.
    await expect(page.locator("#f-description")).to_have_value(HOSTILE)
    await expect(page.locator("#site-open-tickets")).to_contain_text("<script>")
    assert await page.evaluate("window.__pwned") is None
    await page.screenshot(path=str(artifacts / "agent-screen-pop.png"), full_page=True)

    # Client-side validation stops a bad e-mail before it leaves the page.
    await page.fill("#f-contact_email", "not-an-address")
    await page.click("#ticket-save")
    await expect(page.locator("#ticket-msg")).to_contain_text("correct the marked fields")
    await expect(page.locator('.field-error[data-for="contact_email"]')).to_have_text(
        "Not an e-mail address."
    )

    # The agent edits and saves.
    await page.fill("#f-contact_email", "wang.li@water.example")
    await page.fill("#f-description", "MCU down, all county sites cut off")
    await page.select_option("#f-level", "1")
    await page.select_option("#f-status", "in_progress")
    await page.fill("#f-cause", "power supply")
    await page.fill("#f-entry_action", "asked site to check the UPS")
    await page.fill("#f-note", "caller confirmed outage")
    await page.click("#ticket-save")
    await expect(page.locator("#ticket-msg")).to_have_text(f"Saved {ticket.number}.")
    history = page.locator("#ticket-history tbody")
    await expect(history).to_contain_text("MCU down, all county sites cut off")
    await expect(history).to_contain_text("caller confirmed outage")
    await expect(page.locator("#ticket-service-log")).to_contain_text("asked site to check the UPS")
    await expect(page.locator("#site-open-tickets")).to_contain_text("all county sites cut off")
    await page.screenshot(path=str(artifacts / "agent-saved.png"), full_page=True)

    stored = await world.tickets.get(ticket.number)
    assert stored is not None
    assert stored.description == "MCU down, all county sites cut off"
    assert stored.level == 1 and stored.status.value == "in_progress"
    assert stored.cause == "power supply" and stored.contact_email == "wang.li@water.example"
    changes = {c.field: c for c in stored.history if c.by == "alice"}
    assert changes["description"].old == HOSTILE
    assert changes["level"].old == "2" and changes["level"].new == "1"
    assert changes["description"].note == "caller confirmed outage"
    assert stored.service_log[-1].action == "asked site to check the UPS"

    # A server-side refusal is shown next to the field.
    await page.fill("#f-expected_resolution", "")
    await page.fill("#f-caller_name", "x" * 200)
    await page.evaluate("document.getElementById('f-caller_name').removeAttribute('maxlength')")
    await page.fill("#f-caller_name", "y" * 250)
    await page.click("#ticket-save")
    await expect(page.locator("#ticket-msg")).to_contain_text("Not saved")

    # Call ends; the ticket list and search find the ticket.
    await world.bus.publish(
        "user:alice", {"type": "call_ended", "call_id": call_id, "outcome": "answered"}
    )
    await expect(page.locator("#call-ended")).to_contain_text("answered")
    await page.fill("#ts-q", "county sites")
    await page.click("#ticket-search button[type=submit]")
    await expect(page.locator("#ticket-list tbody tr")).to_have_count(1)
    await expect(page.locator("#ticket-list tbody")).to_contain_text(ticket.number)

    # A ticket opened by hand lands in the editor.
    await page.click("#new-ticket summary")
    await page.fill("#nt-site", "4401001")
    await page.fill("#nt-description", "walk-in: projector lamp")
    await page.click("#nt-submit")
    await expect(page.locator("#nt-msg")).to_contain_text("Opened")
    manual_number = (await page.locator("#ticket-number").text_content()) or ""
    manual = await world.tickets.get(manual_number)
    assert manual is not None and manual.source.value == "manual" and manual.level == 3

    # Site search opens the full record.
    await page.fill("#ss-q", "Riverside")
    await page.click("#site-search button[type=submit]")
    await page.click("#site-results li")
    await expect(page.locator("#site-view")).to_contain_text("12 Dyke Road")

    # Log-out takes the agent out of the queue and back to the form.
    await page.click("#logout")
    await expect(page).to_have_url(f"{live.url}/login")
    assert world.pbx.actions[-1] == ("remove", "hotline-main", "PJSIP/1001")
    assert errors == [], errors
    await context.close()


async def test_page_reconnects_after_the_socket_drops(
    world: h.World, live: h.LiveServer, browser: Browser
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{live.url}/login")
    await page.fill("#username", "bob")
    await page.fill("#password", h.PASSWORD)
    await page.click("#login-submit")
    await wait_subscribed(world, "user:bob")
    # Drop every subscription on the bus side: the server closes the socket.
    for sub in list(world.bus._subs.get("user:bob", ())):
        await sub.close()
    await expect(page.locator("#link-state")).to_contain_text("offline")
    await expect(page.locator("#link-state")).to_have_text("live", timeout=10000)
    await wait_subscribed(world, "user:bob")
    await world.bus.publish(
        "user:bob", {"type": "ringing", "call_id": "1700000800.1", "caller_number": "555"}
    )
    await expect(page.locator("#ring-caller")).to_have_text("555")
    await world.bus.publish(
        "user:bob",
        {"type": "ring_cancelled", "call_id": "1700000800.1", "reason": "answered_elsewhere"},
    )
    await expect(page.locator("#call-ringing")).to_be_hidden()
    await expect(page.locator("#call-ended")).to_contain_text("answered by another agent")
    # A pop for an unidentified caller whose ticket could not be opened yet.
    await world.bus.publish(
        "user:bob",
        {
            "type": "screen_pop",
            "call_id": "1700000800.2",
            "ticket_number": None,
            "site": None,
            "ticket": None,
        },
    )
    await expect(page.locator("#pop-site-name")).to_have_text("Unidentified site")
    await expect(page.locator("#ticket-editor")).to_be_hidden()
    await expect(page.locator("#call-ended")).to_contain_text("No ticket for this call yet")
    await context.close()
