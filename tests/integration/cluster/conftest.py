from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from testkit.scratch_db import migrated_scratch_postgres, postgres_available


def _load(name: str, file: str) -> None:
    """Helpers shared by the cluster tests, loaded by path (tests are not a package)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


_load("cluster_test_support", "support.py")
from cluster_test_support import CuttableProxy  # noqa: E402


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    """The cluster tests' name for the suite's `redis_prefix`."""
    return redis_prefix


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[CuttableProxy]:
    p = CuttableProxy()
    await p.start()
    yield p
    await p.stop()


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if not postgres_available():
        pytest.skip("PostgreSQL not reachable")
    with migrated_scratch_postgres("hotline_cluster") as url:
        yield url
