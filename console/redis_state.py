"""Console state shared through Redis by every console process (`HOTLINE_REDIS_URL`).

* `SharedLoginAttempts`: failed log-ins per (client address, user name), one record per
  pair under ``<prefix>:console:throttle:<digest>`` that expires when it stops mattering,
  and per user name over every address (the pair ``("*", name)``, the slower back-off).
  The rules are `console.domain.throttle`'s; a read-modify-write under WATCH keeps
  concurrent failures on several processes from overwriting each other. Every process
  also counts its own failures and applies at least that count.
* `SharedPresence`: one hash per console process, ``<prefix>:console:presence:<node>``
  (user name -> role, connections, last heartbeat), written through on every websocket
  event, rewritten and given a fresh time-to-live every ttl/3, removed at a clean stop;
  the node names sit in the sorted set ``<prefix>:console:presence-nodes``. A process that
  dies leaves its consoles listed for one ttl at most.

Redis unreachable: both fall back to this process's own view and log it once; they try
Redis again after `retry_after` seconds (not on every request, which would add a socket
timeout to each log-in). The throttle counts every failure locally too, so the fallback
starts from this process's recent failures: it neither locks everybody out nor lets
unlimited guesses through.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, WatchError

from console.domain.presence import ConsoleSeen, PresenceTable, merge_presence
from console.domain.throttle import (
    ANY_CLIENT,
    USER_POLICY,
    Attempts,
    LoginThrottle,
    ThrottlePolicy,
    after_failure,
    keep_until,
    longer,
    pair_key,
    wait_needed,
)
from console.throttling import LocalSessionActivity

log = logging.getLogger(__name__)

# What a broken Redis link looks like from redis-py (socket errors surface as these).
REDIS_FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


class RedisLink:
    """Whether to ask Redis now: after a failure, not again for `retry_after` seconds.
    Logs the loss and the return once each."""

    def __init__(
        self,
        what: str,
        fallback: str,
        *,
        retry_after: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.fallback = fallback
        self.retry_after = retry_after
        self._monotonic = monotonic
        self._failed_at: float | None = None
        self.last_error: str | None = None

    @property
    def down(self) -> bool:
        return self._failed_at is not None

    def usable(self) -> bool:
        return self._failed_at is None or self._monotonic() - self._failed_at >= self.retry_after

    def failed(self, exc: BaseException) -> None:
        if self._failed_at is None:
            log.warning("%s: Redis unreachable (%r); %s", self.what, exc, self.fallback)
        self._failed_at = self._monotonic()
        self.last_error = f"{type(exc).__name__}: {exc}"[:200]

    def answered(self) -> None:
        if self._failed_at is not None:
            log.warning("%s: Redis reachable again", self.what)
        self._failed_at = None
        self.last_error = None


# --- log-in throttle ----------------------------------------------------------------------


def encode_attempts(attempts: Attempts) -> str:
    return json.dumps(
        {
            "f": [t.timestamp() for t in attempts.failures],
            "l": attempts.locked_until.timestamp() if attempts.locked_until else None,
        },
        separators=(",", ":"),
    )


def decode_attempts(raw: str | bytes | None) -> Attempts | None:
    """The stored attempts, or None for nothing (or anything unreadable) stored."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        failures = tuple(datetime.fromtimestamp(float(t), UTC) for t in data["f"])
        locked = data["l"]
        return Attempts(
            failures, datetime.fromtimestamp(float(locked), UTC) if locked is not None else None
        )
    except (ValueError, TypeError, KeyError, OverflowError):
        log.warning("log-in throttle: unreadable record in Redis ignored")
        return None


