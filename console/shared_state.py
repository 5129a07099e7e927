"""What the console keeps beyond one process, as `hotline serve` builds it.

Log-outs always go to the given revocation store (the database in `hotline serve`:
shared by every process, kept across restarts). With `HOTLINE_REDIS_URL` the log-in
throttle, the sessions' last use (idle time-out) and the list of open consoles are
shared through Redis too; without it one
process is all there is and they stay in memory.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis

from console.ports import LoginAttempts, PresenceBoard, SessionActivity, SessionRevocations
from console.presence import ConsolePresence
from console.redis_state import (
    REDIS_FAILURES,
    SharedLoginAttempts,
    SharedPresence,
    SharedSessionActivity,
)
from console.throttling import LocalLoginAttempts, LocalSessionActivity

# A log-in or a websocket event must not wait long on a Redis that stopped answering:
# the fallback to this process's own view is better than a hung page.
REDIS_TIMEOUT = 1.0


@dataclass
class ConsoleState:
    """The console's log-out store, log-in throttle and presence board, and the Redis
    client behind the last two when they are shared."""

    revocations: SessionRevocations
    login_attempts: LoginAttempts
    presence: PresenceBoard
    activity: SessionActivity
    redis: aioredis.Redis | None = None
    shared_presence: SharedPresence | None = None

    @classmethod
    def build(
        cls,
        revocations: SessionRevocations,
        *,
        redis_url: str | None,
        redis_prefix: str,
        node: str,
    ) -> ConsoleState:
        """Shared through Redis at `redis_url` (keys under `redis_prefix`, this process
        named `node` in the presence board), or kept in this process without it."""
        if not redis_url:
            return cls(revocations, LocalLoginAttempts(), ConsolePresence(), LocalSessionActivity())
        client = aioredis.Redis.from_url(
            redis_url,
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
        )
        presence = SharedPresence(client, prefix=redis_prefix, node=node)
        attempts = SharedLoginAttempts(client, prefix=redis_prefix)
        activity = SharedSessionActivity(client, prefix=redis_prefix)
        return cls(revocations, attempts, presence, activity, client, presence)

    async def heartbeats_by_source(self) -> dict[str, datetime]:
        """Last heartbeat of every open console, on any process, keyed as console/ws.py
        reports them to the health watch ("console:<user>")."""
        return {f"console:{s.username}": s.last_seen for s in await self.presence.consoles()}

    async def close(self) -> None:
        if self.shared_presence is not None:
            await self.shared_presence.close()
        if self.redis is not None:
            with contextlib.suppress(*REDIS_FAILURES):
                await self.redis.aclose()
