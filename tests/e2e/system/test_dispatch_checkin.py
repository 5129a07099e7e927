"""Engineer dispatch end to end, on the whole hotline against the stand-in PBX: a call
opens a ticket and pops on the agent's page; the agent dispatches the site's engineer
from the page; a local webhook receives the notice with the check-in link; Chromium on a
phone-sized screen opens the link and confirms the arrival (with the phone's position);
the ticket's `onsite_at` is set and its on-site clock is met; two hours later (the
scheduler's clock moved on) the part decision escalates; a part sent and received within
the windows shows met in the monthly report. Screenshots in artifacts/system/.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from pbx import CallerScript
from storage.reports import ReportRepository
from supervision.domain.calendar import CHINA_STANDARD_TIME
from supervision.domain.escalation import ActionKind
from supervision.domain.monthly import Month
from supervision.report import render_monthly

from .conftest import RIVERSIDE, SQLITE_ONLY, System, logged_in_page, page_errors

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}  # an ordinary smartphone, portrait


@dataclass
class WebhookSink:
    """A local HTTP endpoint standing in for the engineer's notification webhook."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readline()
            length = 0
            while (line := (await reader.readline()).decode("latin-1").strip()) != "":
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.bodies.append(json.loads(await reader.readexactly(length)))
            self.arrived.set()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            writer.close()


