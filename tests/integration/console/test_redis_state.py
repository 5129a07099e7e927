"""The console's Redis adapters against the real Redis: the log-in throttle and the list of
open consoles, each instance playing one console process. Outages go through a proxy the
test cuts (the Redis server itself is never touched)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from cluster_test_support import CuttableProxy, eventually

from console.domain.presence import ConsoleSeen
from console.domain.throttle import ThrottlePolicy
from console.redis_state import SharedLoginAttempts, SharedPresence, decode_attempts

pytestmark = pytest.mark.redis

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
POLICY = ThrottlePolicy(max_failures=5, window=timedelta(minutes=5), lockout=timedelta(minutes=2))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
    yield c
    await c.aclose()


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[CuttableProxy]:
    p = CuttableProxy()
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
async def proxied(proxy: CuttableProxy) -> AsyncIterator[aioredis.Redis]:
    """A client whose Redis the test can take away."""
    c = aioredis.Redis.from_url(proxy.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    yield c
    await c.aclose()


# --- log-in throttle ----------------------------------------------------------------------


async def test_failures_on_two_processes_add_up(client: aioredis.Redis, redis_prefix: str) -> None:
    a = SharedLoginAttempts(client, prefix=redis_prefix, policy=POLICY)
    b = SharedLoginAttempts(client, prefix=redis_prefix, policy=POLICY)
    for i in range(3):
        await a.failed("10.0.0.1", "alice", at(i))
    await b.failed("10.0.0.1", "Alice", at(3))  # names fold case on every process
    assert await a.wait_needed("10.0.0.1", "alice", at(4)) is None
    await b.failed("10.0.0.1", "alice", at(4))
    # Neither process saw five failures itself; together they did.
    assert await a.wait_needed("10.0.0.1", "alice", at(5)) == timedelta(minutes=2, seconds=-1)
    assert await b.wait_needed("10.0.0.1", "alice", at(5)) == timedelta(minutes=2, seconds=-1)
    assert await b.wait_needed("10.0.0.2", "alice", at(5)) is None  # another desk
    assert await b.wait_needed("10.0.0.1", "bob", at(5)) is None
    # The record lives as long as it matters, no longer.
    ttl = await client.pttl(a.key("10.0.0.1", "alice"))
    assert 0 < ttl <= 2 * 60 * 1000
    await a.succeeded("10.0.0.1", "alice")
    assert await b.wait_needed("10.0.0.1", "alice", at(6)) is None
    assert await client.exists(a.key("10.0.0.1", "alice")) == 0


async def test_concurrent_failures_are_all_counted(
    client: aioredis.Redis, redis_url: str, redis_prefix: str
) -> None:
    other = aioredis.Redis.from_url(redis_url)
    try:
        policy = ThrottlePolicy(max_failures=100)
        # Forty racing updates win one at a time; on a busy machine that takes longer than
        # the default 2 s budget, after which a failure is deliberately left uncounted.
        a = SharedLoginAttempts(client, prefix=redis_prefix, policy=policy, race_budget=60)
        b = SharedLoginAttempts(other, prefix=redis_prefix, policy=policy, race_budget=60)
        await asyncio.gather(
            *((a if i % 2 else b).failed("10.0.0.1", "alice", at(i / 100)) for i in range(40))
        )
        stored = decode_attempts(await client.get(a.key("10.0.0.1", "alice")))
        assert stored is not None and len(stored.failures) == 40  # no update was lost
    finally:
        await other.aclose()


async def test_redis_outage_falls_back_to_this_process_and_says_so(
    client: aioredis.Redis,
    proxied: aioredis.Redis,
    proxy: CuttableProxy,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a = SharedLoginAttempts(proxied, prefix=redis_prefix, policy=POLICY, retry_after=0.3)
    b = SharedLoginAttempts(client, prefix=redis_prefix, policy=POLICY)
    await a.failed("10.0.0.1", "alice", at(0))
    proxy.cut()
    caplog.set_level(logging.WARNING, logger="console.redis_state")
    # Not everybody locked out: a pair with no failures may try.
    assert await a.wait_needed("10.0.0.1", "bob", at(1)) is None
    # Not unlimited either: this process's own count still locks the guesser.
    for i in range(4):
        await a.failed("10.0.0.1", "alice", at(2 + i))
    assert await a.wait_needed("10.0.0.1", "alice", at(7)) is not None
    lost = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(lost) == 1  # logged once, not per request
    # Failures seen elsewhere meanwhile count here once Redis is back.
    for i in range(5):
        await b.failed("10.0.0.9", "sue", at(i))
    assert await a.wait_needed("10.0.0.9", "sue", at(6)) is None  # cannot know yet
    proxy.restore()
    await asyncio.sleep(0.35)
    assert await a.wait_needed("10.0.0.9", "sue", at(6)) is not None
    assert any("reachable again" in r.getMessage() for r in caplog.records)


# --- presence -----------------------------------------------------------------------------


async def test_every_process_lists_the_consoles_of_all(
    client: aioredis.Redis, redis_prefix: str
) -> None:
    a = SharedPresence(client, prefix=redis_prefix, node="console-a")
    b = SharedPresence(client, prefix=redis_prefix, node="console-b")
    try:
        await a.connected("alice", "agent", at(0))
        await a.connected("alice", "agent", at(1))
        await b.connected("alice", "agent", at(2))
        await b.connected("bob", "agent", at(3))
        await b.heartbeat("bob", at(9))
        expected = [ConsoleSeen("alice", "agent", 3, at(2)), ConsoleSeen("bob", "agent", 1, at(9))]
        assert await a.consoles() == expected
        assert await b.consoles() == expected
        await b.disconnected("bob", at(10))
        assert [s.username for s in await a.consoles()] == ["alice"]
        await a.close()  # a clean stop takes its consoles off the list at once
        assert await b.consoles() == [ConsoleSeen("alice", "agent", 1, at(2))]
    finally:
        await a.close()
        await b.close()


async def test_a_process_that_stops_answering_drops_off_the_list(
    client: aioredis.Redis, proxied: aioredis.Redis, proxy: CuttableProxy, redis_prefix: str
) -> None:
    gone = SharedPresence(proxied, prefix=redis_prefix, node="console-gone", ttl=0.6)
    b = SharedPresence(client, prefix=redis_prefix, node="console-b", ttl=0.6)
    try:
        await gone.connected("alice", "agent", at(0))
        assert [s.username for s in await b.consoles()] == ["alice"]
        proxy.cut()  # it can no longer refresh its entry: as good as dead
        await eventually(lambda: _usernames(b, []), timeout=3)
    finally:
        await gone.close()
        await b.close()


async def test_after_an_outage_a_process_publishes_its_consoles_again(
    client: aioredis.Redis, proxied: aioredis.Redis, proxy: CuttableProxy, redis_prefix: str
) -> None:
    a = SharedPresence(client, prefix=redis_prefix, node="console-a", ttl=0.9)
    b = SharedPresence(proxied, prefix=redis_prefix, node="console-b", ttl=0.9, retry_after=0.2)
    try:
        await a.connected("alice", "agent", at(0))
        await b.connected("bob", "agent", at(1))
        proxy.cut()
        await b.connected("sue", "supervisor", at(2))  # while Redis is away
        # B still lists its own consoles; A no longer sees B's.
        assert [s.username for s in await b.consoles()] == ["bob", "sue"]
        await eventually(lambda: _usernames(a, ["alice"]), timeout=3)
        proxy.restore()
        await eventually(lambda: _usernames(a, ["alice", "bob", "sue"]), timeout=3)
        await eventually(lambda: _usernames(b, ["alice", "bob", "sue"]), timeout=3)
    finally:
        await a.close()
        await b.close()


async def _usernames(presence: SharedPresence, expected: list[str]) -> bool:
    return [s.username for s in await presence.consoles()] == expected
