"""PostgreSQL connections are pinged only after sitting idle: a connection the server
dropped meanwhile is replaced before a write uses it, and one in steady use costs no
round trip."""

from __future__ import annotations

import pytest
from cluster_test_support import CuttableProxy
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from routing.errors import StoreUnavailable
from storage.database import Database
from storage.errors import store_errors

pytestmark = pytest.mark.postgres


async def dropped_by_the_server(url: str) -> None:
    """Every other connection to the database ends, as after a server restart."""
    admin = Database(url)
    try:
        async with admin.engine.begin() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await admin.dispose()


async def write(db: Database) -> None:
    with store_errors():
        async with db.sessions.begin() as session:
            await session.execute(text("SELECT 1"))


async def test_an_idle_connection_the_server_dropped_is_replaced(pg_url: str) -> None:
    db = Database(pg_url, write_pool=1, ping_after_idle=0.0)  # every reuse counts as idle
    try:
        await write(db)
        await dropped_by_the_server(pg_url)
        await write(db)  # pinged at checkout, found dead, replaced
    finally:
        await db.dispose()


async def test_a_connection_in_steady_use_is_not_pinged(pg_url: str) -> None:
    db = Database(pg_url, write_pool=1, ping_after_idle=3600.0)
    try:
        await write(db)
        await dropped_by_the_server(pg_url)
        with pytest.raises((StoreUnavailable, DBAPIError)):
            await write(db)  # no ping: the dead connection is found by the write itself
    finally:
        await db.dispose()


async def read(db: Database) -> None:
    with store_errors():
        async with db.reads() as session:
            await session.execute(text("SELECT 1"))


async def test_an_outage_one_pool_saw_is_not_handed_out_by_the_other(pg_url: str) -> None:
    """The write pool finds the database gone; the read pool's connection, pooled before
    and idle only for a moment, died in the same outage and must not reach a reader."""
    proxy = CuttableProxy(upstream_port=make_url(pg_url).port or 5432)
    await proxy.start()
    cut_url = make_url(pg_url).set(port=proxy.port).render_as_string(hide_password=False)
    db = Database(cut_url, write_pool=1, read_pool=1, ping_after_idle=3600.0)
    try:
        await write(db)
        await read(db)
        proxy.cut()
        with pytest.raises(StoreUnavailable):
            await write(db)
        proxy.restore()
        await read(db)  # pinged at checkout, found dead, replaced
        await write(db)
    finally:
        await db.dispose()
        await proxy.stop()


async def test_a_read_costs_no_transaction(pg_url: str) -> None:
    """Reads run in autocommit: no BEGIN before a read and no ROLLBACK after it, so each
    statement is its own transaction (the same snapshot READ COMMITTED gives it)."""
    db = Database(pg_url, read_pool=1)
    try:
        async with db.reads() as session:
            first = await session.scalar(text("SELECT txid_current()"))
            second = await session.scalar(text("SELECT txid_current()"))
        assert first != second  # one transaction per statement, none held between them
    finally:
        await db.dispose()
