"""The browser every e2e area drives: Debian's Chromium through Playwright (never a
downloaded browser), with the flags this closed network needs.

The areas that drive it (SESSION_LOOP_AREAS) run their tests in the session's event
loop, so that one Chromium and one Playwright driver serve them all: starting both costs
seconds per test on a loaded machine. Their async fixtures say `loop_scope="session"`.
Each test opens its own browser contexts; they are closed after it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from testkit.scratch_db import migrated_scratch_postgres, postgres_available

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


HERE = Path(__file__).parent
SESSION_LOOP_AREAS = tuple(HERE / area for area in ("console", "supervision", "system"))
SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(area in item.path.parents for area in SESSION_LOOP_AREAS):
            item.add_marker(SESSION_LOOP, append=False)


async def _shared_chromium(extra_args: list[str]) -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip(
            "Debian chromium is not installed at /usr/bin/chromium (Debian package chromium)"
        )
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield b
        finally:
            await b.close()


async def _fresh_contexts(b: Browser) -> AsyncIterator[Browser]:
    """The shared browser for one test; the contexts the test opened close after it."""
    try:
        yield b
    finally:
        for context in list(b.contexts):
            await context.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_browser() -> AsyncIterator[Browser]:
    async for b in _shared_chromium([]):
        yield b


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_alerting_browser() -> AsyncIterator[Browser]:
    """Chromium that may play the ring tone without a click first (the agent clicked
    "ready" long ago in real use; a test page has had no gesture)."""
    async for b in _shared_chromium(["--autoplay-policy=no-user-gesture-required"]):
        yield b


@pytest_asyncio.fixture(loop_scope="session")
async def browser(shared_browser: Browser) -> AsyncIterator[Browser]:
    async for b in _fresh_contexts(shared_browser):
        yield b


@pytest_asyncio.fixture(loop_scope="session")
async def alerting_browser(shared_alerting_browser: Browser) -> AsyncIterator[Browser]:
    async for b in _fresh_contexts(shared_alerting_browser):
        yield b


@pytest.fixture(scope="session")
def migrated_pg_template() -> Iterator[str]:
    """A PostgreSQL database migrated once per session, which nobody connects to: tests
    take copies of it (`testkit.scratch_db.create_postgres_from_template`)."""
    if not postgres_available():
        pytest.skip("PostgreSQL not reachable (HOTLINE_TEST_PG_URL)")
    with migrated_scratch_postgres("hotline_e2e_migrated") as url:
        yield url
