"""Every storage test runs against a fresh SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.database import Database
from storage.site_import import import_sites
from testkit.scratch_db import fresh_database, migrated_scratch_postgres, postgres_available


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    if not postgres_available():
        pytest.skip("PostgreSQL not reachable (HOTLINE_TEST_PG_URL)")
    with migrated_scratch_postgres("hl_routing") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    pg = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    async with fresh_database(request.param, tmp_path, pg) as database:
        yield database


TWO_SITES = (
    "site_code,organisation,site_name,contact_phone,contact_name\n"
    "234567,湖北省水利厅,视频会议中心,13800138000,张伟\n"
    "345678,武汉市水务局,机房,13900139000,李娜\n"
)


@pytest.fixture
async def sites_loaded(db: Database, tmp_path: Path) -> Database:
    """`db` with two sites, 234567 and 345678 (the repeat-call tests)."""
    (tmp_path / "sites.csv").write_text(TWO_SITES, encoding="utf-8")
    await import_sites(db, tmp_path / "sites.csv")
    return db
