"""The write probe's table (`fallback.ports.ProbeTable`): `health_probe`, one row per
node, made by Alembic migration 0002."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from storage.group_commit import GroupCommit

# Replace the node's row and read it back, in one statement.
_WRITE_AND_READ = text(
    "INSERT INTO health_probe (node, token, written_at) VALUES (:node, :token, :at)"
    " ON CONFLICT (node) DO UPDATE SET token = excluded.token,"
    " written_at = excluded.written_at RETURNING token"
)


class HealthProbeTable:
    """Each node replaces its own row and reads it back in one transaction.

    With `commits` (the call events' group commit) the probe is written by the same
    writer as the calls, in a transaction of its own that goes ahead of every batch
    waiting: under a storm it proves the writer commits, and waits for no more than the
    batch being written (SQLite has one writer connection, which the batches would
    otherwise hold from one to the next)."""

    def __init__(self, engine: AsyncEngine, commits: GroupCommit | None = None) -> None:
        self.engine = engine
        self.commits = commits

    async def write_and_read(self, node: str, token: str, at: datetime) -> str | None:
        params = {"node": node, "token": token, "at": at.isoformat()}
        if self.commits is not None:

            async def job(session: AsyncSession) -> Any:
                return (await session.execute(_WRITE_AND_READ, params)).scalar_one_or_none()

            value = await self.commits.run(job, ahead=True)
        else:
            async with self.engine.begin() as conn:
                value = (await conn.execute(_WRITE_AND_READ, params)).scalar_one_or_none()
        return str(value) if value is not None else None
