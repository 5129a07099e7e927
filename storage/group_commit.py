"""Group commit: write jobs that arrive together share one transaction.

A job is an `async` function of an open write session; `GroupCommit.run(job)` returns its
result once the transaction that ran it has committed. While a transaction is being
written, the jobs that arrive meanwhile wait and then go together into the next one. A
job that arrives when nothing is being written waits `window` seconds (other jobs
submitted in that time join it; 0 = one turn of the event loop), so a lone call is never
held up by more than that.

Failures keep every job exactly-once and in order:

* the database is unavailable (`StoreUnavailable`): the whole transaction is rolled back
  and every job of the batch gets the error; the caller (the pipeline) retries it, and a
  job's writes are idempotent per call, so a retried batch never opens a second ticket;
* one job fails for its own reason (a bad value, a conflicting insert by another
  process): the batch is rolled back and each of its jobs runs again alone, in its own
  transaction, in the order they were taken, so only that job fails (a job that lost a
  race with another process finds the other's row on its second try);
* the process dies after a batch was taken but before it committed: nothing of it was
  written; the jobs' events were never acknowledged, and the AMI resync and the CDR
  sweep rebuild those calls as for any crash.

Jobs of one call are never in one batch together out of order: a call's events reach the
database one after the other (the pipeline's lane for that call awaits each), and within
a batch the jobs run in the order they arrived.

A job run `ahead` (the database health probe) goes into a transaction of its own, the
next one written after the batch in flight, before every batch waiting: it waits for no
more than that one batch, however long the backlog. Each transaction runs in the context
(`contextvars`) of its first job, so the cluster's fencing of the call events' commits
(`storage.fence`) never carries over to a job that is not fenced, nor the reverse.

A job may name advisory locks it needs before its first statement (`locks`: on
PostgreSQL, e.g. a site's repeat-call decisions): the transaction takes every lock its
jobs named in one statement before the first job runs, in sorted order, so two
transactions that want the same locks never wait for each other in a cycle. (SQLite has
one writer at a time: nothing to take.)

A job may leave a write to the end of its transaction (`deferred(session).add`): the rows
every job of the batch left to one statement are written by that statement once, with
all their parameters (one executemany instead of a round trip per job), in the order the
jobs added them, before the commit. Only rows that no other job of the batch reads may be
deferred (a call's record: only that call's jobs read it); a job given the `key` of an
earlier job of its batch (the same call) runs after the rows left so far are written.

A job may also name a step for its batch (`prepare`: a `BatchStep` and the job's item):
after the locks and before the first job, each step runs once with the items of every job
that named it, in batch order, each marked with whether its job is the first of its key in
the batch. A step does for all those jobs what each would do alone (one read or one insert
instead of one per job) and leaves the results in the transaction's `deferred(session)
.state`, where the jobs find them; a retried job's own transaction runs the step again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from routing.errors import StoreUnavailable
from storage.database import Database
from storage.errors import store_errors

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteJob = Callable[[AsyncSession], Awaitable[T]]
# A PostgreSQL transaction-level advisory lock: (space, key), two signed 32-bit numbers.
AdvisoryLock = tuple[int, int]

# One turn of the event loop: the jobs submitted in the same turn share the transaction.
DEFAULT_WINDOW = 0.0
# A bigger transaction holds SQLite's one writer connection longer: the health probe and
# an agent's edit wait behind it.
DEFAULT_MAX_BATCH = 50


@dataclass
class GroupCommitStats:
    batches: int = 0
    jobs: int = 0
    largest: int = 0
    split: int = 0  # batches rolled back and rerun job by job
    sizes: dict[int, int] = field(default_factory=dict)  # batch size -> how many

    def count(self, size: int) -> None:
        self.batches += 1
        self.jobs += size
        self.largest = max(self.largest, size)
        self.sizes[size] = self.sizes.get(size, 0) + 1


class DeferredWrites:
    """What a batch's jobs leave to the end of its transaction: statements, each with the
    rows of every job that added one, in order; and the steps that settle per-batch state
    (`state`, shared by the jobs: e.g. a block of ticket numbers) before the commit."""

    def __init__(self, jobs: int = 1) -> None:
        self.jobs_left = jobs  # this job and those after it in the batch
        self.state: dict[object, Any] = {}
        self._rows: dict[int, tuple[Executable, list[dict[str, Any]]]] = {}
        self._settle: dict[object, Callable[[AsyncSession], Awaitable[None]]] = {}

    def add(self, stmt: Executable, params: dict[str, Any]) -> None:
        self._rows.setdefault(id(stmt), (stmt, []))[1].append(params)

    def before_commit(self, key: object, step: Callable[[AsyncSession], Awaitable[None]]) -> None:
        """Run `step` once before the commit, after the deferred statements."""
        self._settle.setdefault(key, step)

    async def write_rows(self, session: AsyncSession) -> None:
        """Write the rows left so far (a later job of the same call is about to run)."""
        for stmt, rows in self._rows.values():
            await session.execute(stmt, rows)
        self._rows.clear()

    async def flush(self, session: AsyncSession) -> None:
        await self.write_rows(session)
        for step in self._settle.values():
            await step(session)
        self._settle.clear()


_DEFERRED = "group_commit.deferred"


def deferred(session: AsyncSession) -> DeferredWrites | None:
    """The writes `session`'s batch leaves to its end; None outside a group commit."""
    found = session.info.get(_DEFERRED)
    return found if isinstance(found, DeferredWrites) else None


# A step a batch runs once, before its first job, for every job that named it: the jobs'
# items in batch order, each with whether its job is the first of its key in the batch.
# It may leave results for the jobs in the transaction's `deferred(session).state` (one
# statement for all instead of one per job); when the jobs are retried one by one, each
# transaction runs it again.
BatchStep = Callable[[AsyncSession, list[tuple[Any, bool]]], Awaitable[None]]


