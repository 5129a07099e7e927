"""Writing the access audit trail from the console, and an in-memory trail.

`AuditLog.record` never fails the action it describes: emergency mode must be
switchable while the database is down, exactly when the audit table cannot be written.
An entry that cannot be stored is written to the log instead (logger `console.audit`),
so it is not lost. Entries older than the retention are pruned at most once an hour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from console.ports import AccessAudit
from routing.domain.audit import AuditEntry, AuditFilter

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)


class InMemoryAudit:
    """`console.ports.AccessAudit` in a list: tests and throw-away consoles."""

    def __init__(self) -> None:
        self.items: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self.items.append(entry)

    async def entries(self, query: AuditFilter) -> list[AuditEntry]:
        found = [
            e
            for e in self.items
            if (query.actor is None or e.actor == query.actor)
            and (query.action is None or e.action == query.action)
            and (query.since is None or e.at >= query.since)
        ]
        found.sort(key=lambda e: e.at, reverse=True)
        return found[: query.limit]

    async def prune(self, before: datetime) -> int:
        kept = [e for e in self.items if e.at >= before]
        gone = len(self.items) - len(kept)
        self.items = kept
        return gone


class AuditLog:
    """Records entries in `store`, keeping `retention` of them (None = keep all)."""

    def __init__(
        self,
        store: AccessAudit,
        *,
        clock: Callable[[], datetime],
        retention: timedelta | None = None,
    ) -> None:
        self.store = store
        self._clock = clock
        self.retention = retention
        self._pruned_at: datetime | None = None

    async def record(
        self, action: str, *, actor: str, client: str, detail: Mapping[str, Any] | None = None
    ) -> None:
        now = self._clock()
        entry = AuditEntry(now, actor[:64], action, client[:64], dict(detail or {}))
        try:
            await self.store.record(entry)
        except Exception as exc:  # the action stands; the log keeps the entry
            log.error("audit entry not stored (%s): %s", exc, entry.as_json())
            return
        await self._prune(now)

    async def _prune(self, now: datetime) -> None:
        if self.retention is None:
            return
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        try:
            gone = await self.store.prune(now - self.retention)
        except Exception as exc:
            log.warning("audit pruning failed: %s", exc)
            return
        if gone:
            log.info("audit: %d entries older than %s pruned", gone, self.retention)
