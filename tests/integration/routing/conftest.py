"""Every storage test runs against a fresh SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.database import Database
from storage.migrate import upgrade
from storage.testing import (
    create_scratch_postgres,
    drop_scratch_postgres,
    empty_all_tables,
    postgres_available,
    scratch_sqlite_url,
)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    if not postgres_available():
        pytest.skip("PostgreSQL not reachable (HOTLINE_TEST_PG_URL)")
    url = create_scratch_postgres(prefix="hl_routing")
    try:
        upgrade(url)  # the session's schema comes from the migrations themselves
        yield url
    finally:
        drop_scratch_postgres(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        database = Database(scratch_sqlite_url(tmp_path))
        await database.create()
    else:
        database = Database(request.getfixturevalue("pg_url"))
        await empty_all_tables(database)
    try:
        yield database
    finally:
        await database.dispose()
