from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from fallback.health import DatabaseWriteProbe
from storage.database import Database, async_url, sync_url
from storage.fence import FenceStore
from storage.health_probe import HealthProbeTable
from storage.migrate import current, downgrade, upgrade
from storage.models import STORAGE_TABLES, SUPERVISION_TABLES, Base
from testkit.scratch_db import create_scratch_postgres, drop_scratch_postgres, postgres_available

HEAD = "0009"
# Created by migration 0002 for their owners (supervision, the controller fence, the write probe).
OWNER_TABLES = {
    "supervision_steps",
    "supervision_notices",
    "supervision_pauses",
    "controller_fence",
    "health_probe",
}


def _schema_diff(url: str, tables: frozenset[str] | set[str] = STORAGE_TABLES) -> list[object]:
    def wanted(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return table is None or table.name in tables

    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_name": lambda name, type_, _parents: (
                        type_ != "table" or name in tables
                    ),
                    "include_object": wanted,
                },
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_url_conversion() -> None:
    assert async_url("sqlite:///./hotline.db") == "sqlite+aiosqlite:///./hotline.db"
    assert async_url("postgresql://u:p@h:5432/d") == "postgresql+asyncpg://u:p@h:5432/d"
    assert sync_url("postgresql+asyncpg://u@h/d") == "postgresql+psycopg://u@h/d"


def test_sqlite_migrations_match_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    assert current(url) == HEAD
    assert _schema_diff(url) == []
    downgrade(url, "base")
    engine = create_engine(sync_url(url))
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(url)  # and back up again
    assert current(url) == HEAD


@pytest.mark.postgres
def test_postgres_migrations_match_models() -> None:
    if not postgres_available():
        pytest.skip("PostgreSQL not reachable")
    url = create_scratch_postgres(prefix="hl_mig")
    try:
        upgrade(url)
        assert current(url) == HEAD
        assert _schema_diff(url) == []
        downgrade(url, "base")
        assert current(url) is None
    finally:
        drop_scratch_postgres(url)


def test_owner_tables_come_from_the_migrations(tmp_path: Path) -> None:
    """`hotline db upgrade` creates the supervision, fencing and health-probe tables, as
    their owners' models and SQL expect them."""
    url = f"sqlite:///{tmp_path / 'o.db'}"
    upgrade(url)
    assert OWNER_TABLES <= _tables(url)
    names = {t.name for t in SUPERVISION_TABLES}
    assert names < OWNER_TABLES
    assert _schema_diff(url, names) == []
    downgrade(url, "0001")
    assert not OWNER_TABLES & _tables(url)


def _make_owner_tables_as_before_0002(url: str) -> None:
    """What a running hotline created by itself before migration 0002 existed."""
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            Base.metadata.create_all(conn, tables=list(SUPERVISION_TABLES), checkfirst=True)
            conn.execute(
                text(
                    "CREATE TABLE controller_fence (name VARCHAR(64) PRIMARY KEY,"
                    " token BIGINT NOT NULL, holder VARCHAR(200) NOT NULL,"
                    " claimed_at VARCHAR(40) NOT NULL)"
                )
            )
            conn.execute(
                text(
                    "CREATE TABLE health_probe (node VARCHAR(200) PRIMARY KEY,"
                    " token VARCHAR(64) NOT NULL, written_at VARCHAR(40) NOT NULL)"
                )
            )
    finally:
        engine.dispose()


async def test_owners_work_on_a_migrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    db = Database(url)
    try:
        fence = FenceStore(db.engine)
        await fence.ensure()
        assert await fence.claim(3, "node-a") and await fence.current() == 3
        assert (
            await DatabaseWriteProbe(HealthProbeTable(db.engine), node="n1").check()
            == "write/read ok"
        )
    finally:
        await db.dispose()


async def test_databases_whose_owners_made_the_tables_upgrade_cleanly(tmp_path: Path) -> None:
    """Before 0002 a running hotline created these tables itself: the upgrade keeps them."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    _make_owner_tables_as_before_0002(url)
    db = Database(url)
    try:
        fence = FenceStore(db.engine)
        await fence.ensure()
        assert await fence.claim(7, "old-leader")
        assert (
            await DatabaseWriteProbe(HealthProbeTable(db.engine), node="n1").check()
            == "write/read ok"
        )
    finally:
        await db.dispose()
    upgrade(url)
    assert current(url) == HEAD
    db = Database(url)
    try:
        assert await FenceStore(db.engine).current() == 7  # the fence survived
    finally:
        await db.dispose()
