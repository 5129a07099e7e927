from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from cluster_test_support import CuttableProxy  # noqa: E402

from testkit.scratch_db import migrated_scratch_postgres, postgres_available


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
