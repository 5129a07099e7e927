"""SQLite statements make one trip to aiosqlite's thread each (a trip costs the awaiting
task a turn of a saturated event loop), and still behave as the DBAPI says: rows,
RETURNING, rowcount, lastrowid, executemany, and errors as SQLAlchemy's exceptions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage.database import Database


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'trips.db'}")
    async with db.sessions() as session, session.begin():
        await session.execute(
            text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)")
        )
    yield db
    await db.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every function run on an aiosqlite thread, by name."""
    seen: list[str] = []
    run = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await run(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


async def test_a_statement_is_one_trip(sqlite: Database, trips: list[str]) -> None:
    async with sqlite.sessions() as session, session.begin():
        await session.execute(text("INSERT INTO t (name) VALUES ('a'), ('b')"))
        trips.clear()
        rows = (await session.execute(text("SELECT name FROM t ORDER BY name"))).all()
        assert [r.name for r in rows] == ["a", "b"]
        assert len(trips) == 1
        trips.clear()
        inserted = await session.execute(
            text("INSERT INTO t (name) VALUES (:n) RETURNING id, name"), {"n": "c"}
        )
        assert inserted.one().name == "c"
        updated = await session.execute(text("UPDATE t SET name = name || '!'"))
        assert updated.rowcount == 3  # type: ignore[attr-defined]
        assert len(trips) == 2


async def test_executemany_lastrowid_and_errors(sqlite: Database) -> None:
    async with sqlite.sessions() as session, session.begin():
        await session.execute(
            text("INSERT INTO t (name) VALUES (:n)"), [{"n": f"x{i}"} for i in range(50)]
        )
        result = await session.execute(text("INSERT INTO t (name) VALUES ('last')"))
        assert result.lastrowid == 51  # type: ignore[attr-defined]
    async with sqlite.reads() as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 51
    with pytest.raises(IntegrityError):
        async with sqlite.sessions() as session, session.begin():
            await session.execute(text("INSERT INTO t (name) VALUES ('x1')"))
    async with sqlite.reads() as session:  # the failed transaction left nothing behind
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 51
