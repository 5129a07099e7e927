"""The database health probe against real peers: SQLite, PostgreSQL, a refused port and a
database that accepts the connection and then hangs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from fallback.domain.mode import Verdict
from fallback.health import CallableProbe, DatabaseWriteProbe, HealthWatch
from storage.database import async_url
from storage.health_probe import HealthProbeTable
from storage.migrate import upgrade

PG_HOST = os.environ.get("HOTLINE_TEST_PG_HOST", "127.0.0.1")


def clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def sqlite_engine(tmp_path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    await asyncio.to_thread(upgrade, url)  # health_probe comes from the migrations
    engine = create_async_engine(async_url(url))
    yield engine
    await engine.dispose()


@pytest.fixture
async def pg_engine() -> AsyncIterator[AsyncEngine]:
    name = f"fallback_health_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(host=PG_HOST, user="postgres", database="test", timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await asyncio.to_thread(upgrade, f"postgresql://postgres@{PG_HOST}/{name}")
    engine = create_async_engine(f"postgresql+asyncpg://postgres@{PG_HOST}/{name}")
    try:
        yield engine
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_sqlite_probe_writes_and_reads_back(sqlite_engine) -> None:
    probe = DatabaseWriteProbe(HealthProbeTable(sqlite_engine), node="n1", timeout=5)
    watch = HealthWatch([probe], clock)
    first = await watch.run_round()
    second = await watch.run_round()
    assert first.verdict is Verdict.HEALTHY and second.verdict is Verdict.HEALTHY
    assert first.results[0].detail == "write/read ok"
    async with sqlite_engine.connect() as conn:
        rows = (await conn.execute(text("SELECT node, token FROM health_probe"))).all()
    assert len(rows) == 1 and rows[0][0] == "n1"  # one row per node, rewritten each round


async def test_read_only_sqlite_database_fails_the_probe(tmp_path) -> None:
    path = tmp_path / "ro.db"
    await asyncio.to_thread(upgrade, f"sqlite:///{path}")
    rw = create_async_engine(f"sqlite+aiosqlite:///{path}")
    await DatabaseWriteProbe(HealthProbeTable(rw), timeout=5).check()
    await rw.dispose()
    ro = create_async_engine(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
    try:
        [result] = (
            await HealthWatch(
                [DatabaseWriteProbe(HealthProbeTable(ro), timeout=5)], clock
            ).run_round()
        ).results
    finally:
        await ro.dispose()
    assert result.state == "failed"
    assert "readonly" in result.detail.lower() or "read-only" in result.detail.lower()


@pytest.mark.postgres
async def test_postgres_probe_writes_and_reads_back(pg_engine) -> None:
    watch = HealthWatch([DatabaseWriteProbe(HealthProbeTable(pg_engine), timeout=5)], clock)
    for _ in range(3):
        assert (await watch.run_round()).verdict is Verdict.HEALTHY
    async with pg_engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM health_probe"))).scalar_one()
    assert count == 1


@pytest.mark.postgres
async def test_postgres_in_read_only_mode_fails_the_probe(pg_engine) -> None:
    probe = DatabaseWriteProbe(HealthProbeTable(pg_engine), timeout=5)
    await probe.check()
    async with pg_engine.begin() as conn:
        db = (await conn.execute(text("SELECT current_database()"))).scalar_one()
        await conn.execute(text(f'ALTER DATABASE "{db}" SET default_transaction_read_only = on'))
    await pg_engine.dispose()  # new sessions pick up the setting
    [result] = (await HealthWatch([probe], clock).run_round()).results
    assert result.state == "failed" and "read-only" in result.detail


async def test_refused_connection_fails_fast() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    engine = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x")
    try:
        [result] = (
            await HealthWatch(
                [DatabaseWriteProbe(HealthProbeTable(engine), timeout=5)], clock
            ).run_round()
        ).results
    finally:
        await engine.dispose()
    assert result.state == "failed"
    assert "timeout" not in result.detail and "no answer" not in result.detail


async def test_hung_database_is_caught_by_the_timeout() -> None:
    """A peer that accepts TCP and never answers (a hung server, a black hole)."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # keep it open, say nothing

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = create_async_engine(
        f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x", connect_args={"timeout": 60}
    )
    try:
        watch = HealthWatch(
            [
                DatabaseWriteProbe(HealthProbeTable(engine), timeout=0.3),
                CallableProbe("other", lambda: asyncio.sleep(0, "fine"), timeout=1),
            ],
            clock,
        )
        health_round = await asyncio.wait_for(watch.run_round(), 10)
    finally:
        for w in held:
            w.close()
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()
        await engine.dispose()
    by_name = {r.name: r for r in health_round.results}
    assert by_name["database"].state == "failed"
    assert by_name["database"].detail == "no answer within 0.3 s"
    assert by_name["other"].state == "ok"
    assert health_round.verdict is Verdict.FAILING
