"""Fixtures of the console integration tests (the harness lives in harness.py)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest


def load_harness() -> object:
    name = "console_test_harness"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("harness.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


load_harness()
import console_test_harness as h  # noqa: E402

from storage.migrate import upgrade  # noqa: E402
from testkit.scratch_db import (  # noqa: E402
    create_scratch_postgres,
    drop_scratch_postgres,
    postgres_available,
    scratch_sqlite_url,
)

World = h.World
build_world = h.build_world


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    if not postgres_available():
        pytest.skip("PostgreSQL not reachable (HOTLINE_TEST_PG_URL)")
    url = create_scratch_postgres(prefix="hl_console")
    try:
        upgrade(url)  # the schema comes from the migrations themselves
        yield url
    finally:
        drop_scratch_postgres(url)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = await build_world(scratch_sqlite_url(tmp_path), fresh=True)
    try:
        yield w
    finally:
        await w.bus.close()
        await w.db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def any_world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    """The same world on SQLite and on the PostgreSQL server."""
    if request.param == "sqlite":
        w = await build_world(scratch_sqlite_url(tmp_path), fresh=True)
    else:
        w = await build_world(request.getfixturevalue("pg_url"), fresh=False)
    try:
        yield w
    finally:
        await w.bus.close()
        await w.db.dispose()


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=world.app(), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as c:
        yield c


# --- shared console state: the real Redis, and a proxy in front of it a test can cut ------
