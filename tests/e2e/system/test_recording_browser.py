"""Real Chromium plays a call's recording in the agent console: the caller is answered by
alice through the stand-in PBX (MixMonitor writes the WAV), alice opens the ticket from
the list, and its "calls and recordings" table has an audio element that loads the file
through the authenticated range route (its duration is above 0). Bob's page, for the
same ticket, gets the 403 and no playable audio; sue, a supervisor, plays it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from pbx import CallerScript

from .conftest import System, logged_in_page
from .test_recordings import auth, call_record

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def open_ticket(page: Any, number: str) -> None:
    await page.fill("#ts-q", number)
    await page.click("#ticket-search button[type=submit]")
    await page.locator(f'#ticket-list tr[data-number="{number}"] button').click()
    await expect(page.locator("#ticket-number")).to_have_text(number)


async def audio_duration(page: Any) -> float:
    """Wait until the first recording's metadata loaded (or failed); its duration."""
    audio = page.locator("#ticket-calls audio").first
    await expect(audio).to_have_count(1)
    duration: float = await audio.evaluate(
        """(a) => new Promise((done) => {
             const finish = () => done(Number.isFinite(a.duration) ? a.duration : -1);
             if (a.readyState >= 1 || a.error) return finish();
             a.addEventListener("loadedmetadata", finish, { once: true });
             a.addEventListener("error", () => done(-1), { once: true });
             a.load();
           })"""
    )
    return duration


async def test_an_agent_plays_the_recording_of_her_call(
    sqlite_system: System, browser: Any, artifacts: Path
) -> None:
    system = sqlite_system
    context, page, errors = await logged_in_page(browser, system.url, "alice")
    await page.click("#btn-ready")
    await expect(page.locator("#agent-state")).to_have_text("Ready")

    call = await system.pbx.place_call(
        "010-12345678", "Wang Li", script=CallerScript(("1",)), talk_time=12
    )
    result = await asyncio.wait_for(call.finished, 30)
    assert result.outcome == "answered"
    token = await system.login("alice")
    record = await call_record(system, token, call.linkedid)
    assert record["recording_url"]
    ticket = await system.ticket_of(call.linkedid)

    await open_ticket(page, ticket.number)
    row = page.locator("#ticket-calls tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text(call.linkedid)
    played = await audio_duration(page)
    assert played > 0, "the audio element did not load the recording"
    # the stand-in recorded the 12 simulated seconds of talk
    assert 9.0 <= played <= 15.0
    # and the browser can play it (not just read the header)
    # (a promise, not `wait_for_function`: its later polls are an `eval` the CSP refuses)
    position = await asyncio.wait_for(
        page.locator("#ticket-calls audio").first.evaluate(
            """(a) => new Promise((done) => {
                 a.muted = true;
                 const check = () =>
                   a.currentTime > 0 ? done(a.currentTime) : setTimeout(check, 20);
                 a.play().then(check);
               })"""
        ),
        10,
    )
    assert position > 0
    await page.screenshot(path=str(artifacts / "recording-played.png"), full_page=True)
    assert errors == []
    await context.close()

    # bob's console shows the ticket's call, but the recording does not load for him
    bob_context, bob_page, _ = await logged_in_page(browser, system.url, "bob")
    await open_ticket(bob_page, ticket.number)
    assert await audio_duration(bob_page) == -1
    bob = await system.login("bob")
    refused = await system.http.get(record["recording_url"], headers=auth(bob))
    assert refused.status_code == 403
    await bob_context.close()

    # a supervisor plays it from the same ticket view (the console's agent page)
    sue_context, sue_page, sue_errors = await logged_in_page(
        browser, system.url, "sue", lands_on="supervisor"
    )
    await sue_page.goto(f"{system.url}/agent")
    await open_ticket(sue_page, ticket.number)
    assert 9.0 <= await audio_duration(sue_page) <= 15.0
    assert sue_errors == []
    await sue_context.close()
