"""Fixtures of the multi-process cluster tests (the harness lives in harness.py)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from testkit.scratch_db import create_postgres_from_template, drop_scratch_postgres

HERE = Path(__file__).parent


def _load(name: str, path: Path) -> None:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


_load("cluster_test_support", HERE.parents[1] / "integration" / "cluster" / "support.py")
_load("cluster_e2e_harness", HERE / "harness.py")

from cluster_test_support import CuttableProxy  # noqa: E402


@pytest.fixture
def pg_url(migrated_pg_template: str) -> Iterator[str]:
    """A migrated PostgreSQL database of the test's own."""
    url = create_postgres_from_template(migrated_pg_template, prefix="hotline_cluster_e2e")
    yield url
    drop_scratch_postgres(url)


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[CuttableProxy]:
    p = CuttableProxy()
    await p.start()
    yield p
    await p.stop()
