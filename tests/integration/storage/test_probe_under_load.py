"""The database health probe under a storm: written by the call events' writer, ahead of
its backlog, so a loaded writer never makes the probe fail and switch the hotline to
emergency mode (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextvars
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from fallback.domain.mode import Verdict
from fallback.health import DatabaseWriteProbe, HealthWatch
from storage.database import Database
from storage.group_commit import GroupCommit
from storage.health_probe import HealthProbeTable

T0 = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)
BACKLOG = 150  # three batches of 50 waiting behind the one being written


async def with_probe_table(db: Database) -> None:
    async with db.engine.begin() as conn:  # the migrations make it; create_all does not
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS health_probe (node VARCHAR(200) PRIMARY KEY,"
                " token VARCHAR(64) NOT NULL, written_at VARCHAR(40) NOT NULL)"
            )
        )


def gated(gate: asyncio.Event, taken: asyncio.Event | None = None) -> Any:
    """A write job that holds its transaction open until `gate` opens."""

    async def job(session: AsyncSession) -> None:
        if taken is not None:
            taken.set()
        await gate.wait()
        await session.execute(text("SELECT 1"))

    return job


async def test_a_loaded_writer_does_not_fail_the_health_probe(db: Database) -> None:
    await with_probe_table(db)
    commits = GroupCommit(db)
    first, backlog, taken = asyncio.Event(), asyncio.Event(), asyncio.Event()
    in_flight = asyncio.ensure_future(commits.run(gated(first, taken)))
    await taken.wait()  # the writer is inside its first batch
    waiting = [asyncio.ensure_future(commits.run(gated(backlog))) for _ in range(BACKLOG)]
    await asyncio.sleep(0)  # queued behind the batch in flight
    # Generous: only a probe stuck behind the backlog (which never moves) runs out of it.
    probe = DatabaseWriteProbe(HealthProbeTable(db.engine, commits), node="n1", timeout=10)
    watch = HealthWatch([probe], lambda: T0)
    round_ = asyncio.ensure_future(watch.run_round())
    await asyncio.sleep(0)
    first.set()  # the batch in flight commits; the backlog's batches stay stuck
    verdict = (await round_).verdict
    assert verdict is Verdict.HEALTHY, watch.latest()
    assert not any(w.done() for w in waiting)
    backlog.set()
    await asyncio.gather(in_flight, *waiting)
    # The one in flight, the probe's own, then the backlog's.
    assert commits.stats.batches == 2 + BACKLOG // commits.max_batch


FENCED: contextvars.ContextVar[str] = contextvars.ContextVar("fenced", default="no")


async def test_each_transaction_runs_in_its_first_jobs_context(db: Database) -> None:
    """The probe (not fenced) may start the writer; the call events' batches after it
    still commit in their own (fenced) context, and the probe never in theirs."""
    await with_probe_table(db)
    commits = GroupCommit(db, window=0.05)
    seen: dict[str, str] = {}

    def job(name: str) -> Any:
        async def run(session: AsyncSession) -> None:
            seen[name] = FENCED.get()

        return run

    async def fenced_call() -> None:
        FENCED.set("yes")
        await commits.run(job("call"))

    probe = asyncio.ensure_future(commits.run(job("probe"), ahead=True))
    await asyncio.gather(probe, fenced_call())
    assert seen == {"probe": "no", "call": "yes"}
