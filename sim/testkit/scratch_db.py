"""Scratch databases for tests and benchmarks: a fresh SQLite file or a fresh, uniquely
named PostgreSQL database that is dropped afterwards (never a shared, dirty one).

Migrating costs about a second per database: a test session migrates (and fills) a
template once and gives each test its own copy, a SQLite file copied with the backup API
or a PostgreSQL database created from the template (`copy_sqlite`,
`create_postgres_from_template`).

`HOTLINE_TEST_PG_URL` points at the server's maintenance database
(default `postgresql://postgres@127.0.0.1:5432/test`).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from storage.database import Database
from storage.models import Base

DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def pg_admin_url() -> str:
    return os.environ.get("HOTLINE_TEST_PG_URL", DEFAULT_PG_ADMIN_URL)


def _libpq(url: str) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def postgres_available(admin_url: str | None = None) -> bool:
    try:
        with psycopg.connect(_libpq(admin_url or pg_admin_url()), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def create_scratch_postgres(admin_url: str | None = None, prefix: str = "hotline_test") -> str:
    """Create an empty database with a unique name; returns its URL (synchronous)."""
    admin = admin_url or pg_admin_url()
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


def drop_scratch_postgres(url: str, admin_url: str | None = None) -> None:
    name = make_url(url).database
    if not name:
        return
    with psycopg.connect(_libpq(admin_url or pg_admin_url()), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def scratch_sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / ('hotline-' + secrets.token_hex(4) + '.db')}"


def sqlite_path(url: str) -> Path:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        raise ValueError(f"not a SQLite file URL: {url}")
    return Path(parsed.database)


def copy_sqlite(template_url: str, directory: Path) -> str:
    """A new SQLite file in `directory` holding everything the template holds; its URL.
    The backup API copies a consistent snapshot whatever the template's journal mode."""
    url = scratch_sqlite_url(directory)
    source = sqlite3.connect(sqlite_path(template_url))
    target = sqlite3.connect(sqlite_path(url))
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return url


def create_postgres_from_template(
    template_url: str, admin_url: str | None = None, prefix: str = "hotline_test"
) -> str:
    """A new, uniquely named database copied from the database at `template_url` (which
    nobody may be connected to meanwhile); returns its URL (synchronous)."""
    template = make_url(template_url).database
    if not template:
        raise ValueError(f"no database named in {template_url}")
    admin = admin_url or pg_admin_url()
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(name), sql.Identifier(template)
    )
    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        conn.execute(statement)
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


async def empty_all_tables(db: Database) -> None:
    """Remove every row (history triggers fire on DELETE, not on TRUNCATE)."""
    if db.dialect != "postgresql":
        raise ValueError("use a fresh SQLite file instead of emptying one")
    async with db.engine.begin() as conn:
        existing = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name in existing]
        if tables:
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@contextmanager
def migrated_scratch_postgres(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database whose schema comes from the migrations; dropped after."""
    from storage.migrate import upgrade

    url = create_scratch_postgres(prefix=prefix)
    try:
        upgrade(url)
        yield url
    finally:
        drop_scratch_postgres(url)


async def create_tables(database: Database) -> None:
    """Every table straight from the models, for a throw-away test database. The product
    makes its schema only with the Alembic migrations (`hotline db upgrade`)."""
    from storage.models import Base

    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


@asynccontextmanager
async def fresh_database(kind: str, tmp_path: Path, pg_url: str | None) -> AsyncIterator[Database]:
    """A clean database for one test: a new SQLite file, or the session's PostgreSQL
    database emptied."""
    if kind == "sqlite":
        database = Database(scratch_sqlite_url(tmp_path))
        await create_tables(database)
    else:
        assert pg_url is not None
        database = Database(pg_url)
        await empty_all_tables(database)
    try:
        yield database
    finally:
        await database.dispose()
