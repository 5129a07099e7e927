"""Clicking the ringing call's desktop notification brings the console forward with the
ringing call under the keyboard focus; the supervisor page shows a duty lead the floor at
a glance; the pages not shot elsewhere (the refusal page, a notice's acknowledgement page,
the printable paper pads and the monthly report) as screenshots in both languages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import console_test_harness as h
import pytest
from playwright.async_api import Browser, Page, expect

from calls.control import QueueEntry
from calls.record import CallState
from fallback.paper import render_pads
from routing.domain.levels import FaultLevel
from storage.reports import ReportRepository
from storage.supervision import SupervisionRepository
from supervision.domain.escalation import Action, ActionKind, ChannelKind
from supervision.records import NoticeDraft
from supervision.report import render_monthly
from supervision.web import SupervisionWebDeps, router
from testkit.call_snapshots import call_snapshot
from testkit.open_access import any_websocket, anyone

from .test_languages_browser import (
    axe_violations,
    entry_url,
    log_in_by_keyboard,
    new_page,
    wait_subscribed,
)

pytestmark = pytest.mark.browser

NOTICE_AT = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)

# Every Notification the page creates is kept where the test can reach it, and calls of
# window.focus() are counted (a headless window cannot show being brought forward).
CAPTURE_NOTICES = """
(() => {
  const Real = window.Notification;
  window.__notices = [];
  window.__focusCalls = 0;
  class Captured extends Real {
    constructor(title, options) { super(title, options); window.__notices.push(this); }
  }
  Object.defineProperty(Captured, "permission", { get: () => Real.permission });
  Captured.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Captured;
  const focus = window.focus.bind(window);
  window.focus = () => { window.__focusCalls += 1; focus(); };
})();
"""


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_clicking_the_notification_focuses_the_ringing_call(
    language: str,
    world: h.World,
    live: h.LiveServer,
    alerting_browser: Browser,  # noqa: F811
    artifacts: Path,
    watch_errors: Callable[[Page], list[str]],
) -> None:
    page = await new_page(alerting_browser, live, language)
    await page.add_init_script(CAPTURE_NOTICES)
    errors = watch_errors(page)
    await page.goto(entry_url(live, "/login", language))
    await log_in_by_keyboard(page, "alice")
    await expect(page).to_have_url(f"{live.url}/agent")
    await wait_subscribed(world, "user:alice")
    await expect(page.locator("#notify-state")).to_have_attribute("data-permission", "granted")

    await world.bus.publish(
        "user:alice",
        {
            "type": "ringing",
            "call_id": "1700000950.1",
            "caller_number": "01012345678",
            "site_code": "4401001",
            "queue": "hotline-main",
        },
    )
    await expect(page.locator("#call-ringing")).to_be_visible()
    await expect(page.locator("#call-ringing")).to_have_attribute("data-notified", "1")
    assert await page.evaluate("window.__notices.length") == 1
    assert "4401001" in await page.evaluate("window.__notices[0].title")
    # The agent was elsewhere: the focus is not on the call before the click.
    await page.focus("#btn-ready")
    before = await page.evaluate("window.__focusCalls")

    await page.evaluate("window.__notices[0].dispatchEvent(new Event('click'))")

    await expect(page.locator("#call-ringing")).to_be_focused()
    assert await page.evaluate("window.__focusCalls") == before + 1
    await page.screenshot(path=str(artifacts / f"agent-notice-clicked-{language}.png"))
    assert errors == []


@pytest.mark.parametrize(
    ("language", "refusal"),
    [("zh-CN", "此页面需要值班负责人角色。"), ("en", "This page needs the supervisor role.")],
)
async def test_the_refusal_page_in_both_languages(
    language: str, refusal: str, live: h.LiveServer, browser: Browser, artifacts: Path
) -> None:
    page = await new_page(browser, live, language)
    await page.goto(entry_url(live, "/login", language))
    await log_in_by_keyboard(page, "alice")
    await expect(page).to_have_url(f"{live.url}/agent")
    response = await page.goto(f"{live.url}/supervisor")
    assert response is not None and response.status == 403
    await expect(page.locator("html")).to_have_attribute("lang", language)
    await expect(page.locator("main")).to_contain_text(refusal)
    await page.screenshot(path=str(artifacts / f"forbidden-{language}.png"), full_page=True)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("zh-CN", ["应急工单", "来电号码", "月度运营报告", "每日来电"]),
        ("en", ["emergency ticket", "Caller number", "monthly operations report", "Calls per day"]),
    ],
)
async def test_paper_pads_and_monthly_report_in_both_languages(
    language: str,
    words: list[str],
    world: h.World,
    browser: Browser,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    pads = render_pads(2, 1, tmp_path / "pads.html", language=language)
    report = await render_monthly(
        ReportRepository(world.db),
        "2026-11",
        tmp_path / "reports",
        now=datetime(2026, 12, 5, tzinfo=UTC),
        language=language,
    )
    page = await browser.new_page(viewport={"width": 1000, "height": 1200})
    await page.goto(pads.as_uri())
    await expect(page.locator("html")).to_have_attribute("lang", language)
    await expect(page.locator("body")).to_contain_text(words[0])
    await expect(page.locator("body")).to_contain_text(words[1])
    await page.screenshot(path=str(artifacts / f"paper-pads-{language}.png"), full_page=True)
    await page.goto(report.as_uri())
    await expect(page.locator("html")).to_have_attribute("lang", language)
    await expect(page.locator("h1")).to_contain_text(words[2])
    await expect(page.locator("figcaption").first).to_have_text(words[3])
    # Every plot loaded (a broken image has no natural width).
    widths = await page.eval_on_selector_all("img", "(imgs) => imgs.map((i) => i.naturalWidth)")
    assert widths and all(w > 300 for w in widths), widths
    await page.screenshot(path=str(artifacts / f"monthly-report-{language}.png"), full_page=True)


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_duty_lead_sees_the_floor_at_a_glance(
    language: str,
    world: h.World,
    live: h.LiveServer,
    browser: Browser,
    artifacts: Path,
    watch_errors: Callable[[Page], list[str]],
) -> None:
    world.pbx.waiting = tuple(
        QueueEntry(
            "hotline-main", i + 1, f"PJSIP/trunk-{i}", f"{i}.1", f"{i}.1", number, "", wait, 10
        )
        for i, (number, wait) in enumerate([("13800138000", 75), ("13900139000", 30)])
    )
    # Live calls: one waiting 90 s, one 30 s, one answered after 100 s.
    now = datetime.now(UTC)
    for call_id, queued, answered in [
        ("1700000960.1", 90, None),
        ("1700000960.2", 30, None),
        ("1700000960.3", 200, 100),
    ]:
        at = now - timedelta(seconds=queued)
        snap = call_snapshot(
            call_id,
            at,
            answered_at=None if answered is None else at + timedelta(seconds=answered),
            state=CallState.QUEUED if answered is None else CallState.CONNECTED,
        )
        await world.calls.upsert(snap, agent="alice" if answered else None)
    page = await new_page(browser, live, language)
    errors = watch_errors(page)
    await page.goto(entry_url(live, "/login", language))
    await log_in_by_keyboard(page, "sue")
    await expect(page).to_have_url(f"{live.url}/supervisor")
    # Each live call coloured by how long its caller waited (answered: no colour).
    for call_id, band in [
        ("1700000960.1", "wait-late"),
        ("1700000960.2", "wait-warn"),
        ("1700000960.3", "wait-ok"),
    ]:
        row = page.locator(f'#live-calls tr[data-call="{call_id}"]')
        await expect(row).to_have_attribute("data-wait", band)
    await expect(page.locator("#glance-agents")).to_have_text(re.compile(r" / 1$"))
    order = await page.eval_on_selector_all(
        "#live-calls tbody tr", "(rows) => rows.map((r) => r.dataset.call)"
    )
    assert order == ["1700000960.1", "1700000960.2", "1700000960.3"]  # longest wait on top
    # Two callers in the PBX's queue, the longer one past a minute: the tile turns red.
    await expect(page.locator("#glance-waiting")).to_have_text("2")
    await expect(page.locator("#glance-longest")).to_have_text("01:15")
    await expect(page.locator("#tile-longest")).to_have_attribute("data-wait", "wait-late")
    await expect(page.locator("#tile-waiting")).to_have_attribute("data-wait", "wait-late")
    await expect(page.locator("#glance-agents")).to_have_text(re.compile(r"^\d+ / \d+ / \d+$"))
    # The switch and the glance share the first row; the live calls come right after.
    mode = await page.locator("#emergency").bounding_box()
    glance = await page.locator("#glance").bounding_box()
    calls = await page.locator("#live").bounding_box()
    assert mode and glance and calls
    assert abs(mode["y"] - glance["y"]) < 2 and glance["x"] > mode["x"]
    assert calls["y"] > mode["y"] and calls["width"] > mode["width"] * 1.5
    assert await axe_violations(page) == []
    await page.screenshot(path=str(artifacts / f"supervisor-glance-{language}.png"), full_page=True)

    world.pbx.waiting = ()
    await expect(page.locator("#glance-waiting")).to_have_text("0", timeout=15_000)
    await expect(page.locator("#tile-waiting")).to_have_attribute("data-wait", "wait-ok")
    assert errors == []


@pytest.mark.parametrize(
    ("language", "title", "button"),
    [("zh-CN", "确认通知", "确认收到"), ("en", "Acknowledge this notice", "Acknowledge")],
)
async def test_acknowledgement_page_in_both_languages(
    language: str, title: str, button: str, world: h.World, browser: Browser, artifacts: Path
) -> None:
    """The page an engineer opens from a notice's link, in the hotline's language."""
    store = SupervisionRepository(world.db)
    action = Action(
        "HL-7/esc/1/0", ActionKind.ESCALATION, "HL-7", FaultLevel.P1, ("x",), NOTICE_AT, "t", 0
    )
    draft = NoticeDraft("duty", "wecom", ChannelKind.IM, "[P1 紧急] 升级：HL-7", "b", "Ack777")
    await store.record_steps([(action, [draft])], NOTICE_AT)
    app = world.app()
    deps = SupervisionWebDeps(
        store,
        world.bus,
        language=language,
        require_supervisor=anyone,
        authorize_websocket=any_websocket,
    )
    app.include_router(router(deps))
    server, _task, live = await h.start_server(app)
    try:
        page = await browser.new_page()
        await page.goto(f"{live.url}/ack/Ack777")
        await expect(page.locator("html")).to_have_attribute("lang", language)
        await expect(page.locator("h1")).to_have_text(title)
        await page.fill("input[name=by]", "Zhao Gang")
        await page.screenshot(path=str(artifacts / f"ack-{language}.png"), full_page=True)
        await page.get_by_role("button", name=button).click()
        await expect(page.locator("body")).to_contain_text("Zhao Gang")
        acked = await store.notice_by_code("Ack777")
        assert acked.acked_by == "Zhao Gang"
        await page.screenshot(path=str(artifacts / f"ack-done-{language}.png"), full_page=True)
    finally:
        await h.stop_server(server)