@dataclass
class _Pending:
    job: WriteJob[Any]
    done: asyncio.Future[Any]
    key: str | None = None
    locks: tuple[AdvisoryLock, ...] = ()
    prepare: tuple[BatchStep, Any] | None = None
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


# Every advisory lock of a transaction in one statement: the outer aggregate takes them
# in the order the sorted subquery yields them.
_TAKE_LOCKS = text(
    "SELECT count(pg_advisory_xact_lock(space, key)) FROM ("
    " SELECT space, key FROM unnest(CAST(:spaces AS integer[]), CAST(:keys AS integer[]))"
    " AS wanted(space, key) ORDER BY space, key) AS ordered"
)


async def run_steps(session: AsyncSession, batch: Sequence[_Pending]) -> None:
    """Every step the jobs of `batch` named, once each, with their items in batch order."""
    steps: dict[BatchStep, list[tuple[Any, bool]]] = {}
    keys: set[str] = set()
    for pending in batch:
        if pending.prepare is not None:
            step, item = pending.prepare
            first = pending.key is None or pending.key not in keys
            steps.setdefault(step, []).append((item, first))
        if pending.key is not None:
            keys.add(pending.key)
    for step, items in steps.items():
        await step(session, items)


async def take_locks(session: AsyncSession, batch: Sequence[_Pending]) -> None:
    """Every advisory lock the jobs of `batch` named, in `session`'s transaction."""
    locks = sorted({lock for pending in batch for lock in pending.locks})
    if locks and session.get_bind().dialect.name == "postgresql":
        spaces, keys = zip(*locks, strict=True)
        await session.execute(_TAKE_LOCKS, {"spaces": list(spaces), "keys": list(keys)})


class GroupCommit:
    def __init__(
        self,
        db: Database,
        *,
        window: float = DEFAULT_WINDOW,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        self.db = db
        self.window = window
        self.max_batch = max(1, max_batch)
        self.stats = GroupCommitStats()
        self._queue: list[_Pending] = []
        self._ahead: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def run(
        self,
        job: WriteJob[T],
        *,
        key: str | None = None,
        ahead: bool = False,
        locks: Sequence[AdvisoryLock] = (),
        prepare: tuple[BatchStep, Any] | None = None,
    ) -> T:
        """Run `job` in the next shared transaction; its result once that has committed.
        `key` (a call id): a job sees every row an earlier job of the same key in its
        batch wrote, deferred ones included. `ahead`: in a transaction of its own, before
        every batch waiting. `locks`: held by the transaction before the job runs.
        `prepare` (a step and this job's item): the step runs, after the locks, before
        the batch's first job (`BatchStep`)."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        pending = _Pending(job, done, key, tuple(locks), prepare)
        (self._ahead if ahead else self._queue).append(pending)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(
                self._write(), name="group-commit"
            )
        return await done

    def _take(self) -> list[_Pending]:
        """The next batch: the jobs run ahead, else the oldest waiting."""
        waiting = self._ahead if self._ahead else self._queue
        batch = waiting[: self.max_batch]
        del waiting[: self.max_batch]
        return [p for p in batch if not p.done.done()]  # a caller cancelled

    async def _write(self) -> None:
        # Zero still yields once: the jobs submitted in this turn of the loop join.
        await asyncio.sleep(self.window)
        loop = asyncio.get_running_loop()
        while self._ahead or self._queue:
            batch = self._take()
            if batch:
                await loop.create_task(self._commit(batch), context=batch[0].context)

    async def _commit(self, batch: list[_Pending]) -> None:
        self.stats.count(len(batch))
        try:
            results = await self._transaction(batch)
        except StoreUnavailable as exc:
            for pending in batch:
                _settle(pending, exc=exc)
            return
        except Exception:
            # One job's own failure must not fail the others: each again, alone, in order.
            # A lone job gets its second try too: a conflicting insert by another process
            # has committed by now, and the job finds its row.
            self.stats.split += 1
            log.info("group commit: a batch of %d failed; writing its jobs one by one", len(batch))
            for pending in batch:
                try:
                    (result,) = await self._transaction([pending])
                except Exception as alone:
                    _settle(pending, exc=alone)
                else:
                    _settle(pending, result=result)
            return
        for pending, result in zip(batch, results, strict=True):
            _settle(pending, result=result)

    async def _transaction(self, batch: list[_Pending]) -> list[Any]:
        """Run `batch`'s jobs in order in one transaction; their results after the commit."""
        results: list[Any] = []
        writes = DeferredWrites(len(batch))
        keys: set[str] = set()
        with store_errors():
            async with self.db.sessions.begin() as session:
                session.info[_DEFERRED] = writes
                await take_locks(session, batch)
                await run_steps(session, batch)
                for pending in batch:
                    if pending.key is not None and pending.key in keys:
                        await writes.write_rows(session)
                        keys.clear()
                    if pending.key is not None:
                        keys.add(pending.key)
                    results.append(await pending.job(session))
                    writes.jobs_left -= 1
                await writes.flush(session)
        return results

    async def stop(self) -> None:
        """Let the jobs already taken finish."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer

    def abandon(self) -> int:
        """Drop the jobs not yet taken (the process is going down); how many."""
        dropped = 0
        for pending in (*self._ahead, *self._queue):
            if not pending.done.done():
                pending.done.cancel()
                dropped += 1
        self._ahead.clear()
        self._queue.clear()
        return dropped


def _settle(pending: _Pending, *, result: Any = None, exc: BaseException | None = None) -> None:
    if pending.done.done():
        return
    if exc is not None:
        pending.done.set_exception(exc)
    else:
        pending.done.set_result(result)
