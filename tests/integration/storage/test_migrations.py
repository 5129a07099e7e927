from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from storage.database import async_url, sync_url
from storage.migrate import current, downgrade, upgrade
from storage.models import Base
from storage.testing import create_scratch_postgres, drop_scratch_postgres, postgres_available


def _schema_diff(url: str) -> list[object]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        engine.dispose()


def test_url_conversion() -> None:
    assert async_url("sqlite:///./hotline.db") == "sqlite+aiosqlite:///./hotline.db"
    assert async_url("postgresql://u:p@h:5432/d") == "postgresql+asyncpg://u:p@h:5432/d"
    assert sync_url("postgresql+asyncpg://u@h/d") == "postgresql+psycopg://u@h/d"


def test_sqlite_migrations_match_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    assert current(url) == "0001"
    assert _schema_diff(url) == []
    downgrade(url, "base")
    engine = create_engine(sync_url(url))
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(url)  # and back up again
    assert current(url) == "0001"


@pytest.mark.postgres
def test_postgres_migrations_match_models() -> None:
    if not postgres_available():
        pytest.skip("PostgreSQL not reachable")
    url = create_scratch_postgres(prefix="hl_mig")
    try:
        upgrade(url)
        assert current(url) == "0001"
        assert _schema_diff(url) == []
        downgrade(url, "base")
        assert current(url) is None
    finally:
        drop_scratch_postgres(url)
