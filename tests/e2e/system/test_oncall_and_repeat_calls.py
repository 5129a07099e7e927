"""On-call paging and repeat calls through the whole system and the PBX stand-in.

A level-1 caller's keypress pages the engineer on call (a real HTTP webhook server here)
within 2 s and before any agent answers; without an acknowledgement the next engineer on
the rota is paged at 10 minutes (the paging service's clock is shifted, nothing else);
two calls from one site within the window share one ticket, the second call's ringing
card and pop say so, and the agent splits it off with one request.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from calls import CallIdentified, DomainCallEvent
from calls.clock import utc_now
from pbx.agi_client import CallerScript
from storage.database import Database
from storage.oncall import OnCallRepository
from supervision.domain.oncall import ShiftDraft
from supervision.oncall.service import OnCallService

from .conftest import HILLTOP, System


@dataclass
class Webhook:
    """A real HTTP server that keeps every JSON body POSTed to it, with its arrival."""

    port: int = 0
    received: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[dict[str, Any]]:
        return [body for _, p, body in self.received if p == path]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = (await reader.readline()).decode("latin-1").split(" ")
            headers: dict[str, str] = {}
            while (line := (await reader.readline()).decode("latin-1").strip()) != "":
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append((time.monotonic(), request[1], json.loads(body)))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            await writer.drain()
        finally:
            writer.close()


@pytest_asyncio.fixture(loop_scope="session")
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()
    server = await asyncio.start_server(hook.handle, "127.0.0.1", 0)
    hook.port = server.sockets[0].getsockname()[1]
    try:
        yield hook
    finally:
        server.close()
        await server.wait_closed()


class ShiftedClock:
    """The real clock, moved forward by `offset` (the paging service's only)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utc_now() + self.offset


async def put_rota(s: System, webhook: Webhook) -> None:
    db = Database(s.db_url)
    try:
        store = OnCallRepository(db)
        now = datetime.now(UTC)
        for name, path, start in (
            ("Duty Wang", "/wang", now - timedelta(hours=1)),
            ("Backup Li", "/li", now - timedelta(minutes=30)),
        ):
            draft = ShiftDraft(
                start,
                start + timedelta(hours=12),
                name,
                "13900139000",
                "webhook",
                webhook.url(path),
            )
            await store.import_shift(draft, by="test", at=now)
    finally:
        await db.dispose()


async def one_pass(paging: OnCallService) -> None:
    """A whole paging pass, the pages it sends delivered (or refused) when it returns: what
    a pass at this moment would do, known without waiting for the periodic one."""
    await paging.run_once()
    await paging.drain()


async def test_level_one_keypress_pages_before_the_answer_and_escalates(
    sqlite_system: System, webhook: Webhook
) -> None:
    s = sqlite_system
    await put_rota(s, webhook)
    assert s.service.path.oncall is not None
    clock = ShiftedClock()
    s.service.path.oncall.service.clock = clock
    keypress: dict[str, float] = {}

    def watch(event: DomainCallEvent) -> None:
        if isinstance(event, CallIdentified) and event.variable == "HOTLINE_LEVEL":
            keypress.setdefault(event.call_id, time.monotonic())

    s.tracker.subscribe(watch)
    # Nobody is ready: the caller waits in the queue while the engineer is paged.
    call = await s.pbx.place_call(
        "13911112222", "Chen Jie", script=CallerScript(("1",)), talk_time=2.0
    )
    await s.until(lambda: bool(webhook.to("/wang")), timeout=10)
    arrived, _, page = webhook.received[0]
    assert call.linkedid in keypress
    assert arrived - keypress[call.linkedid] < 2.0
    assert call.answered_at is None, "paged before anyone answered"
    ticket = await s.ticket_of(call.linkedid)
    assert ticket.level == 1
    assert page["ticket_number"] == ticket.number
    assert page["site_code"] == HILLTOP and page["caller_number"] == "13911112222"

    await s.agent_on_duty("alice")
    result = await call.finished
    assert result.outcome == "answered"

    sue = {"Authorization": f"Bearer {await s.login('sue')}"}
    listed = (await s.http.get("/api/oncall", headers=sue)).json()
    assert listed["on_duty"] == ["Duty Wang", "Backup Li"]
    assert [(p["engineer"], p["state"], p["acknowledged"]) for p in listed["pages"]] == [
        ("Duty Wang", "delivered", False)
    ]
    refused = await s.http.get(
        "/api/oncall", headers={"Authorization": f"Bearer {await s.login('alice')}"}
    )
    assert refused.status_code == 403

    # Nobody acknowledges: at 10 minutes the next engineer on the rota is paged.
    paging = s.service.path.oncall.service
    clock.offset = timedelta(minutes=9)
    await one_pass(paging)
    assert webhook.to("/li") == []
    clock.offset = timedelta(minutes=10, seconds=1)
    paging.wake()
    await s.until(lambda: bool(webhook.to("/li")), timeout=10)
    second = webhook.to("/li")[0]
    assert second["ticket_number"] == ticket.number and second["page"] == "2"

    # The link in the page acknowledges it; no third page follows.
    ack = await s.http.post(second["ack_url"].replace(s.url, ""), data={"by": "Backup Li"})
    assert ack.status_code == 200 and "Backup Li" in ack.text
    clock.offset = timedelta(minutes=40)
    await one_pass(paging)
    listed = (await s.http.get("/api/oncall", headers=sue)).json()
    assert [(p["engineer"], p["acknowledged"]) for p in listed["pages"]] == [
        ("Backup Li", True),
        ("Duty Wang", False),
    ]
    assert len(webhook.received) == 2


async def test_an_agent_raising_a_ticket_to_level_one_pages_the_engineer(
    sqlite_system: System, webhook: Webhook
) -> None:
    s = sqlite_system
    await put_rota(s, webhook)
    await s.agent_on_duty("alice")
    call = await s.pbx.place_call(
        "13911112222", "Chen Jie", script=CallerScript(("3",)), talk_time=1.0
    )
    assert (await call.finished).outcome == "answered"
    ticket = await s.ticket_of(call.linkedid)
    await one_pass(s.service.path.oncall.service)
    assert webhook.received == []  # level 3: nobody paged
    token = {"Authorization": f"Bearer {await s.login('alice')}"}
    raised = await s.http.patch(f"/api/tickets/{ticket.number}", headers=token, json={"level": 1})
    assert raised.status_code == 200, raised.text
    # The leader's pass (every HOTLINE_ONCALL_INTERVAL = 5 s) finds the raise.
    await s.until(lambda: bool(webhook.to("/wang")), timeout=12)
    assert webhook.to("/wang")[0]["ticket_number"] == ticket.number


async def test_two_calls_from_one_site_share_one_ticket(sqlite_system: System) -> None:
    s = sqlite_system
    alice = await s.agent_on_duty("alice")
    first = await s.pbx.place_call(
        "13911112222", "Chen Jie", script=CallerScript(("2",)), talk_time=1.0
    )
    assert (await first.finished).outcome == "answered"
    ticket = await s.ticket_of(first.linkedid)
    first_ring = await alice.wait_for("ringing", first.linkedid)
    assert first_ring["repeat_of"] is None

    second = await s.pbx.place_call(
        "13911112222", "Chen Jie", script=CallerScript(("3",)), talk_time=1.0
    )
    ring = await alice.wait_for("ringing", second.linkedid)
    pop = await alice.wait_for("screen_pop", second.linkedid)
    assert (await second.finished).outcome == "answered"
    await s.pipeline.drain(15)
    assert ring["repeat_of"] == ticket.number and ring["repeat_opened_at"]
    assert pop["repeat_of"] == ticket.number and pop["ticket_number"] == ticket.number
    assert await s.tickets.get_by_call(second.linkedid) is None, "no second ticket"
    record = await s.calls.get(second.linkedid)
    assert record is not None and record.ticket_number == ticket.number
    token = {"Authorization": f"Bearer {await s.login('alice')}"}
    shown = (await s.http.get(f"/api/tickets/{ticket.number}", headers=token)).json()
    assert any("repeat" in h["note"] and second.linkedid in h["note"] for h in shown["history"])

    # One action splits the call into a ticket of its own.
    split = await s.http.post(
        f"/api/tickets/{ticket.number}/split", headers=token, json={"call_id": second.linkedid}
    )
    assert split.status_code == 201, split.text
    new = split.json()
    assert new["number"] != ticket.number and new["call_id"] == second.linkedid
    assert new["site_code"] == HILLTOP
    record = await s.calls.get(second.linkedid)
    assert record is not None and record.ticket_number == new["number"]
    again = await s.http.post(
        f"/api/tickets/{ticket.number}/split", headers=token, json={"call_id": second.linkedid}
    )
    assert again.status_code == 422


@pytest.mark.browser
async def test_supervisor_sees_and_swaps_todays_duty(
    sqlite_system: System, webhook: Webhook, browser: Any, artifacts: Any
) -> None:
    from playwright.async_api import expect

    from .conftest import logged_in_page

    s = sqlite_system
    await put_rota(s, webhook)
    call = await s.pbx.place_call("13911112222", "Chen Jie", script=CallerScript(("1",)))
    await s.until(lambda: bool(webhook.to("/wang")), timeout=10)
    context, page, errors = await logged_in_page(browser, s.url, "sue", lands_on="supervisor")
    await page.goto(f"{s.url}/oncall?lang=zh-CN")
    assert await page.get_attribute("html", "lang") == "zh-CN"
    await expect(page.locator("#duty-title")).to_have_text("值班安排")
    await expect(page.locator("#on-duty")).to_have_text("Duty Wang, Backup Li")
    rows = page.locator("#shifts tbody tr")
    await expect(rows).to_have_count(2)
    # Backup Li takes Duty Wang's shift: the engineer list offers the rota's names.
    first = rows.filter(has_text="Duty Wang")
    await first.locator("input[name=engineer]").fill("Backup Li")
    await first.locator("button[type=submit]").click()
    await expect(page.locator("#duty-msg")).to_contain_text("Backup Li")
    await expect(page.locator("#on-duty")).to_have_text("Backup Li")
    # The page sent for the call, acknowledged from the page by the supervisor.
    pages = page.locator("#page-list tbody tr")
    await expect(pages).to_have_count(1)
    await expect(pages.first).to_contain_text("Duty Wang")
    await pages.first.locator("button").click()
    await expect(pages.first).to_contain_text("sue")
    await page.screenshot(path=str(artifacts / "oncall-page.png"), full_page=True)
    sue = {"Authorization": f"Bearer {await s.login('sue')}"}
    listed = (await s.http.get("/api/oncall", headers=sue)).json()
    assert listed["pages"][0]["acked_by"] == "sue"
    assert [i["engineer"] for i in listed["items"]] == ["Backup Li", "Backup Li"]
    assert errors == []
    await context.close()
    await s.agent_on_duty("alice")
    await call.finished


@pytest.mark.browser
async def test_agent_sees_the_repeat_call_and_splits_it(
    sqlite_system: System, browser: Any, artifacts: Any
) -> None:
    from playwright.async_api import expect

    from .conftest import logged_in_page

    s = sqlite_system
    context, page, errors = await logged_in_page(browser, s.url, "alice")
    await expect(page.locator("#link-state")).to_have_text("live")
    await page.click("#btn-ready")
    await expect(page.locator("#agent-state")).to_have_text("Ready")
    first = await s.pbx.place_call(
        "13911112222", "Chen Jie", script=CallerScript(("2",)), talk_time=1.0
    )
    await first.finished
    ticket = await s.ticket_of(first.linkedid)
    await expect(page.locator("#ticket-number")).to_have_text(ticket.number)
    await expect(page.locator("#pop-repeat")).to_be_hidden()

    second = await s.pbx.place_call(
        "13911112222", "Chen Jie", script=CallerScript(("2",)), talk_time=1.0
    )
    await expect(page.locator("#pop-repeat")).to_be_visible(timeout=15_000)
    await expect(page.locator("#pop-repeat-text")).to_contain_text(ticket.number)
    await expect(page.locator("#ticket-number")).to_have_text(ticket.number)
    await second.finished
    await page.click("#pop-split")
    await expect(page.locator("#pop-repeat-text")).not_to_contain_text(ticket.number)
    own = await s.ticket_of(second.linkedid)
    await expect(page.locator("#ticket-number")).to_have_text(own.number)
    assert own.number != ticket.number
    await page.screenshot(path=str(artifacts / "repeat-call-split.png"), full_page=True)
    assert errors == []
    await context.close()
