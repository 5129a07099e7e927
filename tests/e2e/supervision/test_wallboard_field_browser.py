"""Headless Chromium: the wallboard counts engineers on the way and on site and shows the
breached clocks by kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, expect

from routing.domain.levels import FaultLevel, SlaPolicy
from routing.records import TicketStatus
from supervision.domain.calendar import WorkingCalendar
from supervision.domain.sla import SlaTicket, assess

from .test_wallboard_browser import ARTIFACTS, stack  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser


async def test_field_engineers_and_breaches_per_clock(browser: Browser, stack) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    server, publisher, _bus = stack
    now = datetime.now(UTC)
    t0 = now - timedelta(hours=4)

    def ticket(number: str, **kw: object) -> SlaTicket:
        return SlaTicket(
            number,
            FaultLevel.P1,
            TicketStatus.IN_PROGRESS,
            t0,
            responded_at=t0,
            **kw,  # type: ignore[arg-type]
        )

    tickets = [
        ticket("HL-1", dispatched_at=t0, on_the_way_at=t0 + timedelta(minutes=5)),
        ticket("HL-2", dispatched_at=t0, onsite_at=t0 + timedelta(hours=1)),
        ticket(
            "HL-3",
            dispatched_at=t0,
            onsite_at=t0 + timedelta(hours=1),
            part_needed_at=t0 + timedelta(hours=1, minutes=30),
        ),
    ]
    calendar = WorkingCalendar()
    publisher.on_assessment([assess(t, SlaPolicy(), now, calendar) for t in tickets], now)

    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    await page.goto(f"{server.url}/wallboard")
    await expect(page.locator("#field-on-the-way")).to_have_text("1")
    await expect(page.locator("#field-on-site")).to_have_text("1")
    await expect(page.locator("#field-waiting-part")).to_have_text("1")
    # HL-1 never arrived (due 2 h after opening); HL-2 decided nothing 2 h after arriving.
    await expect(page.locator('#clock-breaches tr[data-clock="onsite"] td').nth(1)).to_have_text(
        "1"
    )
    await expect(
        page.locator('#clock-breaches tr[data-clock="part_decision"] td').nth(1)
    ).to_have_text("1")
    await expect(
        page.locator('#clock-breaches tr[data-clock="part_shipment"] td').nth(1)
    ).to_have_text("0")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "wallboard-field.png"), full_page=True)
    await page.close()
