"""Logged-out console sessions in the database (SQLite file and PostgreSQL server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from console.ports import SessionRevocations
from routing.errors import StoreUnavailable
from storage.database import Database
from storage.models import ConsoleRevocationRow
from storage.revocations import RevocationRepository

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


async def rows(db: Database) -> list[str]:
    async with db.reads() as session:
        found = await session.scalars(
            select(ConsoleRevocationRow.nonce).order_by(ConsoleRevocationRow.nonce)
        )
        return list(found)


async def test_a_revoked_nonce_is_known_to_every_repository(db: Database) -> None:
    store: SessionRevocations = RevocationRepository(db)
    await store.revoke("a" * 32, "alice", T0 + timedelta(hours=12), now=T0)
    # Another process: its own engine on the same database.
    other = Database(db.url)
    try:
        assert await RevocationRepository(other).is_revoked("a" * 32)
        assert not await RevocationRepository(other).is_revoked("b" * 32)
    finally:
        await other.dispose()


async def test_the_revoked_among_many_are_found_in_one_read(db: Database) -> None:
    store = RevocationRepository(db)
    for n in range(0, 1200, 7):  # more than one slice of the IN list
        await store.revoke(f"n{n:04d}", "alice", T0 + timedelta(hours=1), now=T0)
    asked = [f"n{n:04d}" for n in range(1200)]
    assert await store.revoked_among(asked) == {f"n{n:04d}" for n in range(0, 1200, 7)}
    assert await store.revoked_among(["nobody"]) == set()
    assert await store.revoked_among([]) == set()


async def test_revoking_twice_is_harmless(db: Database) -> None:
    store = RevocationRepository(db)
    expires = T0 + timedelta(hours=1)
    await store.revoke("n1", "alice", expires, now=T0)
    await store.revoke("n1", "alice", expires, now=T0 + timedelta(minutes=1))
    assert await rows(db) == ["n1"]
    async with db.reads() as session:
        row = await session.get(ConsoleRevocationRow, "n1")
    assert row is not None and row.username == "alice" and row.expires_at == expires


async def test_rows_of_expired_tokens_are_pruned(db: Database) -> None:
    store = RevocationRepository(db)
    await store.revoke("early", "alice", T0 + timedelta(minutes=10), now=T0)
    await store.revoke("late", "bob", T0 + timedelta(hours=10), now=T0)
    await store.revoke("later", "sue", T0 + timedelta(hours=11), now=T0 + timedelta(minutes=10))
    assert await rows(db) == ["late", "later"]  # "early" expired at the third log-out
    async with db.reads() as session:
        assert await session.scalar(select(func.count()).select_from(ConsoleRevocationRow)) == 2


async def test_an_unreachable_database_is_store_unavailable() -> None:
    db = Database("postgresql://postgres@127.0.0.1:1/x", connect_timeout=0.5)
    store = RevocationRepository(db)
    try:
        with pytest.raises(StoreUnavailable):
            await store.is_revoked("n1")
        with pytest.raises(StoreUnavailable):
            await store.revoked_among(["n1"])
        with pytest.raises(StoreUnavailable):
            await store.revoke("n1", "alice", T0 + timedelta(hours=1), now=T0)
    finally:
        await db.dispose()
