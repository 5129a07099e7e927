"""The consoles in Simplified Chinese (the default) and in English, driven in Chromium:
log-in, ready, a ringing call you cannot miss (sound, desktop notification, flashing
title), a keyboard-only path from ringing to a saved ticket, a duty lead flipping
emergency mode, screenshots of every page in both languages, and axe-core finding no
serious or critical accessibility violation on the log-in, agent, supervisor and
wallboard pages."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import console_test_harness as h
import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from storage.supervision import SupervisionRepository
from supervision.wallboard import WallboardPublisher
from supervision.web import SupervisionWebDeps, router
from testkit.open_access import any_websocket, anyone

pytestmark = pytest.mark.browser

AXE = Path(__file__).parents[1] / "vendor" / "axe-core" / "axe.min.js"
LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")

# What each language shows for the same state: the test reads the page as its reader.
WORDS = {
    "zh-CN": {
        "ready": "就绪",
        "saved": "已保存",
        "left": "还剩",
        "emergency": "应急模式",
        "running": "已持续",
        "login": "登录",
        "in_warranty": "已过保",
        "wrong": "用户名或密码错误。",
    },
    "en": {
        "ready": "Ready",
        "saved": "Saved",
        "left": "left",
        "emergency": "EMERGENCY",
        "running": "running for",
        "login": "Log in",
        "in_warranty": "out of warranty",
        "wrong": "Wrong user name or password.",
    },
}


@pytest_asyncio.fixture(loop_scope="session")
async def live_with_wallboard(world: h.World) -> AsyncIterator[h.LiveServer]:
    """The console app with the wallboard routes, as `hotline serve` serves them."""
    app = world.app()
    publisher = WallboardPublisher(world.bus, clock=lambda: datetime.now(UTC), interval=0.5)
    deps = SupervisionWebDeps(
        SupervisionRepository(world.db),
        world.bus,
        publisher,
        require_supervisor=anyone,
        authorize_websocket=any_websocket,
    )
    app.include_router(router(deps))
    await publisher.start()
    server, task, live = await h.start_server(app)
    try:
        yield live
    finally:
        await h.stop_server(server, task)
        await publisher.stop()


async def new_page(browser: Browser, live: h.LiveServer, language: str) -> Page:
    # The browser itself asks for Chinese: English is the person's explicit choice.
    context = await browser.new_context(
        viewport={"width": 1400, "height": 1000}, locale="zh-CN", timezone_id="Europe/Berlin"
    )
    await context.grant_permissions(["notifications"], origin=live.url)
    return await context.new_page()


def entry_url(live: h.LiveServer, path: str, language: str) -> str:
    return f"{live.url}{path}" + ("?lang=en" if language == "en" else "")


async def axe_violations(page: Page) -> list[str]:
    """Serious and critical axe-core violations of the page as it is now."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))  # CDP evaluation: CSP allows it
    result: list[dict[str, Any]] = await page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ["violations"] })).violations
             .filter((v) => v.impact === "serious" || v.impact === "critical")
             .map((v) => ({ id: v.id, impact: v.impact,
                            nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }))"""
    )
    return [f"{v['id']} ({v['impact']}): {v['nodes']}" for v in result]


async def tab_to(page: Page, selector: str, limit: int = 40) -> None:
    """Press Tab until `selector` has the focus, as a keyboard user does."""
    for _ in range(limit):
        if await page.evaluate(
            "(s) => document.activeElement === document.querySelector(s)", selector
        ):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


async def log_in_by_keyboard(page: Page, username: str, password: str = h.PASSWORD) -> None:
    await tab_to(page, "#username")
    await page.keyboard.type(username)
    await page.keyboard.press("Tab")
    await page.keyboard.type(password)
    await page.keyboard.press("Enter")


async def wait_subscribed(world: h.World, topic: str) -> None:
    for _ in range(1000):
        if world.bus.subscriber_count(topic) >= 1:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the page never subscribed to {topic}")


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_agent_hears_the_call_and_saves_the_ticket_by_keyboard(
    language: str,
    world: h.World,
    live_with_wallboard: h.LiveServer,
    alerting_browser: Browser,
    artifacts: Path,
    watch_errors: Callable[[Page], list[str]],
) -> None:
    live, words = live_with_wallboard, WORDS[language]
    page = await new_page(alerting_browser, live, language)
    errors = watch_errors(page)

    await page.goto(entry_url(live, "/login", language))
    await expect(page.locator("html")).to_have_attribute("lang", language)
    await expect(page.locator("h1")).to_have_text(words["login"])
    assert await axe_violations(page) == []
    await page.screenshot(path=str(artifacts / f"login-{language}.png"), full_page=True)

    # A wrong password is told in the page's language.
    await log_in_by_keyboard(page, "alice", "not the password")
    await expect(page.locator("#login-error")).to_have_text(words["wrong"])
    await expect(page.locator("html")).to_have_attribute("lang", language)
    await page.fill("#username", "")
    await log_in_by_keyboard(page, "alice")
    await expect(page).to_have_url(f"{live.url}/agent")
    # The choice of English is remembered without ?lang= on the next page.
    await expect(page.locator("html")).to_have_attribute("lang", language)
    await wait_subscribed(world, "user:alice")
    await expect(page.locator("#notify-state")).to_have_attribute("data-permission", "granted")

    await page.keyboard.press("Alt+r")
    await expect(page.locator("#agent-state")).to_have_text(words["ready"])
    assert ("add", "hotline-main", "PJSIP/1001", "alice") in world.pbx.actions

    call_id = f"1700000900.{len(language)}"
    ticket = await h.open_call_ticket(world, call_id)
    site = await world.sites.site_record("4401001")
    assert site is not None
    await world.bus.publish(
        "user:alice",
        {
            "type": "ringing",
            "call_id": call_id,
            "caller_number": "01012345678",
            "site_code": "4401001",
            "queue": "hotline-main",
        },
    )
    await expect(page.locator("#call-ringing")).to_be_visible()
    # The ring tone plays, a desktop notification is shown, the tab title names the site.
    await expect(page.locator("#ring-sound")).to_have_attribute("data-played", "1")
    assert await page.evaluate("!document.getElementById('ring-sound').paused")
    await expect(page.locator("#call-ringing")).to_have_attribute("data-notified", "1")
    await expect(page).to_have_title(re.compile("4401001"))
    await page.screenshot(path=str(artifacts / f"agent-ringing-{language}.png"), full_page=True)

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
    # The pop's first screen: organisation, site, level, open tickets, engineer, badges.
    await expect(page.locator("#pop-summary")).to_contain_text("Provincial Water Resources Bureau")
    await expect(page.locator("#pop-summary")).to_contain_text("Zhao Gang")
    await expect(page.locator("#pop-open-tickets")).to_contain_text(ticket.number)
    await expect(page.locator("#pop-warranty")).to_have_text(words["in_warranty"])
    await expect(page.locator("#pop-level")).to_be_visible()
    await expect(page.locator("#pop-full")).not_to_have_attribute("open", "")
    assert await page.evaluate("document.getElementById('ring-sound').paused")  # quiet again
    # Times as 2026-12-05 09:10 in the desk's zone (not the browser's), SLA as time left.
    meta = await page.locator("#ticket-meta").inner_text()
    assert LOCAL_TIME.search(meta) and words["left"] in meta, meta
    shanghai = ticket.created_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert shanghai.strftime("%Y-%m-%d %H:%M") in meta, meta
    assert " AM" not in meta and " PM" not in meta
    assert await axe_violations(page) == []
    await page.screenshot(path=str(artifacts / f"agent-pop-{language}.png"), full_page=True)

    # Keyboard only: to the ticket, type, next field group, save.
    await page.keyboard.press("Alt+t")
    await expect(page.locator("#f-description")).to_be_focused()
    await page.keyboard.press("Control+a")
    await page.keyboard.type("键盘录入：MCU 掉线")
    await page.keyboard.press("Alt+ArrowDown")
    await expect(page.locator("#f-problem_type")).to_be_focused()
    await page.keyboard.press("Alt+ArrowUp")
    await expect(page.locator("#f-level")).to_be_focused()
    await page.keyboard.press("Alt+s")
    await expect(page.locator("#ticket-msg")).to_contain_text(words["saved"])
    await expect(page.locator("#ticket-msg")).to_contain_text(ticket.number)
    stored = await world.tickets.get(ticket.number)
    assert stored is not None and stored.description == "键盘录入：MCU 掉线"

    # "?" opens the help; Escape closes it; the focus ring is visible on the control.
    await page.keyboard.press("Alt+/")
    await expect(page.locator("#ts-q")).to_be_focused()
    await page.keyboard.press("Tab")
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    await page.evaluate("document.activeElement.blur()")  # "?" in a text field is text
    await page.keyboard.press("?")
    await expect(page.locator("#shortcuts")).to_be_visible()
    await page.screenshot(path=str(artifacts / f"agent-shortcuts-{language}.png"))
    await page.keyboard.press("Escape")
    await expect(page.locator("#shortcuts")).to_be_hidden()

    await page.goto(f"{live.url}/wallboard")
    await expect(page.locator("#status")).to_have_attribute("data-state", "online")
    assert await axe_violations(page) == []
    await page.screenshot(path=str(artifacts / f"wallboard-{language}.png"), full_page=True)
    assert errors == []


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_duty_lead_flips_emergency_mode(
    language: str,
    world: h.World,
    live: h.LiveServer,
    browser: Browser,
    artifacts: Path,
    watch_errors: Callable[[Page], list[str]],
) -> None:
    words = WORDS[language]
    page = await new_page(browser, live, language)
    errors = watch_errors(page)
    await page.goto(entry_url(live, "/login", language))
    await log_in_by_keyboard(page, "sue")
    await expect(page).to_have_url(f"{live.url}/supervisor")
    await expect(page.locator("html")).to_have_attribute("lang", language)
    await expect(page.locator("#em-flip")).not_to_have_text("…")
    assert await axe_violations(page) == []

    await page.keyboard.press("Alt+e")
    await expect(page.locator("#em-dialog")).to_be_visible()
    await expect(page.locator("#em-reason")).to_be_focused()
    await page.keyboard.type("主用坐席系统数据库故障")
    await page.keyboard.press("Tab")  # Cancel
    await page.keyboard.press("Tab")  # Confirm
    await expect(page.locator("#em-confirm")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#em-mode")).to_have_text(words["emergency"])
    await expect(page.locator("#em-timer")).to_contain_text(words["running"])
    await expect(page.locator("#em-detail")).to_contain_text("主用坐席系统数据库故障")
    await expect(page.locator("#em-detail")).to_contain_text(re.compile(LOCAL_TIME.pattern))
    await expect(page.locator("#emergency-banner")).to_be_visible()
    assert world.desk.status().active
    assert await axe_violations(page) == []
    await page.screenshot(path=str(artifacts / f"supervisor-{language}.png"), full_page=True)
    assert errors == []


async def test_api_errors_follow_the_language(live: h.LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        token = await h.token_for(client, "alice")
        for header, expected in [({}, "必填"), ({"Accept-Language": "en-US"}, "Required.")]:
            answer = await client.post(
                "/api/agent/state", json={}, headers={**h.bearer(token), **header}
            )
            assert answer.status_code == 422
            assert answer.json()["detail"][0]["msg"].startswith(expected), answer.text
        missing = await client.get(
            "/api/tickets/HL-NOPE", headers={**h.bearer(token), "Accept-Language": "zh-CN"}
        )
        assert missing.status_code == 404 and missing.json()["detail"] == "没有这个工单。"
        refused = await client.post(
            "/api/emergency",
            json={"active": True, "reason": "test"},
            headers={**h.bearer(token), "Accept-Language": "en"},
        )
        assert refused.status_code == 403
        assert refused.json()["detail"] == "This needs the supervisor role; you are agent."


async def test_the_accessibility_check_sees_violations(browser: Browser) -> None:
    page = await browser.new_page()
    await page.set_content('<html lang="en"><body><main><input id="x"></main></body></html>')
    assert any(v.startswith("label (critical)") for v in await axe_violations(page))


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_agent_sees_when_the_emergency_journal_is_not_replicated(
    language: str,
    world: h.World,
    live: h.LiveServer,
    browser: Browser,
    watch_errors: Callable[[Page], list[str]],
) -> None:
    page = await new_page(browser, live, language)
    errors = watch_errors(page)
    await page.goto(entry_url(live, "/login", language))
    await log_in_by_keyboard(page, "alice")
    await expect(page).to_have_url(f"{live.url}/agent")
    await wait_subscribed(world, "emergency")
    banner = page.locator("#journal-banner")
    await expect(banner).to_be_hidden()
    degraded = {"type": "journal", "status": "degraded", "replication": "degraded"}
    await world.bus.publish("emergency", degraded)
    await expect(banner).to_be_visible()
    words = "暂停发放纸质工单号" if language == "zh-CN" else "no paper numbers are given out"
    await expect(banner).to_contain_text(words)
    assert await axe_violations(page) == []
    await world.bus.publish("emergency", {"type": "journal", "status": "ok", "replication": "ok"})
    await expect(banner).to_be_hidden()
    assert errors == []
