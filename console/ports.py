"""What the console keeps outside one process, so that several console processes behind
nginx (and a restarted one) agree: log-outs, failed log-ins, open consoles.

Adapters: `storage.revocations.RevocationRepository` (the shared database),
`console.redis_state` (Redis, when `HOTLINE_REDIS_URL` is set); in one process:
`console.revocations.InMemoryRevocations`, `console.throttling.LocalLoginAttempts`,
`console.presence.ConsolePresence`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from console.domain.presence import ConsoleSeen
from routing.domain.audit import AuditEntry, AuditFilter


class SessionRevocations(Protocol):
    """Logged-out sessions, by the nonce of their token.

    Raises `routing.errors.StoreUnavailable` when the store cannot be reached (as the
    user lookup does), never answers "not revoked" instead.
    """

    async def revoke(
        self, nonce: str, username: str, expires_at: datetime, *, now: datetime
    ) -> None:
        """Refuse the token with this nonce until `expires_at` (idempotent); records of
        tokens expired by `now` are dropped on the way."""
        ...

    async def is_revoked(self, nonce: str) -> bool: ...

    async def revoked_among(self, nonces: Sequence[str]) -> set[str]:
        """Those of `nonces` that were logged out, in one read."""
        ...


class LoginAttempts(Protocol):
    """Where failed log-ins are counted, by (client address, user name); the rules are
    `console.domain.throttle`."""

    async def wait_needed(self, client: str, username: str, now: datetime) -> timedelta | None:
        """How long this pair must still wait, or None when it may try."""
        ...

    async def failed(self, client: str, username: str, now: datetime) -> None: ...

    async def succeeded(self, client: str, username: str) -> None: ...


class PresenceBoard(Protocol):
    """Which consoles are open and when each last sent a heartbeat. The websocket
    endpoint feeds it; the supervisor's console list (`GET /api/consoles`) reads it."""

    async def connected(self, username: str, role: str, at: datetime) -> None: ...

    async def heartbeat(self, username: str, at: datetime) -> None: ...

    async def disconnected(self, username: str, at: datetime) -> None: ...

    async def consoles(self) -> list[ConsoleSeen]:
        """Every open console, one line per user, sorted by user name."""
        ...


class AccessAudit(Protocol):
    """The stored audit trail (`storage.audit.AuditRepository`; `console.audit.InMemoryAudit`
    for throw-away consoles). Raises `routing.errors.StoreUnavailable` when unreachable."""

    async def record(self, entry: AuditEntry) -> None: ...

    async def entries(self, query: AuditFilter) -> list[AuditEntry]:
        """Matching entries, newest first, at most `query.limit`."""
        ...

    async def prune(self, before: datetime) -> int:
        """Drop entries older than `before`; how many went."""
        ...


class SessionActivity(Protocol):
    """When each session (by token nonce) was last used, for the idle time-out.

    `console.throttling.LocalSessionActivity` in one process; shared through Redis
    (`console.redis_state.SharedSessionActivity`) by several."""

    async def touch(self, nonce: str, at: datetime, idle: timedelta) -> None:
        """The session was used at `at`; forget it once idle for `idle`."""
        ...

    async def last_seen(self, nonce: str) -> datetime | None:
        """When it was last used, or None when unknown (never seen, or idle too long)."""
        ...

    async def forget(self, nonce: str) -> None: ...
