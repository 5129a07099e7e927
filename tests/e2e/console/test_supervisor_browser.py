"""Supervisor console end to end, in real Chromium, over the real stack: the PBX stand-in
over AMI, the lead's AMI client, the emergency service with its journal, the real storage.

The supervisor flips emergency mode (confirmation + mandatory reason), emergency calls get
paper numbers, the mode goes back, the paper content is typed in as a ticket, another paper
is waived, reconciliation is clean and the backfill closes. An agent's Ready on the console
makes the stand-in's main queue gain the member."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import console_test_harness as h
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from ami.client import AmiClient
from ami.tracker import CallTracker
from console import create_app
from fallback.domain.mode import EmergencyPolicy
from fallback.journal import EmergencyJournal
from fallback.paper import PaperNumberAllocator
from fallback.service import EmergencyService, emergency_journal_stage
from fallback.switching import PbxSwitch
from fallback.tickets import TicketStoreBackfillSink
from pbx.standin import PbxStandIn
from pipeline import CallPipeline
from routing.domain.levels import SlaPolicy

pytestmark = pytest.mark.browser

MAIN, EMER = "hotline-main", "hotline-emergency"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


@dataclasses.dataclass
class Stack:
    pbx: PbxStandIn
    client: AmiClient
    service: EmergencyService
    live: h.LiveServer


@pytest_asyncio.fixture(loop_scope="session")
async def stack(world: h.World, tmp_path: Path) -> AsyncIterator[Stack]:
    # No IVR listening: callers are queued unidentified with the dialplan defaults.
    pbx = PbxStandIn(speed=60, agi_port=closed_port(), prompt_seconds=0, auth_failure_delay=0)
    pbx.add_agent("PJSIP/1003", answer_after=None)  # emergency desk, busy with paper
    pbx.add_agent("PJSIP/1001", answer_after=None, member_name="alice")
    await pbx.start()
    tracker = CallTracker()
    client = AmiClient(
        port=pbx.ami_port,
        username="hotline",
        secret="hotline-secret",
        tracker=tracker,
        ping_interval=2.0,
    )

    def now() -> datetime:
        return datetime.now(UTC)

    service = EmergencyService(
        control=client,
        switch=PbxSwitch(client, pool=["PJSIP/1003"], retry_delay=0.05),
        journal=EmergencyJournal(tmp_path / "journal"),
        paper=PaperNumberAllocator(tmp_path / "journal"),
        sink=TicketStoreBackfillSink(world.tickets, SlaPolicy(), now),
        clock=now,
        policy=EmergencyPolicy(),
        bus=world.bus,
    )
    (tmp_path / "journal").mkdir(exist_ok=True)
    await service.start()
    tracker.subscribe(CallPipeline([emergency_journal_stage(service)]).submit)

    async def on_connected(_client: AmiClient) -> None:
        await service.on_ami_connected()

    client.on_connected.append(on_connected)
    client.start()
    deps = dataclasses.replace(
        world.deps, call_control=client, emergency=service, backfill=service, board=service
    )
    server, task, live = await h.start_server(create_app(deps))
    try:
        await client.wait_connected(5)
        await until(lambda: service.pbx_in_sync)
        yield Stack(pbx, client, service, live)
    finally:
        await h.stop_server(server, task)
        await client.stop()
        await service.stop()
        await pbx.stop()


async def log_in(page: Page, url: str, username: str) -> None:
    await page.goto(f"{url}/login")
    await page.fill("#username", username)
    await page.fill("#password", h.PASSWORD)
    await page.click("#login-submit")


async def flip(page: Page, reason: str) -> None:
    await page.click("#em-flip")
    await expect(page.locator("#em-dialog")).to_be_visible()
    await page.fill("#em-reason", reason)
    await page.click("#em-confirm")


async def test_emergency_flip_backfill_and_close(
    world: h.World,
    stack: Stack,
    browser: Browser,
    artifacts: Path,
    watch_errors: Callable[[Page], list[str]],
) -> None:
    pbx, service, url = stack.pbx, stack.service, stack.live.url
    context = await browser.new_context(viewport={"width": 1400, "height": 1100})
    page = await context.new_page()
    errors = watch_errors(page)
    await log_in(page, url, "sue")
    await expect(page).to_have_url(f"{url}/supervisor")
    await expect(page.locator("#em-mode")).to_have_text("normal")
    await expect(page.locator("#health-overall")).to_have_text("ok")
    await expect(page.locator('#console-list tr[data-user="sue"]')).to_contain_text("supervisor")
    await expect(page.locator('#health-table tr[data-check="database"]')).to_contain_text("ok")

    # The flip asks for confirmation and will not go without a reason.
    await page.click("#em-flip")
    await expect(page.locator("#em-question")).to_contain_text("EMERGENCY")
    await page.click("#em-confirm")  # empty reason: the browser's own check refuses
    await page.fill("#em-reason", "x")
    await page.click("#em-confirm")
    await expect(page.locator("#em-dialog-msg")).to_contain_text("Give a reason")
    await page.click("#em-cancel")
    await expect(page.locator("#em-dialog")).to_be_hidden()
    assert pbx.astdb["hotline/mode"] == "normal"

    await flip(page, "ticket database down since 02:10")
    await expect(page.locator("#em-mode")).to_have_text("EMERGENCY")
    await expect(page.locator("#emergency-banner")).to_contain_text("ticket database down")
    assert pbx.astdb["hotline/mode"] == "emergency"
    assert service.status().by == "sue"
    await expect(page.locator("#audit-table tbody")).to_contain_text("sue")

    # Two callers during the outage: each gets a paper number, the page lists them live.
    await pbx.place_call("13800138000", "Site A", patience=600)
    await pbx.place_call("13900139000", "Site B", patience=600)
    await until(lambda: len(pbx.queue_entries(EMER)) == 2)
    await until(lambda: len(service.calls.paper_by_call) == 2)
    rows = page.locator("#bf-items tbody tr")
    await expect(rows).to_have_count(2)
    await expect(page.locator("#bf-msg")).to_contain_text("0 of 2 accounted for")
    await page.screenshot(path=str(artifacts / "supervisor-emergency.png"), full_page=True)

    # Back to normal (recovering: the backfill is open).
    await flip(page, "database restored, checks green")
    await expect(page.locator("#em-mode")).to_have_text("normal")
    assert pbx.astdb["hotline/mode"] == "normal"

    # Type in the first paper ticket.
    items = await service.items()
    first, second = items[0], items[1]
    await page.locator(f'#bf-items tr[data-paper="{first.paper_number}"] .bf-enter').click()
    await expect(page.locator("#bf-paper")).to_have_text(first.paper_number)
    await expect(page.locator("#bf-caller")).to_have_value(first.caller_number or "")
    await page.fill("#bf-site", "4401001")
    await page.select_option("#bf-level", "1")
    await page.fill("#bf-description", "Whole county video conference down <script>x()</script>")
    await page.click("#bf-submit")
    await expect(page.locator("#bf-result")).to_contain_text(
        f"Paper {first.paper_number} is ticket"
    )
    done = await service.items()
    number = next(i.ticket_number for i in done if i.paper_number == first.paper_number)
    assert number is not None
    ticket = await world.tickets.get(number)
    assert ticket is not None
    assert ticket.source.value == "backfill" and ticket.paper_number == first.paper_number
    assert ticket.call_id == first.call_id and ticket.level == 1
    assert ticket.description.endswith("<script>x()</script>")

    # Closing is refused while the second paper is unaccounted for.
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.click("#bf-close")
    await expect(page.locator("#bf-close-msg")).to_contain_text("neither a ticket nor a waiver")

    # Waive the second with a reason; reconciliation is clean; the backfill closes.
    await page.locator(f'#bf-items tr[data-paper="{second.paper_number}"] .bf-waive').click()
    await page.fill("#bf-waive-reason", "caller hung up before anyone answered")
    await page.click("#bf-waive-submit")
    await expect(page.locator("#bf-msg")).to_contain_text("2 of 2 accounted for")
    await expect(page.locator("#bf-reconciliation")).to_contain_text("nothing blocks closing")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.click("#bf-close")
    await expect(page.locator("#bf-close-msg")).to_contain_text("Backfill closed")
    assert service.status().state == "normal"
    await expect(page.locator("#cb-table tbody tr")).to_have_count(2)
    await page.screenshot(path=str(artifacts / "supervisor-backfill-closed.png"), full_page=True)
    assert errors == [], errors
    await context.close()


async def test_agent_ready_reaches_the_pbx_queue(
    world: h.World, stack: Stack, browser: Browser
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await log_in(page, stack.live.url, "alice")
    await expect(page).to_have_url(f"{stack.live.url}/agent")
    await page.click("#btn-ready")
    await expect(page.locator("#agent-state")).to_have_text("Ready")
    members = {m.interface: m for m in stack.pbx.queue_members(MAIN)}
    assert "PJSIP/1001" in members and not members["PJSIP/1001"].paused
    await page.click("#btn-paused")
    await expect(page.locator("#agent-state")).to_have_text("Paused")
    assert {m.interface: m for m in stack.pbx.queue_members(MAIN)}["PJSIP/1001"].paused
    await page.click("#logout")
    await expect(page).to_have_url(f"{stack.live.url}/login")
    await until(lambda: all(m.interface != "PJSIP/1001" for m in stack.pbx.queue_members(MAIN)))
    await context.close()
