"""Database wiring: one `Database` per process, built by the composition root from the URL.

No module-level engine. SQLite runs through aiosqlite (one trip to its thread per
statement, `storage.sqlite_driver`), PostgreSQL through asyncpg, so no query ever blocks
the event loop.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import delete, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as SATimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from calls.clock import utc_now
from routing.errors import StoreUnavailable
from storage.models import HealthProbeRow
from storage.sqlite_driver import OneTripDbapi

log = logging.getLogger(__name__)

# A pooled PostgreSQL connection that sat idle this long is pinged before it is used (the
# server may have restarted, a firewall may have dropped it); one in steady use is not:
# a ping on every checkout would cost a round trip per transaction. Once either pool has
# seen the database go away, every connection pooled before that is pinged too.
PING_AFTER_IDLE = 10.0
# PostgreSQL ends a session that sits inside a transaction, waiting for its client, this
# long. Our transactions never wait on anything but the database and the event loop; a
# process frozen in the middle of one (SIGSTOP, a stuck VM) would otherwise keep its row
# locks, among them the fence row a new leader must claim, until TCP gives up.
IDLE_IN_TRANSACTION_SECONDS = 5.0


def async_url(url: str) -> str:
    """`sqlite:///x.db` → `sqlite+aiosqlite:///x.db`, `postgresql://` → `postgresql+asyncpg://`."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise StoreUnavailable(f"malformed database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise StoreUnavailable(f"unsupported database URL scheme {parsed.drivername!r}")


def sync_url(url: str) -> str:
    """The synchronous twin used by Alembic (`sqlite://` / `postgresql+psycopg://`)."""
    parsed = make_url(async_url(url))
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def pg_milliseconds(seconds: float) -> int:
    """A PostgreSQL timeout setting in ms: at least 1 (0 would turn the timeout off)."""
    return max(1, round(seconds * 1000))


def _session_settings(idle_in_transaction: float) -> dict[str, str]:
    """What every PostgreSQL session of ours is started with."""
    return {"idle_in_transaction_session_timeout": str(pg_milliseconds(idle_in_transaction))}


class Database:
    """Owns the engine and hands out sessions."""

    def __init__(
        self,
        url: str,
        *,
        node: str = "",
        echo: bool = False,
        connect_timeout: float = 5.0,
        statement_timeout: float | None = 60.0,
        pool_timeout: float | None = None,
        write_pool: int = 10,
        read_pool: int = 4,
        ping_after_idle: float = PING_AFTER_IDLE,
        idle_in_transaction: float = IDLE_IN_TRANSACTION_SECONDS,
    ) -> None:
        """`connect_timeout`, `statement_timeout` (PostgreSQL) and `pool_timeout` bound how
        long a call can hang on a database that stopped answering: the caller then gets
        StoreUnavailable instead of waiting for TCP to give up (emergency mode needs that).
        Reads have their own pool of `read_pool` connections (for a file database or
        PostgreSQL), so a read never queues behind the writes' `write_pool` (SQLite: one
        writer connection whatever `write_pool` says). PostgreSQL reads run in autocommit
        mode: nothing read through `reads` may take a lock or write. PostgreSQL ends a
        session left idle inside a transaction for `idle_in_transaction` seconds (its
        locks with it)."""
        self.url = async_url(url)
        self.node = node
        self.dialect = make_url(self.url).get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            # One connection: in-process writers queue on the pool instead of sleeping in
            # SQLite's busy handler; BEGIN IMMEDIATE keeps other processes correct.
            kwargs.update(
                pool_size=1,
                max_overflow=0,
                pool_timeout=30.0 if pool_timeout is None else pool_timeout,
                connect_args={"timeout": 30},
                module=OneTripDbapi(),
            )
        else:
            kwargs.update(
                pool_size=write_pool,
                max_overflow=write_pool,
                pool_timeout=10.0 if pool_timeout is None else pool_timeout,
                connect_args={
                    "timeout": connect_timeout,
                    "command_timeout": statement_timeout,
                    "server_settings": _session_settings(idle_in_transaction),
                },
            )
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        self.read_engine: AsyncEngine = self.engine
        database = make_url(self.url).database
        if self.dialect == "postgresql":
            # Reads run without a transaction: under READ COMMITTED each statement has its
            # own snapshot anyway, and a read then costs one round trip instead of three
            # (BEGIN, the query, the ROLLBACK of the connection's return to the pool).
            self.read_engine = create_async_engine(
                self.url,
                **(kwargs | {"pool_size": read_pool, "max_overflow": read_pool}),
                isolation_level="AUTOCOMMIT",
            )
            _ping_when_suspect((self.engine, self.read_engine), ping_after_idle)
        elif self.dialect == "sqlite":
            _sqlite_setup(self.engine, "BEGIN IMMEDIATE")
            if database and database != ":memory:":
                # Readers get their own small pool and a deferred BEGIN: in WAL mode they
                # read a snapshot and never wait for the writer (screen-pop latency).
                self.read_engine = create_async_engine(
                    self.url,
                    echo=echo,
                    pool_size=read_pool,
                    max_overflow=0,
                    connect_args={"timeout": 30},
                    module=OneTripDbapi(),
                )
                _sqlite_setup(self.read_engine, "BEGIN")
        # `sessions` for anything that writes; `reads` for read-only work.
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.reads = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def probe(self) -> None:
        """Prove the database is reachable and writable; raise StoreUnavailable if not."""
        node = self.node or "default"
        try:
            async with self.sessions.begin() as session:
                await session.execute(delete(HealthProbeRow).where(HealthProbeRow.node == node))
                session.add(HealthProbeRow(node=node, at=utc_now()))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(f"database not writable: {exc}") from exc

    async def ping(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (DBAPIError, SATimeout, OSError, TimeoutError) as exc:
            raise StoreUnavailable(f"database unreachable: {exc or type(exc).__name__}") from exc

    async def dispose(self) -> None:
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
        await self.engine.dispose()


def _ping_when_suspect(engines: tuple[AsyncEngine, ...], after: float) -> None:
    """Ping a connection at checkout when it was idle for more than `after` seconds, or
    was pooled before any of `engines` lost a connection or failed to connect; a dead one
    is replaced before the caller sees it (the pool retries the checkout). An engine
    discards its own pool on a lost connection, but not its twin's: without the shared
    mark, the read pool would hand out a connection that died in an outage only the
    write pool noticed."""
    lost_at = [-math.inf]  # monotonic time the database was last seen gone

    def _on_error(context: Any) -> None:
        # No connection yet means the connect itself failed.
        if context.is_disconnect or context.connection is None:
            lost_at[0] = time.monotonic()

    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or (time.monotonic() - since <= after and since > lost_at[0]):
            return  # new, or in steady use since the database was last seen
        try:
            engines[0].dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the driver's own error type: the connection is gone
            lost_at[0] = time.monotonic()
            raise DisconnectionError(f"pooled connection lost: {exc}") from exc

    for engine in engines:
        event.listen(engine.sync_engine, "handle_error", _on_error)
        event.listen(engine.sync_engine, "checkin", _checked_in)
        event.listen(engine.sync_engine, "checkout", _checked_out)


def _sqlite_setup(engine: AsyncEngine, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event own the transaction (pysqlite's is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)
