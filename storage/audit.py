"""`console.ports.AccessAudit` on SQLAlchemy: the `access_audit` table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from routing.domain.audit import AuditEntry, AuditFilter
from storage.database import Database
from storage.errors import store_errors
from storage.models import AccessAuditRow


class AuditRepository:
    """Implements `console.ports.AccessAudit`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, entry: AuditEntry) -> None:
        with store_errors():
            async with self.db.sessions.begin() as session:
                session.add(
                    AccessAuditRow(
                        at=entry.at,
                        actor=entry.actor[:64],
                        action=entry.action[:40],
                        client=entry.client[:64],
                        detail=dict(entry.detail),
                    )
                )

    async def entries(self, query: AuditFilter) -> list[AuditEntry]:
        stmt = select(AccessAuditRow)
        if query.actor is not None:
            stmt = stmt.where(AccessAuditRow.actor == query.actor)
        if query.action is not None:
            stmt = stmt.where(AccessAuditRow.action == query.action)
        if query.since is not None:
            stmt = stmt.where(AccessAuditRow.at >= query.since)
        stmt = stmt.order_by(AccessAuditRow.at.desc(), AccessAuditRow.id.desc()).limit(query.limit)
        with store_errors():
            async with self.db.reads() as session:
                rows = (await session.scalars(stmt)).all()
        return [
            AuditEntry(row.at, row.actor, row.action, row.client, dict(row.detail or {}))
            for row in rows
        ]

    async def prune(self, before: datetime) -> int:
        with store_errors():
            async with self.db.sessions.begin() as session:
                result = await session.execute(
                    delete(AccessAuditRow).where(AccessAuditRow.at < before)
                )
        return int(getattr(result, "rowcount", 0) or 0)
