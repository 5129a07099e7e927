"""The agent's ticket list shows the answer to the latest search, whatever order the
answers arrive in: an older search's late answer does not replace a newer one's rows, and
a "more" asked before a new search does not add its page to the new search's rows. Real
Chromium; the test holds the older answer back until the newer one is on screen."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import console_test_harness as h
import pytest
from playwright.async_api import Browser, Locator, Page, Route, expect

from .test_agent_state_browser import log_in

pytestmark = pytest.mark.browser


# Counts, a task after the page's own handlers ran, every answer to a request for PATH
# the page read (`answers_read` waits for them).
_COUNTER = """
(() => {
  window.__answers = 0;
  const json = Response.prototype.json;
  Response.prototype.json = function () {
    const url = this.url;
    return json.call(this).then((data) => {
      if (url.includes(PATH)) setTimeout(() => { window.__answers += 1; }, 0);
      return data;
    });
  };
})();
"""


def answers_counter(path: str) -> str:
    """The init script counting the answers to requests for `path`."""
    return _COUNTER.replace("PATH", json.dumps(path))


async def agent_page(browser: Browser, live: h.LiveServer) -> Page:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    await context.add_init_script(answers_counter("/api/tickets?"))
    page = await context.new_page()
    await log_in(page, live)
    return page


async def long_list(
    world: h.World, browser: Browser, live: h.LiveServer, calls: str, count: int
) -> tuple[Page, Locator]:
    """`count` more tickets, then the agent's page with the list's first 25 rows."""
    for n in range(count):
        await h.open_call_ticket(world, f"{calls}.{n}", description=f"storm call {n}")
    page = await agent_page(browser, live)
    rows = page.locator("#ticket-list tbody tr")
    await expect(rows).to_have_count(25)
    return page, rows


async def answers_read(page: Page, count: int) -> None:
    """Wait until the page read `count` answers `answers_counter` counts (not
    `wait_for_function`: its polls are an `eval`, which the console's CSP refuses)."""
    await asyncio.wait_for(
        page.evaluate(
            """(count) => new Promise((done) => {
                 const check = () => window.__answers >= count ? done() : setTimeout(check, 10);
                 check();
               })""",
            count,
        ),
        20,
    )


def hold_back(
    wanted: Callable[[str], bool],
) -> tuple[asyncio.Event, asyncio.Event, Callable[[Route], Awaitable[None]]]:
    """A route handler that holds back the answer to the first request `wanted`
    picks until `release` is set; `held` says it is held."""
    held, release = asyncio.Event(), asyncio.Event()

    async def handler(route: Route) -> None:
        if held.is_set() or not wanted(route.request.url):
            await route.continue_()
            return
        response = await route.fetch()
        held.set()
        await release.wait()
        await route.fulfill(response=response)

    return held, release, handler


async def search(page: Page, words: str) -> None:
    await page.fill("#ts-q", words)
    await page.click("#ticket-search button[type=submit]")


async def test_an_older_searchs_late_answer_does_not_replace_the_newer_one(
    world: h.World,
    live: h.LiveServer,
    browser: Browser,
    watch_errors: Callable[[Page], list[str]],
) -> None:
    alpha = await h.open_call_ticket(world, "1700000900.1", description="alpha projector fault")
    bravo = await h.open_call_ticket(world, "1700000900.2", description="bravo codec fault")
    page = await agent_page(browser, live)
    errors = watch_errors(page)
    rows = page.locator("#ticket-list tbody tr")
    await expect(rows).to_have_count(2)  # the first list, before any search
    held, release, handler = hold_back(lambda url: "q=alpha" in url)
    await page.route("**/api/tickets?*", handler)

    await search(page, "alpha")
    await asyncio.wait_for(held.wait(), 20)
    await search(page, "bravo")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-number", bravo.number)

    release.set()
    await answers_read(page, 3)  # the first list, bravo's and alpha's
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-number", bravo.number)
    assert alpha.number != bravo.number
    assert errors == []
    await page.context.close()


async def test_a_more_asked_before_a_new_search_does_not_add_to_it(
    world: h.World,
    live: h.LiveServer,
    browser: Browser,
    watch_errors: Callable[[Page], list[str]],
) -> None:
    lone = await h.open_call_ticket(world, "1700000902.1", description="zulu lone fault")
    page, rows = await long_list(world, browser, live, "1700000901", 27)
    errors = watch_errors(page)
    held, release, handler = hold_back(lambda url: "before=" in url)
    await page.route("**/api/tickets?*", handler)

    await page.click("#ts-more")
    await asyncio.wait_for(held.wait(), 20)
    await search(page, "zulu")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-number", lone.number)

    release.set()
    await answers_read(page, 3)  # the first list, the search's and the held page's
    await expect(rows).to_have_count(1)
    assert errors == []
    await page.context.close()


async def test_a_second_click_on_more_while_the_first_loads_adds_nothing_twice(
    world: h.World,
    live: h.LiveServer,
    browser: Browser,
    watch_errors: Callable[[Page], list[str]],
) -> None:
    page, rows = await long_list(world, browser, live, "1700000903", 28)
    errors = watch_errors(page)
    held, release, handler = hold_back(lambda url: "before=" in url)
    await page.route("**/api/tickets?*", handler)

    await page.click("#ts-more")
    await asyncio.wait_for(held.wait(), 20)
    await page.click("#ts-more")  # the same next page: ignored while the first loads
    await page.wait_for_timeout(300)  # room for a second request the page must not send
    release.set()
    await answers_read(page, 2)  # the first list and one more page
    await expect(rows).to_have_count(28)
    numbers = [await row.get_attribute("data-number") for row in await rows.all()]
    assert len(set(numbers)) == 28
    assert errors == []
    await page.context.close()


async def test_more_waits_for_the_search_asked_before_it(
    world: h.World,
    live: h.LiveServer,
    browser: Browser,
    watch_errors: Callable[[Page], list[str]],
) -> None:
    """A click on "more" while a new search is loading would continue the old list: it is
    ignored, so the new search's rows never get the old list's next page (here it would
    arrive after the search's answer)."""
    lone = await h.open_call_ticket(world, "1700000905.1", description="zulu lone fault")
    page, rows = await long_list(world, browser, live, "1700000904", 27)
    errors = watch_errors(page)
    held, release, hold_search = hold_back(lambda url: "q=zulu" in url)
    more_asked, release_more, hold_more = hold_back(lambda url: "before=" in url)

    async def handler(route: Route) -> None:
        url = route.request.url
        await (hold_more if "before=" in url else hold_search)(route)

    await page.route("**/api/tickets?*", handler)
    await search(page, "zulu")
    await asyncio.wait_for(held.wait(), 20)
    await page.click("#ts-more")  # still the old list on screen, its "more" shown
    await page.wait_for_timeout(300)  # room for a request the page must not send
    release.set()
    await expect(rows).to_have_count(1)
    release_more.set()
    await answers_read(page, 2 + more_asked.is_set())
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-number", lone.number)
    assert not more_asked.is_set()
    assert errors == []
    await page.context.close()
