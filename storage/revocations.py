"""`console.ports.SessionRevocations` on SQLAlchemy: logged-out console sessions in the
database every console process shares, so a log-out holds on all of them and across
restarts. A row lives until its token would have expired anyway."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.database import Database
from storage.errors import store_errors
from storage.models import ConsoleRevocationRow


class RevocationRepository:
    """Implements `console.ports.SessionRevocations`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def revoke(
        self, nonce: str, username: str, expires_at: datetime, *, now: datetime
    ) -> None:
        insert = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        # Idempotent: the same session logged out twice (two tabs, a retried request).
        stmt = (
            insert(ConsoleRevocationRow)
            .values(nonce=nonce, username=username, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=[ConsoleRevocationRow.nonce])
        )
        with store_errors():
            async with self.db.sessions.begin() as session:
                # Log-outs are rare: pruning here keeps the table to the live tokens.
                await session.execute(
                    delete(ConsoleRevocationRow).where(ConsoleRevocationRow.expires_at <= now)
                )
                await session.execute(stmt)

    async def is_revoked(self, nonce: str) -> bool:
        with store_errors():
            async with self.db.reads() as session:
                found = await session.scalar(
                    select(ConsoleRevocationRow.nonce).where(ConsoleRevocationRow.nonce == nonce)
                )
        return found is not None

    async def revoked_among(self, nonces: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with store_errors():
            async with self.db.reads() as session:
                for start in range(0, len(nonces), 500):  # under SQLite's parameter limit
                    chunk = list(nonces[start : start + 500])
                    rows = await session.scalars(
                        select(ConsoleRevocationRow.nonce).where(
                            ConsoleRevocationRow.nonce.in_(chunk)
                        )
                    )
                    found.update(rows)
        return found
