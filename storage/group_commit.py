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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from routing.errors import StoreUnavailable
from storage.database import Database
from storage.errors import store_errors

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteJob = Callable[[AsyncSession], Awaitable[T]]

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


@dataclass
class _Pending:
    job: WriteJob[Any]
    done: asyncio.Future[Any]


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
        self._writer: asyncio.Task[None] | None = None

    async def run(self, job: WriteJob[T]) -> T:
        """Run `job` in the next shared transaction; its result once that has committed."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(job, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(
                self._write(), name="group-commit"
            )
        return await done

    async def _write(self) -> None:
        # Zero still yields once: the jobs submitted in this turn of the loop join.
        await asyncio.sleep(self.window)
        while self._queue:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
            batch = [p for p in batch if not p.done.done()]  # a caller cancelled
            if batch:
                await self._commit(batch)

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
        with store_errors():
            async with self.db.sessions.begin() as session:
                for pending in batch:
                    results.append(await pending.job(session))
        return results

    async def stop(self) -> None:
        """Let the jobs already taken finish."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer

    def abandon(self) -> int:
        """Drop the jobs not yet taken (the process is going down); how many."""
        dropped = 0
        for pending in self._queue:
            if not pending.done.done():
                pending.done.cancel()
                dropped += 1
        self._queue.clear()
        return dropped


def _settle(pending: _Pending, *, result: Any = None, exc: BaseException | None = None) -> None:
    if pending.done.done():
        return
    if exc is not None:
        pending.done.set_exception(exc)
    else:
        pending.done.set_result(result)
