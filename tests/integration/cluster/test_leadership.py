"""Lease, fencing and controller election against the real Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from cluster_test_support import CuttableProxy, eventually
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from cluster import (
    ClusterController,
    FenceUnavailable,
    RedisLease,
    Role,
    StaleLeader,
    parse_lease_value,
)
from storage.database import Database, async_url
from storage.fence import FenceStore

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(async_url(pg_url))
    # Each test gets its own fence row (name) and writes table, so tests stay independent.
    yield eng
    await eng.dispose()


def lease_on(url: str, prefix: str, ttl: float = 1.0) -> RedisLease:
    client = aioredis.Redis.from_url(url, socket_timeout=ttl / 4, socket_connect_timeout=ttl / 4)
    return RedisLease(client, prefix=prefix, ttl=ttl)


class Hooks:
    def __init__(self) -> None:
        self.elected: list[int] = []
        self.demoted: list[str] = []

    async def on_elected(self, token: int) -> None:
        self.elected.append(token)

    async def on_demoted(self, reason: str) -> None:
        self.demoted.append(reason)


class Listener:
    """What the controller tells its listeners, recorded in `hooks`."""

    def __init__(self, hooks: Hooks) -> None:
        self.hooks = hooks

    async def elected(self, token: int) -> None:
        await self.hooks.on_elected(token)

    async def demoted(self, reason: str) -> None:
        await self.hooks.on_demoted(reason)


def controller(
    lease: RedisLease, fence: FenceStore, node: str, hooks: Hooks | None = None
) -> ClusterController:
    hooks = hooks or Hooks()
    c = ClusterController(lease=lease, fence=fence, node=node)
    c.subscribe(Listener(hooks))
    return c


async def test_lease_one_holder_growing_tokens_release(redis_url: str, prefix: str) -> None:
    a, b = lease_on(redis_url, prefix), lease_on(redis_url, prefix)
    try:
        first = await a.acquire("node-a")
        assert first is not None
        assert await b.acquire("node-b") is None
        assert await a.renew("node-a", first)
        assert not await b.renew("node-b", first)
        assert not await a.renew("node-a", first + 1)  # wrong token is not ours
        assert await a.holder() == ("node-a", first)
        assert not await b.release("node-b", first)
        assert await a.release("node-a", first)
        second = await b.acquire("node-b")
        assert second is not None and second > first
    finally:
        await a.client.aclose()
        await b.client.aclose()


async def test_an_unrenewed_lease_expires_and_the_next_token_is_higher(
    redis_url: str, prefix: str
) -> None:
    a, b = lease_on(redis_url, prefix, ttl=0.3), lease_on(redis_url, prefix, ttl=0.3)
    try:
        first = await a.acquire("node-a")
        assert first is not None
        second = await eventually(lambda: b.acquire("node-b"), timeout=3)
        assert second > first
        assert not await a.renew("node-a", first)
    finally:
        await a.client.aclose()
        await b.client.aclose()


def test_lease_values_and_names_are_checked() -> None:
    assert parse_lease_value(b"host1:42#7") == ("host1:42", 7)
    assert parse_lease_value("no-token") is None
    assert parse_lease_value(None) is None


async def test_fence_only_moves_up(engine: AsyncEngine) -> None:
    fence = FenceStore(engine, name="fence-" + secrets.token_hex(4))
    await fence.ensure()
    await fence.ensure()  # idempotent: every instance runs it at start
    assert await fence.current() == 0
    assert await fence.claim(5, "a")
    assert not await fence.claim(3, "b")
    assert not await fence.claim(5, "b")
    assert await fence.current() == 5


async def _make_writes_table(engine: AsyncEngine) -> str:
    table = "writes_" + secrets.token_hex(4)
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE TABLE {table} (call_id VARCHAR(64) PRIMARY KEY)"))
    return table


async def test_a_superseded_leader_has_its_writes_refused_and_steps_down(
    engine: AsyncEngine, redis_url: str, prefix: str
) -> None:
    fence = FenceStore(engine, name="fence-" + secrets.token_hex(4))
    table = await _make_writes_table(engine)
    sessions = async_sessionmaker(engine)
    hooks = Hooks()
    leader = controller(lease_on(redis_url, prefix), fence, "node-a", hooks)

    async def write(event: Any) -> None:
        async with sessions.begin() as session:
            await session.execute(text(f"INSERT INTO {table} VALUES (:c)"), {"c": event.call_id})

    class Event:
        def __init__(self, call_id: str) -> None:
            self.call_id = call_id

    fenced = leader.fenced(write)
    await leader.start()
    try:
        await eventually(lambda: leader.is_leader, timeout=5)
        await fenced(Event("call-1"))
        # A newer leader claims the fence (as a standby does after a takeover).
        assert leader.token is not None
        assert await fence.claim(leader.token + 1, "node-b")
        await fenced(Event("call-2"))
        async with engine.connect() as conn:
            rows = (await conn.execute(text(f"SELECT call_id FROM {table}"))).scalars().all()
        assert rows == ["call-1"]
        assert leader.refused_writes == 1
        await eventually(lambda: hooks.demoted, timeout=5)
        assert leader.role is Role.STANDBY
        assert "write refused" in hooks.demoted[0]
        # Once demoted, the leader-side handlers do nothing at all.
        await fenced(Event("call-3"))
        assert leader.refused_writes == 1
    finally:
        await leader.stop()


async def test_a_refusal_wrapped_by_a_store_error_still_demotes(
    engine: AsyncEngine, redis_url: str, prefix: str
) -> None:
    fence = FenceStore(engine, name="fence-" + secrets.token_hex(4))
    table = await _make_writes_table(engine)
    sessions = async_sessionmaker(engine)
    hooks = Hooks()
    leader = controller(lease_on(redis_url, prefix), fence, "node-a", hooks)

    class StoreDown(Exception):
        pass

    async def write(event: Any) -> None:
        try:
            async with sessions.begin() as session:
                await session.execute(text(f"INSERT INTO {table} VALUES (:c)"), {"c": event})
        except Exception as exc:  # as a repository that maps every failure would
            raise StoreDown("store unavailable") from exc

    async def other_failure(event: Any) -> None:
        raise StoreDown("a genuine store failure")

    await leader.start()
    try:
        await eventually(lambda: leader.is_leader, timeout=5)
        with pytest.raises(StoreDown):  # not a refusal: the pipeline's retry handles it
            await leader.fenced(other_failure)("call-0")
        assert leader.token is not None
        assert await fence.claim(leader.token + 1, "node-b")
        await leader.fenced(write)("call-1")  # swallowed: refused, not retried
        assert leader.refused_writes == 1
        await eventually(lambda: hooks.demoted, timeout=5)
    finally:
        await leader.stop()


async def test_the_fence_check_raises_inside_the_writers_transaction(
    engine: AsyncEngine,
) -> None:
    fence = FenceStore(engine, name="fence-" + secrets.token_hex(4))
    await fence.ensure()
    assert await fence.claim(9, "new")
    sessions = async_sessionmaker(engine)
    async with sessions() as session:
        with pytest.raises(StaleLeader):
            await session.run_sync(lambda sync: fence.check_in(sync, 8))
        await session.run_sync(lambda sync: fence.check_in(sync, 9))


async def test_a_claim_waits_no_longer_than_told_for_a_locked_fence(
    engine: AsyncEngine,
) -> None:
    fence = FenceStore(engine, name="fence-" + secrets.token_hex(4))
    await fence.ensure()
    async with async_sessionmaker(engine)() as old_leader:
        # The old leader's fence check, and then nothing: its commit never comes.
        await old_leader.run_sync(lambda sync: fence.check_in(sync, 0))
        with pytest.raises(FenceUnavailable, match="lock timeout"):
            async with asyncio.timeout(10):  # unbounded, it would wait here for good
                await fence.claim(1, "node-b", wait=0.2)
        await old_leader.rollback()
    assert await fence.claim(1, "node-b", wait=0.2)


async def test_a_leader_frozen_inside_a_fenced_commit_does_not_hold_up_the_takeover(
    pg_url: str, engine: AsyncEngine, redis_url: str, prefix: str
) -> None:
    name = "fence-" + secrets.token_hex(4)
    await FenceStore(engine, name=name).ensure()
    # The old leader's database sessions end after a second idle inside a transaction.
    old_db = Database(pg_url, idle_in_transaction=1.0)
    old_fence = FenceStore(old_db.engine, name=name)
    frozen = old_db.sessions()
    await frozen.run_sync(lambda sync: old_fence.check_in(sync, 0))  # then it freezes
    standby = controller(lease_on(redis_url, prefix), FenceStore(engine, name=name), "node-b")
    await standby.start()
    try:
        await eventually(lambda: standby.is_leader, timeout=10)
        assert await FenceStore(engine, name=name).current() == standby.token
        with pytest.raises(DBAPIError):  # the frozen commit can no longer go through
            await frozen.commit()
    finally:
        await standby.stop()
        with contextlib.suppress(Exception):
            await frozen.close()
        await old_db.engine.dispose()


async def test_standby_takes_over_when_the_leader_stops_and_only_one_leads(
    engine: AsyncEngine, redis_url: str, prefix: str
) -> None:
    fence = FenceStore(engine, name="fence-" + secrets.token_hex(4))
    a_hooks, b_hooks = Hooks(), Hooks()
    a = controller(lease_on(redis_url, prefix), fence, "node-a", a_hooks)
    b = controller(lease_on(redis_url, prefix), fence, "node-b", b_hooks)
    await a.start()
    await eventually(lambda: a.is_leader, timeout=5)
    await b.start()
    try:
        for _ in range(20):  # a few renewal periods: B stays standby, never two leaders
            assert not b.is_leader
            await asyncio.sleep(0.1)
        assert (await b.state())["leader"].startswith("node-a")
        first = a.token
        await a.stop()  # clean shutdown releases the lease: no waiting out the ttl
        await eventually(lambda: b.is_leader, timeout=3)
        assert b.token is not None and first is not None and b.token > first
        assert await fence.current() == b.token
        assert a_hooks.demoted == ["clean shutdown"]
        assert b_hooks.elected == [b.token]
    finally:
        await a.stop()
        await b.stop()


async def test_a_paused_leader_loses_the_lease_and_cannot_write(
    engine: AsyncEngine, redis_url: str, prefix: str
) -> None:
    """SIGSTOP in miniature: the leader's loop stops renewing; a standby takes over; the
    paused leader is no leader in local time, and even if it believed it was, the
    database fence refuses its writes."""
    fence = FenceStore(engine, name="fence-" + secrets.token_hex(4))
    table = await _make_writes_table(engine)
    sessions = async_sessionmaker(engine)
    a = controller(lease_on(redis_url, prefix), fence, "node-a")
    b = controller(lease_on(redis_url, prefix), fence, "node-b")

    async def write(event: Any) -> None:
        async with sessions.begin() as session:
            await session.execute(text(f"INSERT INTO {table} VALUES (:c)"), {"c": event})

    await a.start()
    await eventually(lambda: a.is_leader, timeout=5)
    await b.start()
    try:
        assert a._loop_task is not None
        a._loop_task.cancel()  # "frozen": no more renewals
        loop = asyncio.get_running_loop()
        frozen_at = loop.time()
        await eventually(lambda: b.is_leader, timeout=5)
        takeover = loop.time() - frozen_at
        assert takeover < 3 * a.timing.ttl
        assert not a.is_leader  # its lease ran out in its own clock too
        await a.fenced(write)("from-stale-leader")
        a.valid_until = loop.time() + 60  # a leader whose clock did not notice the pause
        await a.fenced(write)("from-stale-leader")
        await b.fenced(write)("from-new-leader")
        async with engine.connect() as conn:
            rows = (await conn.execute(text(f"SELECT call_id FROM {table}"))).scalars().all()
        assert rows == ["from-new-leader"]
        assert a.refused_writes == 1
    finally:
        await a.stop()
        await b.stop()


async def test_redis_outage_the_leader_keeps_leading_on_the_fence_nobody_else_is_elected(
    engine: AsyncEngine, proxy: CuttableProxy, prefix: str
) -> None:
    fence = FenceStore(engine, name="fence-" + secrets.token_hex(4))
    a = controller(lease_on(proxy.url, prefix), fence, "node-a")
    b = controller(lease_on(proxy.url, prefix), fence, "node-b")
    await a.start()
    await eventually(lambda: a.is_leader, timeout=5)
    await b.start()
    try:
        token = a.token
        proxy.cut()
        await eventually(lambda: not a.redis_ok, timeout=5)
        state = await a.state()
        assert state["status"] == "degraded"
        for _ in range(int(3 * a.timing.ttl / 0.1)):  # three lease lifetimes
            assert a.is_leader
            assert not b.is_leader
            await asyncio.sleep(0.1)
        assert (await b.state())["status"] == "degraded"
        proxy.restore()
        await eventually(lambda: a.redis_ok, timeout=5)
        assert a.is_leader and not b.is_leader
        # The key expired during the outage: the leader re-acquired it with a newer token.
        assert a.token is not None and token is not None and a.token >= token
        assert await fence.current() == a.token
        for _ in range(10):
            assert not b.is_leader
            await asyncio.sleep(0.1)
    finally:
        await a.stop()
        await b.stop()


async def test_redis_outage_a_leader_whose_fence_was_taken_steps_down(
    engine: AsyncEngine, proxy: CuttableProxy, prefix: str
) -> None:
    fence = FenceStore(engine, name="fence-" + secrets.token_hex(4))
    hooks = Hooks()
    a = controller(lease_on(proxy.url, prefix), fence, "node-a", hooks)
    await a.start()
    await eventually(lambda: a.is_leader, timeout=5)
    try:
        proxy.cut()
        await eventually(lambda: not a.redis_ok, timeout=5)
        assert a.token is not None
        assert await fence.claim(a.token + 10, "elsewhere")
        await eventually(lambda: hooks.demoted, timeout=5)
        assert "fence holds token" in hooks.demoted[0]
        assert not a.is_leader
    finally:
        await a.stop()


async def test_after_redis_lost_its_data_the_counter_catches_up_with_the_fence(
    engine: AsyncEngine, redis_url: str, prefix: str
) -> None:
    """A Redis restarted without persistence hands out token 1 again: the fence refuses
    it, the counter is lifted above the fence, and the next round elects a leader."""
    fence = FenceStore(engine, name="fence-" + secrets.token_hex(4))
    await fence.ensure()
    assert await fence.claim(40, "old-leader")
    lease = lease_on(redis_url, prefix)
    a = controller(lease, fence, "node-a")
    await a.start()
    try:
        await eventually(lambda: a.is_leader, timeout=8)
        assert a.token == 41
        assert await fence.current() == 41
    finally:
        await a.stop()
