from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from storage.database import async_url, sync_url
from storage.migrate import current, downgrade, upgrade
from storage.models import STORAGE_TABLES, Base
from storage.testing import create_scratch_postgres, drop_scratch_postgres, postgres_available


def _storage_object(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
    # Other packages may put their own tables on Base (they create them themselves).
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is None or table.name in STORAGE_TABLES


def _schema_diff(url: str) -> list[object]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_name": lambda name, type_, _parents: (
                        type_ != "table" or name in STORAGE_TABLES
                    ),
                    "include_object": _storage_object,
                },
            )
            return list(compare_metadata(context, Base.metadata))
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
