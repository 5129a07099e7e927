"""Suite-wide policy (owned by the lead; areas keep their fixtures in their own folders).

Under `scripts/test` (HOTLINE_REQUIRE_SERVICES=1) a test that skips because PostgreSQL,
Redis or Chromium is missing is reported as a failure: CI must never go green by
skipping the real peers.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Generator

import pytest
import redis.asyncio as aioredis

_SERVICE_MARKS = ("postgres", "redis", "browser")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if (
        report.skipped
        and os.environ.get("HOTLINE_REQUIRE_SERVICES") == "1"
        and any(item.get_closest_marker(m) for m in _SERVICE_MARKS)
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"required service unavailable (skip turned into failure): {report.longrepr}"
        )


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
