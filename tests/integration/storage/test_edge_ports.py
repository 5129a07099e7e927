"""storage/ implements the database ports of leadership (`cluster.ports.Fence`) and of
emergency mode (`fallback.ports.ProbeTable`): failures come back in the owners' terms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from cluster import FenceUnavailable, StaleLeader
from fallback.errors import HealthCheckFailed
from fallback.health import DatabaseWriteProbe
from storage.database import async_url
from storage.fence import FenceStore
from storage.health_probe import HealthProbeTable
from storage.migrate import upgrade


async def test_an_unreachable_fence_is_fence_unavailable(tmp_path: Path) -> None:
    # No migrations ran: the table is missing, as good as a database that refuses.
    engine = create_async_engine(async_url(f"sqlite:///{tmp_path / 'empty.db'}"))
    fence = FenceStore(engine)
    try:
        for attempt in (fence.ensure(), fence.claim(3, "n1"), fence.current()):
            with pytest.raises(FenceUnavailable):
                await attempt
    finally:
        await engine.dispose()


async def test_the_probe_table_reads_back_what_it_wrote(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade(url)
    engine = create_async_engine(async_url(url))
    try:
        table = HealthProbeTable(engine)
        at = datetime(2026, 12, 5, tzinfo=UTC)
        assert await table.write_and_read("n1", "t1", at) == "t1"
        assert await table.write_and_read("n1", "t2", at) == "t2"  # replaced, one row
        assert await table.write_and_read("n2", "t3", at) == "t3"
    finally:
        await engine.dispose()


class Liar:
    async def write_and_read(self, node: str, token: str, at: datetime) -> str | None:
        return "something else"


async def test_a_probe_that_reads_back_another_token_fails() -> None:
    with pytest.raises(HealthCheckFailed, match="read back 'something else'"):
        await DatabaseWriteProbe(Liar(), node="n1").check()


@dataclass
class Holder:
    token: int | None
    claiming: int | None = None


async def test_a_leader_reclaiming_the_fence_is_not_refused_its_own_writes(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade(url)
    engine = create_async_engine(async_url(url))
    sessions = async_sessionmaker(engine)
    fence = FenceStore(engine)

    async def commit_under(holder: Holder) -> None:
        with fence.writes(holder):
            async with sessions() as session:
                await session.execute(text("DELETE FROM health_probe WHERE node = 'x'"))
                await session.commit()

    try:
        await fence.ensure()
        assert await fence.claim(1, "n1")
        await commit_under(Holder(1))
        # The re-acquired lease's token is in the fence; `token` is not updated yet.
        assert await fence.claim(2, "n1")
        await commit_under(Holder(1, claiming=2))
        with pytest.raises(StaleLeader):
            await commit_under(Holder(1))
        with pytest.raises(StaleLeader):  # a newer leader's token: refused whatever we claim
            assert await fence.claim(3, "n2")
            await commit_under(Holder(1, claiming=2))
    finally:
        await engine.dispose()
