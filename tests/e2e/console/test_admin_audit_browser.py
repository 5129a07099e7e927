"""The admin's user page and the audit page in Chromium, in Simplified Chinese and in
English: users listed, one added, a password set, a role changed, a user disabled and
enabled, the last admin's refusal shown, every step by keyboard; the audit trail newest
first with its filters and times in the desk's zone; the agent's own password form; axe-core
finds no serious or critical violation; screenshots in artifacts/console."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import console_test_harness as h
import pytest
from playwright.async_api import Browser, Page, expect

from .test_languages_browser import (
    LOCAL_TIME,
    axe_violations,
    entry_url,
    log_in_by_keyboard,
    new_page,
    tab_to,
)
from .test_ticket_search_browser import answers_counter, answers_read, hold_back

pytestmark = pytest.mark.browser

WORDS = {
    "zh-CN": {
        "added": "已添加用户 carol。",
        "last_admin": "最后一个启用的管理员",
        "disabled": "carol 已停用",
        "enabled": "carol 已启用",
        "no": "否",
        "supervisor": "值班负责人",
        "password_set": "已为 carol 设置新密码",
        "weak": "过于常见",
        "forbidden": "此页面需要管理员角色。",
        "log_in": "登录",
        "login_failed": "登录失败",
        "bad_time": "请按 YYYY-MM-DD HH:MM 格式填写时间。",
        "changed": "密码已修改",
        "wrong": "当前密码不正确。",
    },
    "en": {
        "added": "User carol added.",
        "last_admin": "is the last enabled admin",
        "disabled": "carol is disabled",
        "enabled": "carol is enabled",
        "no": "no",
        "supervisor": "supervisor",
        "password_set": "New password set for carol",
        "weak": "is too common",
        "forbidden": "This page needs the admin role.",
        "log_in": "log-in",
        "login_failed": "failed log-in",
        "bad_time": "Write the time as YYYY-MM-DD HH:MM.",
        "changed": "Password changed",
        "wrong": "The current password is wrong.",
    },
}


async def log_in(page: Page, live: h.LiveServer, language: str, username: str) -> None:
    await page.goto(entry_url(live, "/login", language))
    await log_in_by_keyboard(page, username)
    await expect(page).not_to_have_url(re.compile(r"/login"))


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_admin_manages_users_by_keyboard(
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
    await log_in(page, live, language, "root")
    await page.goto(f"{live.url}/admin")
    await expect(page.locator("html")).to_have_attribute("lang", language)
    rows = page.locator("#users-table tbody tr")
    await expect(rows).to_have_count(4)
    await expect(page.locator('#users-table tr[data-user="alice"]')).to_contain_text("PJSIP/1001")
    assert await axe_violations(page) == []

    # Add carol, by keyboard only.
    await tab_to(page, "#add-name")
    await page.keyboard.type("carol")
    await page.keyboard.press("Tab")  # role: agent
    await page.keyboard.press("Tab")
    await page.keyboard.type("PJSIP/1003")
    await page.keyboard.press("Tab")
    await page.keyboard.type("tidy lantern 88")
    await page.keyboard.press("Enter")
    await expect(page.locator("#add-msg")).to_have_text(words["added"])
    await expect(rows).to_have_count(5)
    assert (await world.users.get("carol")) is not None

    # The last admin cannot be disabled: the API's refusal, in the page's language.
    await tab_to(page, '#users-table tr[data-user="root"] .enable-toggle', limit=80)
    await page.keyboard.press("Enter")
    await expect(page.locator("#users-msg")).to_contain_text(words["last_admin"])
    await expect(page.locator("#users-msg")).to_have_class(re.compile("error"))

    # Role: carol becomes a supervisor.
    await tab_to(page, 'select[data-user="carol"]', limit=80)
    await page.keyboard.press("ArrowDown")  # agent -> supervisor
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    carol = page.locator('#users-table tr[data-user="carol"]')
    await expect(carol.locator("td").nth(0)).to_have_text(words["supervisor"])
    user = await world.users.get("carol")
    assert user is not None and user.role.value == "supervisor"

    # Disable, then enable again.
    await carol.locator(".enable-toggle").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#users-msg")).to_contain_text(words["disabled"])
    await expect(carol.locator("td").nth(2)).to_have_text(words["no"])
    await carol.locator(".enable-toggle").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#users-msg")).to_contain_text(words["enabled"])

    # A password: the policy's refusal, then a good one.
    await tab_to(page, "#pw-user", limit=80)
    await page.select_option("#pw-user", "carol")
    await page.keyboard.press("Tab")
    await page.keyboard.type("password123")
    await page.keyboard.press("Enter")
    await expect(page.locator("#pw-msg")).to_contain_text(words["weak"])
    await page.fill("#pw-new", "")
    await page.locator("#pw-new").focus()
    await page.keyboard.type("quiet meadow 2027")
    await page.keyboard.press("Enter")
    await expect(page.locator("#pw-msg")).to_contain_text(words["password_set"])
    assert await world.users.authenticate("carol", "quiet meadow 2027") is not None

    assert await axe_violations(page) == []
    await page.screenshot(path=str(artifacts / f"admin-{language}.png"), full_page=True)
    assert errors == []

    # A supervisor gets the 403 page.
    other = await new_page(browser, live, language)
    await log_in(other, live, language, "sue")
    answer = await other.goto(f"{live.url}/admin")
    assert answer is not None and answer.status == 403
    await expect(other.locator("main")).to_contain_text(words["forbidden"])


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_audit_page_lists_newest_first_with_filters(
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
    # A failed log-in first, then the supervisor's own.
    await page.goto(entry_url(live, "/login", language))
    await log_in_by_keyboard(page, "alice", "not the password")
    await expect(page.locator("#login-error")).to_be_visible()
    await log_in(page, live, language, "sue")
    await page.goto(f"{live.url}/audit")
    await expect(page.locator("html")).to_have_attribute("lang", language)
    items = page.locator("#audit-items tbody tr")
    await expect(items.first).to_have_attribute("data-action", "login")
    await expect(items.first.locator("td").nth(1)).to_have_text("sue")
    await expect(items.first.locator("td").nth(2)).to_have_text(words["log_in"])
    await expect(items.first.locator("td").nth(0)).to_have_text(re.compile(LOCAL_TIME.pattern))
    await expect(page.locator('#audit-items tr[data-action="login_failed"]')).to_have_count(1)
    assert await axe_violations(page) == []
    await page.screenshot(path=str(artifacts / f"audit-{language}.png"), full_page=True)

    # Filters, by keyboard: who, action; a bad time is refused on the page.
    await tab_to(page, "#f-actor")
    await page.keyboard.type("alice")
    await page.keyboard.press("Enter")
    await expect(items).to_have_count(1)
    await expect(items.first.locator("td").nth(2)).to_have_text(words["login_failed"])
    await page.select_option("#f-action", "login")
    await page.locator("#f-actor").focus()
    await page.keyboard.press("Enter")
    await expect(items).to_have_count(0)
    await page.fill("#f-since", "yesterday")
    await page.locator("#f-since").press("Enter")
    await expect(page.locator("#audit-msg")).to_have_text(words["bad_time"])
    # "Since" is read in the desk's zone (Asia/Shanghai), not the browser's (Berlin).
    await page.locator("#f-clear").press("Enter")
    await expect(items.first).to_have_attribute("data-action", "login")
    shown = await items.first.locator("td").nth(0).text_content()
    assert shown is not None
    await page.fill("#f-since", shown)
    await page.locator("#f-since").press("Enter")
    await expect(page.locator('#audit-items tr[data-action="login"]')).not_to_have_count(0)
    await page.fill("#f-since", "2099-01-01 00:00")
    await page.locator("#f-since").press("Enter")
    await expect(items).to_have_count(0)
    assert errors == []


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_agent_changes_own_password(
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
    await log_in(page, live, language, "bob")
    await expect(page).to_have_url(f"{live.url}/agent")
    await page.locator("#own-password summary").click()
    await page.fill("#own-current", "not my password")
    await page.fill("#own-new", "brisk heron 4711")
    await page.fill("#own-repeat", "brisk heron 4711")
    await page.locator("#own-password-submit").press("Enter")
    await expect(page.locator("#own-password-msg")).to_contain_text(words["wrong"])
    await page.fill("#own-current", h.PASSWORD)
    await page.locator("#own-password-submit").press("Enter")
    await expect(page.locator("#own-password-msg")).to_contain_text(words["changed"])
    assert await axe_violations(page) == []
    await page.screenshot(path=str(artifacts / f"own-password-{language}.png"), full_page=True)
    # This browser goes on with the new session.
    await page.reload()
    await expect(page).to_have_url(f"{live.url}/agent")
    assert await world.users.authenticate("bob", "brisk heron 4711") is not None
    assert errors == []


async def test_an_older_filters_late_answer_does_not_replace_the_newer_one(
    world: h.World,
    live: h.LiveServer,
    browser: Browser,
    watch_errors: Callable[[Page], list[str]],
) -> None:
    """The supervisor filters by alice, then by sue before alice's answer came: alice's
    answer, let through last, is not shown over sue's."""
    page = await new_page(browser, live, "en")
    await page.context.add_init_script(answers_counter("/api/audit?"))
    errors = watch_errors(page)
    await page.goto(entry_url(live, "/login", "en"))
    await log_in_by_keyboard(page, "alice", "not the password")
    await expect(page.locator("#login-error")).to_be_visible()
    await log_in(page, live, "en", "sue")
    held, release, hold_back_alice = hold_back(lambda url: "actor=alice" in url)
    await page.route("**/api/audit?*", hold_back_alice)
    await page.goto(f"{live.url}/audit")
    items = page.locator("#audit-items tbody tr")
    await expect(items.first).to_have_attribute("data-action", "login")
    await page.fill("#f-actor", "alice")
    await page.locator("#f-actor").press("Enter")
    await asyncio.wait_for(held.wait(), 20)
    await page.fill("#f-actor", "sue")
    await page.locator("#f-actor").press("Enter")
    await expect(page.locator('#audit-items tr[data-action="login_failed"]')).to_have_count(0)
    await expect(items.first.locator("td").nth(1)).to_have_text("sue")

    release.set()
    # The first load, sue's and alice's answers: all three read by the page.
    await answers_read(page, 3)
    await expect(page.locator('#audit-items tr[data-action="login_failed"]')).to_have_count(0)
    actors = {await cell.text_content() for cell in await items.locator("td:nth-child(2)").all()}
    assert actors == {"sue"}
    assert errors == []
