"""Suite-wide policy (owned by the lead; areas keep their fixtures in their own folders).

Under `scripts/test` (HOTLINE_REQUIRE_SERVICES=1) every skip is reported as a failure
that names what is missing and how to install it: CI must never go green by skipping a
real peer (PostgreSQL, Redis, Chromium, sox, espeak-ng) or a fixture.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Generator

import pytest
import redis.asyncio as aioredis

_HOW_TO_INSTALL = (
    "scripts/install installs every Debian package (postgresql, redis-server, chromium, "
    "sox, libsox-fmt-all, espeak-ng) and the locked Python packages; scripts/services "
    "starts PostgreSQL and Redis"
)


def _no_skip_allowed() -> bool:
    return os.environ.get("HOTLINE_REQUIRE_SERVICES") == "1"


def _as_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped, and scripts/test allows no skip: {reason}. {_HOW_TO_INSTALL}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and _no_skip_allowed() and not hasattr(report, "wasxfail"):
        _as_failure(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and _no_skip_allowed():
        _as_failure(report)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `slow` run first, in their collected (or shuffled) order. Under
    scripts/test each worker pulls the next test when it is free: the long scenarios then
    start at once, side by side, and short tests fill in around them at the end, instead
    of a long one starting last and finishing alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_url() -> str:
    """The machine's Redis; without it the test skips (a failure under scripts/test)."""
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of the test's own; its keys are removed afterwards."""
    name = f"test-{os.getpid()}-{secrets.token_hex(4)}"
    yield name
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{name}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
