"""Redis pub/sub bus: messages published in any process reach subscribers in every process.

Each message is delivered to this process's own subscribers at once (no round trip) and
published on Redis inside a small JSON envelope that names the origin process, so the
copy coming back from Redis is skipped here and delivered everywhere else.

During a Redis outage `publish` keeps delivering locally (a console in the same process
as the leader still gets its screen-pop), `state()` reports ``degraded`` for `/healthz`,
and a background task reconnects with back-off and re-subscribes by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from bus.base import Message
from bus.inprocess import InProcessBus, InProcessSubscription

log = logging.getLogger(__name__)

# What a broken Redis link looks like from redis-py (socket errors surface as these).
REDIS_FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


class BusError(Exception):
    """Root of the bus package's errors."""


class UnencodableMessage(BusError, ValueError):
    """The message cannot travel as JSON."""


def channel_name(prefix: str, topic: str) -> str:
    return f"{prefix}:bus:{topic}"


def encode_envelope(origin: str, message: Message) -> str:
    try:
        return json.dumps({"o": origin, "m": message}, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise UnencodableMessage(f"message is not JSON-able: {exc}") from exc


def decode_envelope(raw: str | bytes) -> tuple[str, Message] | None:
    """(origin, message), or None for anything that is not one of our envelopes."""
    try:
        data = json.loads(raw)
    except (TypeError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("m"), dict):
        return None
    origin = data.get("o")
    return (origin if isinstance(origin, str) else ""), data["m"]


class RedisSubscription:
    """A local subscription that also keeps its topics subscribed on Redis."""

    def __init__(
        self, bus: RedisBus, inner: InProcessSubscription, topics: tuple[str, ...]
    ) -> None:
        self._bus = bus
        self._inner = inner
        self.topics = topics
        self._closed = False

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._inner.__aiter__()

    @property
    def dropped(self) -> int:
        return self._inner.dropped

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._inner.close()
        await self._bus._release(self.topics)


class RedisBus:
    """`bus.base.MessageBus` over Redis pub/sub with local fallback."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "hotline",
        max_pending: int = 1000,
        reconnect_initial: float = 0.2,
        reconnect_max: float = 2.0,
        socket_timeout: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if any(c in prefix for c in "\r\n") or not prefix:
            raise BusError("the Redis key prefix must be one non-empty line")
        self.url = url
        self.prefix = prefix
        self.origin = secrets.token_hex(8)
        self.reconnect_initial = reconnect_initial
        self.reconnect_max = reconnect_max
        self.socket_timeout = socket_timeout
        self._local = InProcessBus(max_pending=max_pending)
        self._redis: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            health_check_interval=0,
        )
        self._pubsub: PubSub | None = None
        self._topics: dict[str, int] = {}  # topic -> local subscriptions needing it
        self._lock = asyncio.Lock()
        self._connected = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._rng = rng or random.Random()
        self._closed = False
        self.last_error: str | None = None
        self.degraded_since: float | None = None
        self.local_only = 0  # messages that could only be delivered in this process
        self.received = 0
        self.outages = 0

    # --- MessageBus -----------------------------------------------------------------------

    async def publish(self, topic: str, message: Message) -> None:
        payload = encode_envelope(self.origin, message)  # refuse bad messages before anything
        await self._local.publish(topic, message)
        if self._reader is None and not self._closed:
            # First use of a publish-only bus: connect rather than go local-only at once.
            self._ensure_reader()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._connected.wait(), self.socket_timeout)
        if not self._connected.is_set():
            self.local_only += 1
            return
        channel = channel_name(self.prefix, topic)
        try:
            await self._redis.publish(channel, payload)
        except REDIS_FAILURES:
            # A pooled connection broken by an earlier outage fails once; a fresh one
            # tells whether Redis itself is gone.
            try:
                await self._redis.publish(channel, payload)
            except REDIS_FAILURES as exc:
                self.local_only += 1
                self._mark_down(exc)

    async def subscribe(self, *topics: str) -> RedisSubscription:
        if self._closed:
            raise BusError("bus closed")
        self._ensure_reader()
        inner = await self._local.subscribe(*topics)
        fresh = [t for t in topics if self._topics.get(t, 0) == 0]
        for topic in topics:
            self._topics[topic] = self._topics.get(topic, 0) + 1
        if fresh:
            # Under the lock: either the reader's (re)subscription already includes these
            # topics, or it has finished and we subscribe them here. Never neither.
            async with self._lock:
                pubsub = self._pubsub
                if pubsub is not None and self._connected.is_set():
                    try:
                        await pubsub.subscribe(*(channel_name(self.prefix, t) for t in fresh))
                    except REDIS_FAILURES as exc:
                        # The reader re-subscribes every needed topic when it reconnects.
                        self._mark_down(exc)
        return RedisSubscription(self, inner, topics)

    async def close(self) -> None:
        self._closed = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, *REDIS_FAILURES):
                await reader
        await self._drop_pubsub()
        await self._local.close()
        with contextlib.suppress(*REDIS_FAILURES):
            await self._redis.aclose()

    # --- state ------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def state(self) -> Mapping[str, Any]:
        """The `redis` entry of `/healthz`."""
        body: dict[str, Any] = {
            "status": "ok" if self.connected else "degraded",
            "mode": "redis" if self.connected else "local_delivery",
            "local_only_messages": self.local_only,
            "outages": self.outages,
        }
        if self.degraded_since is not None:
            body["degraded_for_s"] = round(time.monotonic() - self.degraded_since, 1)
        if self.last_error and not self.connected:
            body["error"] = self.last_error
        return body

    async def start(self, timeout: float = 2.0) -> None:
        """Open the link now (not at first use), so `state()` describes it from the start;
        returns after `timeout` at most, connected or not (it keeps trying)."""
        with contextlib.suppress(TimeoutError):
            await self.wait_connected(timeout)

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Start the link if needed and wait until Redis delivery works."""
        self._ensure_reader()
        await asyncio.wait_for(self._connected.wait(), timeout)

    def subscriber_count(self, topic: str) -> int:
        return self._local.subscriber_count(topic)

    # --- internals ----------------------------------------------------------------------------

    async def _release(self, topics: tuple[str, ...]) -> None:
        gone: list[str] = []
        for topic in topics:
            left = self._topics.get(topic, 0) - 1
            if left <= 0:
                self._topics.pop(topic, None)
                gone.append(topic)
            else:
                self._topics[topic] = left
        if gone and self._connected.is_set() and not self._closed:
            async with self._lock:
                gone = [t for t in gone if t not in self._topics]  # re-subscribed meanwhile
                if self._pubsub is not None and gone:
                    try:
                        await self._pubsub.unsubscribe(
                            *(channel_name(self.prefix, t) for t in gone)
                        )
                    except REDIS_FAILURES as exc:
                        self._mark_down(exc)

    def _ensure_reader(self) -> None:
        if self._closed:
            return
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(
                self._run(), name="redis-bus-reader"
            )

    def _mark_down(self, exc: BaseException) -> None:
        if self._connected.is_set():
            self.outages += 1
            self.degraded_since = time.monotonic()
            log.warning("Redis bus %s lost (%s): delivering locally only", self.prefix, exc)
        if self.degraded_since is None:
            self.degraded_since = time.monotonic()
        self._connected.clear()
        self.last_error = f"{type(exc).__name__}: {exc}"[:200]

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(*REDIS_FAILURES, AttributeError):
                await pubsub.aclose()

    async def _run(self) -> None:
        delay = self.reconnect_initial
        while not self._closed:
            try:
                await self._session()
                delay = self.reconnect_initial
            except asyncio.CancelledError:
                raise
            except REDIS_FAILURES as exc:
                self._mark_down(exc)
            finally:
                self._connected.clear()
                await self._drop_pubsub()
            wait = delay * (0.5 + self._rng.random() / 2)
            log.info("Redis bus: reconnecting in %.2f s", wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, self.reconnect_max)

    async def _session(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._pubsub = pubsub
        async with self._lock:
            # A dedicated ping channel keeps the connection subscribed even with no topics.
            await pubsub.subscribe(
                channel_name(self.prefix, "_link"),
                *(channel_name(self.prefix, t) for t in self._topics),
            )
            await self._redis.ping()
            was_down = self.degraded_since is not None
            self.degraded_since = None
            self.last_error = None
            self._connected.set()
        if was_down:
            log.warning("Redis bus %s restored: cross-process delivery again", self.prefix)
        else:
            log.info("Redis bus %s connected", self.prefix)
        cut = len(self.prefix) + len(":bus:")
        last_probe = time.monotonic()
        while True:
            if not self._connected.is_set():
                # A publish saw the link fail: start over with a fresh connection.
                raise ConnectionError(self.last_error or "Redis link lost")
            raw = await pubsub.get_message(timeout=1.0)
            now = time.monotonic()
            if raw is None:
                if now - last_probe >= 2.0:
                    # An idle link that died silently must not look healthy.
                    last_probe = now
                    await self._redis.ping()
                continue
            if raw.get("type") != "message":
                continue
            channel = raw["channel"]
            topic = (channel.decode() if isinstance(channel, bytes) else str(channel))[cut:]
            decoded = decode_envelope(raw["data"])
            if decoded is None:
                log.warning("Redis bus: unreadable message on %s dropped", topic)
                continue
            origin, message = decoded
            if origin == self.origin:
                continue  # already delivered locally when published
            self.received += 1
            await self._local.publish(topic, message)
