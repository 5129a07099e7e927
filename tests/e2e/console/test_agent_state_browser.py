"""The agent's state on the page follows the agent's own last change, whatever order the
answers arrive in: a read of the state asked before a change (the page's first
`/api/me`, the socket's hello) and answered after it never shows the old state again.
Real Chromium; the test holds the stale answer back until the change is on screen."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import console_test_harness as h
import pytest
from playwright.async_api import Browser, Page, Route, WebSocketRoute, expect

from .test_languages_browser import wait_subscribed

pytestmark = pytest.mark.browser

# Counts, a task after the page's own handlers ran, every `/api/me` answer the page read
# and every socket message it received: then the test knows the stale answer was handled.
HANDLED_COUNTER = """
(() => {
  window.__handled = { me: 0, socket: 0 };
  const json = Response.prototype.json;
  Response.prototype.json = function () {
    const url = this.url;
    return json.call(this).then((data) => {
      if (url.endsWith("/api/me")) setTimeout(() => { window.__handled.me += 1; }, 0);
      return data;
    });
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", () => {
        setTimeout(() => { window.__handled.socket += 1; }, 0);
      });
    }
  };
})();
"""


async def agent_page(browser: Browser) -> Page:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    await context.add_init_script(HANDLED_COUNTER)
    return await context.new_page()


async def log_in(page: Page, live: h.LiveServer) -> None:
    await page.goto(f"{live.url}/login")
    await page.fill("#username", "alice")
    await page.fill("#password", h.PASSWORD)
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{live.url}/agent")


async def handled(page: Page, kind: str, count: int) -> None:
    """Wait until the page handled `count` answers of this kind. (Not `wait_for_function`:
    its later polls are an `eval` in the page, which the console's CSP refuses.)"""
    await asyncio.wait_for(
        page.evaluate(
            """([kind, count]) => new Promise((done) => {
                 const check = () =>
                   window.__handled[kind] >= count ? done() : setTimeout(check, 10);
                 check();
               })""",
            [kind, count],
        ),
        20,
    )


async def release_the_stale_answer(page: Page, release: asyncio.Event, kind: str) -> None:
    """Let the held answer through; once the page handled it, the agent is still ready."""
    release.set()
    await handled(page, kind, 1)
    await expect(page.locator("#agent-state")).to_have_text("Ready")
    assert await page.locator("#agent-state").get_attribute("data-state") == "ready"


async def test_a_late_first_read_does_not_undo_ready(
    world: h.World, live: h.LiveServer, browser: Browser, watch_errors: Callable[[Page], list[str]]
) -> None:
    page = await agent_page(browser)
    errors = watch_errors(page)
    answered = asyncio.Event()
    release = asyncio.Event()

    async def hold_back(route: Route) -> None:
        response = await route.fetch()  # the server answers now: not in the queue
        answered.set()
        await release.wait()
        await route.fulfill(response=response)

    await page.route("**/api/me", hold_back)
    await log_in(page, live)
    await asyncio.wait_for(answered.wait(), 20)
    await wait_subscribed(world, "user:alice")
    await page.click("#btn-ready")
    await expect(page.locator("#agent-state")).to_have_text("Ready")

    await release_the_stale_answer(page, release, "me")
    assert errors == []


async def test_a_late_hello_does_not_undo_ready(
    world: h.World, live: h.LiveServer, browser: Browser, watch_errors: Callable[[Page], list[str]]
) -> None:
    page = await agent_page(browser)
    errors = watch_errors(page)
    hello: list[str] = []
    release = asyncio.Event()

    async def hold_back_hello(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        async def from_server(message: str | bytes) -> None:
            if not hello:  # the first message is the hello, written when the socket opened
                hello.append(str(message))
                await release.wait()
            ws.send(message)

        server.on_message(from_server)

    await page.route_web_socket("**/ws/console", hold_back_hello)
    await log_in(page, live)
    await wait_subscribed(world, "user:alice")
    async with asyncio.timeout(20):
        while not hello:
            await asyncio.sleep(0.01)
    assert '"agent_state":"logged_out"' in hello[0].replace(" ", "")
    await expect(page.locator("#agent-state")).to_have_text("Not in queue")
    await page.click("#btn-ready")
    await expect(page.locator("#agent-state")).to_have_text("Ready")

    await release_the_stale_answer(page, release, "socket")
    assert errors == []


async def test_a_read_asked_while_a_change_is_on_its_way_does_not_undo_it(
    world: h.World, live: h.LiveServer, browser: Browser, watch_errors: Callable[[Page], list[str]]
) -> None:
    """The hello comes in after the click but before the server applied the change: a
    read of the state asked then could be answered with the old state after the change's
    own answer. The page asks none; the test holds back any it asks, to show it."""
    page = await agent_page(browser)
    errors = watch_errors(page)
    hello: list[str] = []
    release_hello = asyncio.Event()
    change_sent = asyncio.Event()
    release_change = asyncio.Event()
    reread: list[Route] = []
    reads = 0

    async def hold_back_hello(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        async def from_server(message: str | bytes) -> None:
            if not hello:
                hello.append(str(message))
                await release_hello.wait()
            ws.send(message)

        server.on_message(from_server)

    async def hold_back_change(route: Route) -> None:
        change_sent.set()
        await release_change.wait()  # the server has not seen the change yet
        await route.continue_()

    async def hold_back_reread(route: Route) -> None:
        nonlocal reads
        reads += 1
        if reads == 1:  # the page's first read, before any change
            await route.continue_()
            return
        response = await route.fetch()  # answered before the change reached the server
        reread.append(route)
        await release_change.wait()
        await asyncio.sleep(0.2)
        await route.fulfill(response=response)

    await page.route_web_socket("**/ws/console", hold_back_hello)
    await page.route("**/api/agent/state", hold_back_change)
    await page.route("**/api/me", hold_back_reread)
    await log_in(page, live)
    await wait_subscribed(world, "user:alice")
    await handled(page, "me", 1)
    await expect(page.locator("#agent-state")).to_have_text("Not in queue")

    await page.click("#btn-ready")
    await asyncio.wait_for(change_sent.wait(), 20)
    release_hello.set()
    await handled(page, "socket", 1)
    # a read the hello asked for reaches the server at once; give its route the time to run
    await asyncio.sleep(0.5)
    release_change.set()
    await expect(page.locator("#agent-state")).to_have_text("Ready")
    if reread:
        await handled(page, "me", 2)
    await expect(page.locator("#agent-state")).to_have_text("Ready")
    assert await page.locator("#agent-state").get_attribute("data-state") == "ready"
    assert reads == 1, "the page asked for the state while its own change was on its way"
    assert errors == []


async def test_the_state_buttons_wait_for_the_page_script(
    world: h.World, live: h.LiveServer, browser: Browser, watch_errors: Callable[[Page], list[str]]
) -> None:
    """Until agent.js has run, Ready and Pause are disabled (a click would be lost); a
    click as soon as they are enabled puts the agent in the queue."""
    page = await agent_page(browser)
    errors = watch_errors(page)
    asked = asyncio.Event()
    release = asyncio.Event()

    async def hold_back(route: Route) -> None:
        asked.set()
        await release.wait()
        await route.continue_()

    await page.route("**/static/agent.js", hold_back)
    await page.goto(f"{live.url}/login")
    await page.fill("#username", "alice")
    await page.fill("#password", h.PASSWORD)
    await page.click("#login-submit")
    await asyncio.wait_for(asked.wait(), 20)
    await expect(page.locator("#btn-ready")).to_be_disabled()
    await expect(page.locator("#btn-paused")).to_be_disabled()
    release.set()
    await page.click("#btn-ready")  # waits for the button to be enabled
    await expect(page.locator("#agent-state")).to_have_text("Ready")
    await expect(page.locator("#btn-paused")).to_be_enabled()
    assert errors == []
