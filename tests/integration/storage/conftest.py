"""Every storage test runs against a fresh SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.database import Database
from testkit.scratch_db import fresh_database, migrated_scratch_postgres, postgres_available


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    if not postgres_available():
        pytest.skip("PostgreSQL not reachable (HOTLINE_TEST_PG_URL)")
    with migrated_scratch_postgres("hl_storage") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    pg = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    async with fresh_database(request.param, tmp_path, pg) as database:
        yield database