class SharedLoginAttempts:
    """`console.ports.LoginAttempts` in Redis, shared by every console process."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str,
        policy: ThrottlePolicy | None = None,
        retry_after: float = 5.0,
        race_budget: float = 2.0,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self.policy = policy or ThrottlePolicy()
        self.user_policy = USER_POLICY
        self._local = LoginThrottle(self.policy, self.user_policy)
        self.race_budget = race_budget  # seconds to win a contended update
        self.link = RedisLink(
            "log-in throttle",
            "counting failed log-ins in this process only",
            retry_after=retry_after,
        )

    def key(self, client: str, username: str) -> str:
        # Hashed: client addresses contain ':' and user names are whatever was typed.
        pair = json.dumps(pair_key(client, username), ensure_ascii=True)
        digest = hashlib.sha256(pair.encode("ascii")).hexdigest()[:32]
        return f"{self._prefix}:console:throttle:{digest}"

    async def wait_needed(self, client: str, username: str, now: datetime) -> timedelta | None:
        # This process's own count is a floor (it is all there is while Redis is away);
        # Redis adds the failures seen by the other processes.
        local = self._local.wait_needed(client, username, now)
        if not self.link.usable():
            return local
        try:
            pair_raw, user_raw = await self._client.mget(
                [self.key(client, username), self.key(ANY_CLIENT, username)]
            )
        except REDIS_FAILURES as exc:
            self.link.failed(exc)
            return local
        self.link.answered()
        shared = longer(
            wait_needed(decode_attempts(pair_raw), now),
            wait_needed(decode_attempts(user_raw), now),
        )
        return longer(local, shared)

    async def failed(self, client: str, username: str, now: datetime) -> None:
        self._local.failed(client, username, now)  # the fallback's memory
        if not self.link.usable():
            return
        try:
            await self._count_failure(self.key(client, username), now, self.policy)
            await self._count_failure(self.key(ANY_CLIENT, username), now, self.user_policy)
        except REDIS_FAILURES as exc:
            self.link.failed(exc)
        else:
            self.link.answered()

    async def succeeded(self, client: str, username: str) -> None:
        self._local.succeeded(client, username)
        if not self.link.usable():
            return
        try:
            await self._client.delete(self.key(client, username))
        except REDIS_FAILURES as exc:
            self.link.failed(exc)
        else:
            self.link.answered()

    async def _count_failure(self, key: str, now: datetime, policy: ThrottlePolicy) -> None:
        deadline = time.monotonic() + self.race_budget
        async with self._client.pipeline(transaction=True) as pipe:
            for race in itertools.count():
                try:
                    await pipe.watch(key)
                    attempts = after_failure(decode_attempts(await pipe.get(key)), now, policy)
                    until = keep_until(attempts, policy)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if until is None or until <= now:
                        pipe.delete(key)
                    else:
                        ttl_ms = max(1, int((until - now).total_seconds() * 1000))
                        pipe.set(key, encode_attempts(attempts), px=ttl_ms)
                    await pipe.execute()
                    return
                except WatchError:
                    # Another process counted a failure meanwhile: read it again, after a
                    # random pause so that a burst of guesses gets counted one by one.
                    if time.monotonic() >= deadline:
                        break
                    await asyncio.sleep(random.uniform(0, min(0.05, 0.001 * 2**race)))
        # A burst too dense to count in time: the local count still applies.
        log.warning("log-in throttle: a failure could not be counted in Redis (contention)")


# --- session activity (idle time-out) ------------------------------------------------------


class SharedSessionActivity:
    """`console.ports.SessionActivity` in Redis: ``<prefix>:console:seen:<nonce>`` holds
    the last use and expires after the idle time-out, so a missing key means idle.

    Redis unreachable: this process's own memory answers (a session this process has not
    seen is then refused as idle, the safe side), Redis is tried again after
    `retry_after` seconds."""

    def __init__(self, client: aioredis.Redis, *, prefix: str, retry_after: float = 5.0) -> None:
        self._client = client
        self._prefix = prefix
        self._local = LocalSessionActivity()
        self.link = RedisLink(
            "session activity", "idle time-outs from this process only", retry_after=retry_after
        )

    def key(self, nonce: str) -> str:
        return f"{self._prefix}:console:seen:{hashlib.sha256(nonce.encode()).hexdigest()[:32]}"

    async def touch(self, nonce: str, at: datetime, idle: timedelta) -> None:
        await self._local.touch(nonce, at, idle)
        if not self.link.usable():
            return
        ttl_ms = max(1, int(idle.total_seconds() * 1000))
        try:
            await self._client.set(self.key(nonce), str(at.timestamp()), px=ttl_ms)
        except REDIS_FAILURES as exc:
            self.link.failed(exc)
        else:
            self.link.answered()

    async def last_seen(self, nonce: str) -> datetime | None:
        local = await self._local.last_seen(nonce)
        if not self.link.usable():
            return local
        try:
            raw = await self._client.get(self.key(nonce))
        except REDIS_FAILURES as exc:
            self.link.failed(exc)
            return local
        self.link.answered()
        try:
            shared = datetime.fromtimestamp(float(raw), UTC) if raw is not None else None
        except (ValueError, OverflowError):
            shared = None
        if local is None or shared is None:
            return local or shared
        return max(local, shared)

    async def forget(self, nonce: str) -> None:
        await self._local.forget(nonce)
        if not self.link.usable():
            return
        try:
            await self._client.delete(self.key(nonce))
        except REDIS_FAILURES as exc:
            self.link.failed(exc)


# --- presence -----------------------------------------------------------------------------


def encode_seen(seen: ConsoleSeen) -> str:
    return json.dumps(
        {"role": seen.role, "connections": seen.connections, "at": seen.last_seen.isoformat()},
        separators=(",", ":"),
    )


def decode_seen(username: str, raw: str | bytes) -> ConsoleSeen | None:
    try:
        data = json.loads(raw)
        return ConsoleSeen(
            username,
            str(data["role"]),
            int(data["connections"]),
            datetime.fromisoformat(str(data["at"])),
        )
    except (ValueError, TypeError, KeyError):
        return None


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class SharedPresence:
    """`console.ports.PresenceBoard` over every console process, through Redis."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str,
        node: str,
        ttl: float = 15.0,
        retry_after: float = 5.0,
    ) -> None:
        if not node or any(c in node for c in "\r\n"):
            raise ValueError("a node name must be one non-empty line")
        self._client = client
        self.node = node
        self.ttl = ttl
        self._hash_prefix = f"{prefix}:console:presence:"
        self._nodes_key = f"{prefix}:console:presence-nodes"
        self._table = PresenceTable()
        self._refresher: asyncio.Task[None] | None = None
        # Writes and rewrites each read the table when they run: serialised, the last one
        # to reach Redis always carries the table as it is (never an older snapshot).
        self._writing = asyncio.Lock()
        self._closed = False
        self.link = RedisLink(
            "console presence",
            "the console list shows this process's consoles only",
            retry_after=retry_after,
        )

    @property
    def _own_key(self) -> str:
        return self._hash_prefix + self.node

    # --- PresenceBoard ------------------------------------------------------------------

    async def connected(self, username: str, role: str, at: datetime) -> None:
        self._table.connected(username, role, at)
        await self._write(username)

    async def heartbeat(self, username: str, at: datetime) -> None:
        self._table.heartbeat(username, at)
        await self._write(username)

    async def disconnected(self, username: str, at: datetime) -> None:
        self._table.disconnected(username, at)
        await self._write(username)

    async def consoles(self) -> list[ConsoleSeen]:
        own = self._table.snapshot()
        if not self.link.usable():
            return own
        try:
            others = await self._read_others()
        except REDIS_FAILURES as exc:
            self.link.failed(exc)
            return own
        self.link.answered()
        # Our own line from memory: it is right even if a write-through was lost.
        return merge_presence([own, *others])

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Keep this process's hash alive (also started by the first websocket event)."""
        if self._closed or (self._refresher is not None and not self._refresher.done()):
            return
        self._refresher = asyncio.get_running_loop().create_task(
            self._refresh_forever(), name="console-presence"
        )

    async def close(self) -> None:
        """Stop refreshing and take this process's consoles off the list at once."""
        self._closed = True
        refresher, self._refresher = self._refresher, None
        if refresher is not None:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
        with contextlib.suppress(*REDIS_FAILURES):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(self._own_key)
                pipe.zrem(self._nodes_key, self.node)
                await pipe.execute()

    # --- internals ----------------------------------------------------------------------

    async def _write(self, username: str) -> None:
        self.start()
        if not self.link.usable():
            return  # the refresher rewrites everything once Redis answers
        try:
            async with self._writing, self._client.pipeline(transaction=True) as pipe:
                seen = self._table.get(username)
                if seen is None:
                    pipe.hdel(self._own_key, username)
                else:
                    pipe.hset(self._own_key, username, encode_seen(seen))
                self._keep_alive(pipe)
                await pipe.execute()
        except REDIS_FAILURES as exc:
            self.link.failed(exc)
        else:
            self.link.answered()

    def _keep_alive(self, pipe: Any) -> None:
        pipe.pexpire(self._own_key, max(1, int(self.ttl * 1000)))
        pipe.zadd(self._nodes_key, {self.node: time.time()})

    async def _rewrite(self) -> None:
        async with self._writing, self._client.pipeline(transaction=True) as pipe:
            snapshot = self._table.snapshot()
            pipe.delete(self._own_key)
            if snapshot:
                pipe.hset(self._own_key, mapping={s.username: encode_seen(s) for s in snapshot})
            self._keep_alive(pipe)
            # Names of processes gone for many lifetimes (a live one refreshes every ttl/3,
            # so clock skew between hosts cannot drop it).
            pipe.zremrangebyscore(self._nodes_key, "-inf", time.time() - 20 * self.ttl)
            await pipe.execute()

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self._rewrite()
            except REDIS_FAILURES as exc:
                self.link.failed(exc)
            else:
                self.link.answered()
            await asyncio.sleep(self.ttl / 3)

    async def _read_others(self) -> list[list[ConsoleSeen]]:
        members: list[Any] = await self._client.zrange(self._nodes_key, 0, -1)
        nodes = [_text(n) for n in members if isinstance(n, str | bytes)]
        nodes = [n for n in nodes if n != self.node]
        if not nodes:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for node in nodes:
                pipe.hgetall(self._hash_prefix + node)
            hashes: list[dict[Any, Any]] = await pipe.execute()
        views: list[list[ConsoleSeen]] = []
        for fields in hashes:  # an expired hash (process gone) reads as empty
            view = [decode_seen(_text(k), v) for k, v in fields.items()]
            views.append([s for s in view if s is not None])
        return views
