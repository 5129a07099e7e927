"""RedisBus against the real Redis of this machine (unique key prefix per test)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from cluster_test_support import CuttableProxy, eventually

from bus.base import Message
from bus.redis import RedisBus, RedisSubscription, UnencodableMessage, channel_name

pytestmark = pytest.mark.redis


class Inbox:
    """Collects what one subscription receives."""

    def __init__(self, sub: RedisSubscription) -> None:
        self.sub = sub
        self.items: list[Message] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.sub:
            self.items.append(message)

    async def close(self) -> None:
        await self.sub.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 2)


@pytest.fixture
async def buses(redis_url: str, prefix: str) -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    a = RedisBus(redis_url, prefix=prefix, reconnect_initial=0.05, reconnect_max=0.2)
    b = RedisBus(redis_url, prefix=prefix, reconnect_initial=0.05, reconnect_max=0.2)
    await a.wait_connected(5)
    await b.wait_connected(5)
    yield a, b
    await a.close()
    await b.close()


async def subscribed(bus: RedisBus, prefix: str, topic: str, count: int = 1) -> None:
    """Wait until Redis counts `count` subscribers on the topic's channel."""
    client = aioredis.Redis.from_url(bus.url)
    try:

        async def enough() -> bool:
            numsub = await client.pubsub_numsub(channel_name(prefix, topic))
            return bool(numsub and numsub[0][1] >= count)

        await eventually(enough, timeout=5)
    finally:
        await client.aclose()


async def test_message_published_in_one_process_reaches_the_other(
    buses: tuple[RedisBus, RedisBus], prefix: str
) -> None:
    a, b = buses
    on_a = Inbox(await a.subscribe("user:alice"))
    on_b = Inbox(await b.subscribe("user:alice"))
    await subscribed(b, prefix, "user:alice", 2)

    pop = {"type": "screen_pop", "call_id": "1700000000.1", "site": {"name": "北京站"}}
    await a.publish("user:alice", pop)

    await eventually(lambda: on_b.items)
    await asyncio.sleep(0.2)  # room for a duplicate to show up, if one were coming
    assert on_b.items == [pop]
    # The publisher's own subscriber gets it once: locally, not again from Redis.
    assert on_a.items == [pop]
    await on_a.close()
    await on_b.close()


async def test_topics_and_prefixes_do_not_leak(
    buses: tuple[RedisBus, RedisBus], redis_url: str, prefix: str
) -> None:
    a, b = buses
    other = RedisBus(redis_url, prefix=prefix + "-other")
    try:
        await other.wait_connected(5)
        bob = Inbox(await b.subscribe("user:bob"))
        stranger = Inbox(await other.subscribe("user:alice"))
        alice = Inbox(await b.subscribe("user:alice"))
        await subscribed(b, prefix, "user:alice")
        await subscribed(b, prefix, "user:bob")
        await a.publish("user:alice", {"type": "ringing", "call_id": "c1"})
        await eventually(lambda: alice.items)
        await asyncio.sleep(0.2)
        assert bob.items == []
        assert stranger.items == []
        for inbox in (bob, stranger, alice):
            await inbox.close()
    finally:
        await other.close()


async def test_a_message_that_is_not_json_is_refused_and_nothing_is_sent(
    buses: tuple[RedisBus, RedisBus],
) -> None:
    a, _ = buses
    inbox = Inbox(await a.subscribe("wallboard"))
    with pytest.raises(UnencodableMessage):
        await a.publish("wallboard", {"when": object()})
    await asyncio.sleep(0.05)
    assert inbox.items == []
    await inbox.close()


async def test_closing_the_last_subscription_unsubscribes_on_redis(
    buses: tuple[RedisBus, RedisBus], prefix: str
) -> None:
    _, b = buses
    first = await b.subscribe("supervisors")
    second = await b.subscribe("supervisors")
    await subscribed(b, prefix, "supervisors")
    await first.close()
    client = aioredis.Redis.from_url(b.url)
    try:
        assert (await client.pubsub_numsub(channel_name(prefix, "supervisors")))[0][1] == 1
        await second.close()

        async def gone() -> bool:
            numsub = await client.pubsub_numsub(channel_name(prefix, "supervisors"))
            return numsub[0][1] == 0

        await eventually(gone, timeout=5)
    finally:
        await client.aclose()


async def test_outage_falls_back_to_local_delivery_and_recovers_by_itself(
    proxy: CuttableProxy, redis_url: str, prefix: str
) -> None:
    behind_proxy = RedisBus(proxy.url, prefix=prefix, reconnect_initial=0.05, reconnect_max=0.3)
    direct = RedisBus(redis_url, prefix=prefix)
    try:
        await behind_proxy.wait_connected(5)
        await direct.wait_connected(5)
        local = Inbox(await behind_proxy.subscribe("user:carol"))
        remote = Inbox(await direct.subscribe("user:carol"))
        here = Inbox(await behind_proxy.subscribe("emergency"))
        await subscribed(direct, prefix, "user:carol", 2)
        assert behind_proxy.state()["status"] == "ok"

        proxy.cut()
        await eventually(lambda: behind_proxy.state()["status"] == "degraded", timeout=5)
        during = {"type": "screen_pop", "call_id": "during-outage"}
        await behind_proxy.publish("user:carol", during)
        # Same process: still delivered. Other process: unreachable for now.
        await eventually(lambda: local.items)
        assert local.items == [during]
        state = behind_proxy.state()
        assert state["mode"] == "local_delivery"
        assert state["local_only_messages"] >= 1
        assert "error" in state

        # Messages from other processes published during the outage do not arrive here.
        await direct.publish("emergency", {"type": "mode", "active": True})

        proxy.restore()
        await behind_proxy.wait_connected(10)
        assert behind_proxy.state()["status"] == "ok"
        assert behind_proxy.outages == 1
        # Re-subscribed by itself: both directions work again.
        await subscribed(direct, prefix, "emergency")
        after = {"type": "screen_pop", "call_id": "after-outage"}
        await behind_proxy.publish("user:carol", after)
        await eventually(lambda: after in remote.items)
        await direct.publish("emergency", {"type": "mode", "active": False})
        await eventually(lambda: here.items)
        assert here.items == [{"type": "mode", "active": False}]
        assert during not in remote.items
        for inbox in (local, remote, here):
            await inbox.close()
    finally:
        await behind_proxy.close()
        await direct.close()


async def test_a_bus_that_starts_while_redis_is_down_delivers_locally_then_joins(
    proxy: CuttableProxy, prefix: str, redis_url: str
) -> None:
    proxy.cut()
    bus = RedisBus(proxy.url, prefix=prefix, reconnect_initial=0.05, reconnect_max=0.2)
    direct = RedisBus(redis_url, prefix=prefix)
    try:
        inbox = Inbox(await bus.subscribe("user:dave"))
        await bus.publish("user:dave", {"type": "ringing", "call_id": "x"})
        await eventually(lambda: inbox.items)
        assert bus.state()["status"] == "degraded"
        proxy.restore()
        await bus.wait_connected(10)
        await subscribed(direct, prefix, "user:dave")
        await direct.publish("user:dave", {"type": "call_ended", "call_id": "x"})
        await eventually(lambda: len(inbox.items) == 2)
        await inbox.close()
    finally:
        await bus.close()
        await direct.close()