@SQLITE_ONLY
async def test_dispatch_from_the_page_and_check_in_from_a_phone(
    system: System, browser: Any, artifacts: Path
) -> None:
    sink = WebhookSink()
    server = await asyncio.start_server(sink.handle, "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    try:
        await _scenario(system, browser, artifacts, sink)
    finally:
        server.close()
        await server.wait_closed()


async def _scenario(system: System, browser: Any, artifacts: Path, sink: WebhookSink) -> None:
    url = system.url
    context, page, errors = await logged_in_page(browser, url, "alice")
    await expect(page.locator("#link-state")).to_have_text("live")
    await page.click("#btn-ready")

    # A caller at Riverside (80 km out) presses 1: level 1, arrival due in 2 h (the level
    # rule is stricter than the 100 km band's 12 h).
    call = await system.pbx.place_call(
        "010-12345678", "Wang Li", script=CallerScript(("1",)), talk_time=600
    )
    ticket = await system.ticket_of(call.linkedid)
    assert ticket.site_code == RIVERSIDE
    assert ticket.onsite_due == ticket.created_at + timedelta(hours=2)
    await expect(page.locator("#ticket-number")).to_have_text(ticket.number)
    await expect(page.locator("#dispatch-state")).to_have_attribute("data-state", "none")

    # The site's assigned engineer is offered first; the agent sends him by webhook.
    await expect(page.locator("#dp-engineers option").first).to_have_attribute("value", "Zhao Gang")
    await page.fill("#dp-engineer", "Zhao Gang")
    await page.fill("#dp-phone", "13700001111")
    await page.select_option("#dp-channel", "webhook")
    await page.fill("#dp-address", f"http://127.0.0.1:{sink.port}/engineer")
    await page.click("#dp-send")
    await expect(page.locator("#dispatch-state")).to_have_attribute("data-state", "dispatched")
    await expect(page.locator("#dp-checkin-url")).to_contain_text(f"/checkin/{ticket.number}/")
    await expect(page.locator("#f-onsite_engineer")).to_have_value("Zhao Gang")
    await expect(page.locator("#pop-dispatch")).to_contain_text("Zhao Gang")
    await page.screenshot(path=str(artifacts / "dispatch-agent.png"), full_page=True)

    await asyncio.wait_for(sink.arrived.wait(), 15)
    notice = sink.bodies[0]
    assert notice["ticket_number"] == ticket.number
    assert notice["site_code"] == RIVERSIDE
    checkin_url = notice["checkin_url"]
    assert checkin_url.startswith(f"{url}/checkin/{ticket.number}/")
    assert checkin_url == await page.locator("#dp-checkin-url").text_content()

    # The engineer's phone: no log-in, Chinese first, the phone's position shared.
    phone = await browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        permissions=["geolocation"],
        geolocation={"latitude": 30.5928, "longitude": 114.3055, "accuracy": 15},
    )
    mobile = await phone.new_page()
    mobile_errors = page_errors(mobile)
    await mobile.goto(checkin_url)
    await expect(mobile.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(mobile.locator("#ticket-number")).to_have_text(ticket.number)
    await expect(mobile.locator("#address")).to_have_text("12 Dyke Road")
    arrive = mobile.locator("#step-arrived")
    await expect(arrive).to_have_text("已到达现场")
    box = await arrive.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"] and box["height"] >= 40
    await mobile.click("#step-on_the_way")
    await expect(mobile.locator("#ticket")).to_have_attribute("data-state", "on_the_way")
    await arrive.click()
    await expect(mobile.locator("#result")).to_have_text("已记录，谢谢。")
    await expect(mobile.locator("#ticket")).to_have_attribute("data-state", "on_site")
    await expect(mobile.locator("#arrived-at")).to_have_text(
        re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")
    )
    await expect(arrive).to_be_disabled()
    await mobile.screenshot(path=str(artifacts / "dispatch-checkin-phone.png"), full_page=True)

    stored = await system.tickets.get(ticket.number)
    assert stored is not None and stored.onsite_at is not None
    arrived_at = stored.onsite_at
    token = await system.login("alice")
    answer = await system.http.get(
        f"/api/tickets/{ticket.number}", headers={"Authorization": f"Bearer {token}"}
    )
    clocks = {c["kind"]: c for c in answer.json()["clocks"]}
    assert clocks["onsite"]["state"] == "met"
    assert clocks["onsite"]["met_at"] == arrived_at.isoformat()
    assert clocks["part_decision"]["state"] == "running"
    dispatches = await system.http.get(
        f"/api/tickets/{ticket.number}/dispatches", headers={"Authorization": f"Bearer {token}"}
    )
    assert dispatches.json()["items"][0]["location"] == {
        "latitude": 30.5928,
        "longitude": 114.3055,
    }

    # The agent's page shows the engineer on site and where the phone checked in.
    await page.reload()
    await page.fill("#ts-q", ticket.number)
    await page.press("#ts-q", "Enter")
    await page.locator("#ticket-list tbody button").first.click()
    await expect(page.locator("#dispatch-state")).to_have_attribute("data-state", "on_site")
    await expect(page.locator("#dispatch-notice")).to_have_attribute("data-state", "delivered")
    await expect(page.locator("#dispatch-location")).to_contain_text("30.59280")
    await expect(page.locator('#dispatch-clocks li[data-kind="onsite"]')).to_have_attribute(
        "data-state", "met"
    )

    # Replaying the arrival later does not move it.
    again = await mobile.request.post(checkin_url, data={"status": "arrived"})
    assert again.status == 200 and (await again.json())["recorded"] is False
    assert (await system.tickets.get(ticket.number)).onsite_at == arrived_at  # type: ignore[union-attr]

    # Two hours after the arrival, no part decision yet: the scheduler escalates it.
    scheduler = system.service.path.supervision.service.scheduler
    early = await scheduler.tick(arrived_at + timedelta(hours=2) - timedelta(seconds=1))
    assert f"{ticket.number}/breach/part_decision" not in {a.key for a in early.actions}
    late = await scheduler.tick(arrived_at + timedelta(hours=2))
    breach = [a for a in late.actions if a.key == f"{ticket.number}/breach/part_decision"]
    assert [(a.kind, a.due_at) for a in breach] == [
        (ActionKind.BREACH, arrived_at + timedelta(hours=2))
    ]
    # Recorded once: the next pass does not escalate it again.
    repeat = await scheduler.tick(arrived_at + timedelta(hours=2, minutes=1))
    assert f"{ticket.number}/breach/part_decision" not in {a.key for a in repeat.actions}

    # The engineer calls for a part from the phone; the RMA desk ships it and it arrives
    # within the windows (24 h to ship, 2 working days to arrive): the report shows met.
    await mobile.click("#step-part_needed")
    await expect(mobile.locator("#ticket")).to_have_attribute("data-state", "part_needed")
    needed = (await system.tickets.get(ticket.number)).part_needed_at  # type: ignore[union-attr]
    assert needed is not None
    sent, received = needed + timedelta(hours=20), needed + timedelta(hours=30)
    patched = await system.http.patch(
        f"/api/tickets/{ticket.number}",
        json={"part_sent_at": sent.isoformat(), "part_received_at": received.isoformat()},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert patched.status_code == 200, patched.text
    kinds = {c["kind"]: c["state"] for c in patched.json()["clocks"]}
    assert kinds["part_shipment"] == "met" and kinds["part_arrival"] == "met"

    report_dir = artifacts / "dispatch-report"
    index = await render_monthly(
        ReportRepository(system.service.edges.store.db),
        Month(
            needed.astimezone(CHINA_STANDARD_TIME).year,
            needed.astimezone(CHINA_STANDARD_TIME).month,
        ),
        report_dir,
        now=received + timedelta(hours=1),
    )
    with (index.parent / "field_compliance.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    part_p1 = next(r for r in rows if r["measure"] == "part_delivery" and r["group"] == "P1")
    arrival_p1 = next(r for r in rows if r["measure"] == "arrival" and r["group"] == "P1")
    assert (part_p1["tickets"], part_p1["met"], part_p1["breached"]) == ("1", "1", "0")
    assert (arrival_p1["tickets"], arrival_p1["met"]) == ("1", "1")
    band = next(r for r in rows if r["measure"] == "part_delivery" and r["group"] == "≤100 km")
    assert band["met"] == "1"
    page_text = index.read_text(encoding="utf-8")
    assert 'id="field-work"' in page_text and "备件送达" in page_text  # Chinese by default
    assert (index.parent / "part_delivery_compliance.png").stat().st_size > 1000

    assert errors == [] and mobile_errors == []
    await phone.close()
    await context.close()
