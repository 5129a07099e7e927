"""Group commit of the call events over the real stores (SQLite and PostgreSQL): events
that arrive together share a transaction, and neither a failed batch nor a crash in the
middle of one costs a call its record or gives it two tickets."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import insert
from sqlalchemy.exc import OperationalError

from calls import CallAnswered, CallOutcome, CallQueued
from pbx.cdr import PBX_CDR
from pipeline import CallPipeline
from routing.domain.levels import SlaPolicy
from routing.errors import StoreUnavailable
from routing.records import CallFilter, TicketFilter, TicketStatus
from routing.stages import tickets_stage
from routing.tickets import CallTicketService
from routing.unseen import UnseenCallSweep
from storage.call_events import CallEventWriter
from storage.calls import CallRepository
from storage.cdr import CdrRepository
from storage.database import Database
from storage.group_commit import GroupCommit
from storage.site_import import import_sites
from storage.sites import SiteRepository
from storage.tickets import TicketRepository
from storage.users import UserRepository

from .test_batch_writes import Statements
from .test_call_tickets import CSV, T0, answered_call

# Long enough that every event submitted in one test step lands in one batch.
WINDOW = 0.05


def service_on(db: Database, commits: GroupCommit) -> CallTicketService:
    tickets, calls = TicketRepository(db), CallRepository(db)
    return CallTicketService(
        tickets=tickets,
        calls=calls,
        writes=CallEventWriter(commits, tickets, calls),
        sites=SiteRepository(db),
        users=UserRepository(db),
        policy=SlaPolicy(),
    )


@pytest.fixture
async def directory(db: Database, tmp_path: Path) -> Database:
    (tmp_path / "sites.csv").write_text(CSV, encoding="utf-8")
    await import_sites(db, tmp_path / "sites.csv")
    await UserRepository(db).create("alice", "agent", "blue-harbour-42", "PJSIP/1001")
    return db


def queued(call_id: str) -> CallQueued:
    return answered_call(call_id)[1]  # type: ignore[return-value]


async def test_per_call_order_is_kept_within_a_batch(directory: Database) -> None:
    commits = GroupCommit(directory, window=WINDOW)
    service = service_on(directory, commits)
    writes = service.writes
    started, joined, answered, ended = answered_call("order-1")
    assert isinstance(joined, CallQueued) and isinstance(answered, CallAnswered)
    draft = await service._draft(joined.call, joined.at)
    other = queued("order-2")
    other_draft = await service._draft(other.call, other.at)
    # One call's whole life and another call's join, all in one batch: the answer must
    # find the ticket the join opened a few statements earlier, the end must come last.
    await asyncio.gather(
        writes.record_call(started.call),
        writes.open_or_join(joined.call, draft, None),
        writes.open_or_join(other.call, other_draft, None),
        writes.answer(answered.call, incident=None, agent="alice", at=answered.at, note="answered"),
        writes.end(ended.call, incident=None, agent="alice", callback=False, at=ended.at),
    )
    assert commits.stats.batches == 1 and commits.stats.largest == 5

    (ticket,) = await service.tickets.list(TicketFilter(call_id="order-1"))
    assert ticket.status is TicketStatus.IN_PROGRESS and ticket.duty_agent == "alice"
    assert [h.field for h in ticket.history][:2] == ["ticket", "status"]
    (call,) = await service.calls.list(CallFilter(call_id="order-1"))
    assert (call.outcome, call.agent, call.ticket_number) == ("answered", "alice", ticket.number)
    assert call.ended_at == T0 + timedelta(minutes=5) and call.answered_at == answered.at
    assert len(await service.tickets.list(TicketFilter(call_id="order-2"))) == 1


class FailingOnce(GroupCommit):
    """Fails its first batch of more than one job: `after_commit` True = the commit went
    through but its acknowledgement was lost (the connection died just then); False = a
    job in the middle of the batch hit a dead connection, nothing was committed."""

    def __init__(self, db: Database, *, after_commit: bool) -> None:
        super().__init__(db, window=WINDOW)
        self.after_commit = after_commit
        self.failed = False

    async def _transaction(self, batch: list[Any]) -> list[Any]:
        if self.failed or len(batch) < 2:
            return await super()._transaction(batch)
        self.failed = True
        if self.after_commit:
            await super()._transaction(batch)
            raise StoreUnavailable("database unavailable: connection lost during COMMIT")
        middle = batch[len(batch) // 2]
        job = middle.job

        async def dies(session: Any) -> Any:
            await job(session)
            raise OperationalError("INSERT", {}, ConnectionResetError("connection reset"))

        middle.job = dies
        try:
            return await super()._transaction(batch)
        finally:
            middle.job = job


@pytest.mark.parametrize("after_commit", [False, True], ids=["before-commit", "after-commit"])
async def test_a_failed_batch_retried_gives_each_call_one_ticket(
    directory: Database, after_commit: bool
) -> None:
    commits = FailingOnce(directory, after_commit=after_commit)
    service = service_on(directory, commits)
    pipeline = CallPipeline([tickets_stage(service)])
    call_ids = [f"retry-{n}" for n in range(6)]
    for call_id in call_ids:
        pipeline.submit(queued(call_id))
    await pipeline.settled("tickets", 30)
    await pipeline.stop(timeout=0.1)

    assert commits.failed and pipeline.stats.retried > 0
    assert pipeline.stats.failed == 0
    tickets = await service.tickets.list(limit=100)
    assert sorted(t.call_id or "" for t in tickets) == sorted(call_ids)
    for call_id in call_ids:
        (call,) = await service.calls.list(CallFilter(call_id=call_id))
        (ticket,) = [t for t in tickets if t.call_id == call_id]
        assert call.ticket_number == ticket.number
    if not after_commit:
        # Nothing of the failed batch was kept: the day's numbering has no hole.
        assert sorted(t.number[-4:] for t in tickets) == [f"{n:04d}" for n in range(1, 7)]


class StallsBeforeCommit(GroupCommit):
    """Once armed, runs its next batch's jobs and then waits forever before committing
    (the process is about to be killed)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, window=WINDOW)
        self.armed = False
        self.batch_taken = asyncio.Event()

    async def _transaction(self, batch: list[Any]) -> list[Any]:
        if not self.armed:
            return await super()._transaction(batch)
        async with self.db.sessions.begin() as session:
            for pending in batch:
                await pending.job(session)
            self.batch_taken.set()
            await asyncio.Event().wait()
        raise AssertionError("never committed")


async def test_a_crash_after_a_batch_is_taken_loses_no_call(directory: Database) -> None:
    commits = StallsBeforeCommit(directory)
    before = service_on(directory, commits)
    pipeline = CallPipeline([tickets_stage(before)])
    answered, unseen = answered_call("crash-1"), answered_call("crash-2")
    for event in answered[:3]:  # started, queued and answered: committed
        pipeline.submit(event)
    await pipeline.settled("tickets", 10)
    commits.armed = True
    pipeline.submit(answered[3])  # its end, and the other call's start, in the lost batch
    pipeline.submit(unseen[0])
    await asyncio.wait_for(commits.batch_taken.wait(), 10)
    assert commits.stats.largest == 2
    # The process dies: its tasks stop where they are, the open transaction is lost.
    assert commits._writer is not None
    commits._writer.cancel()
    await pipeline.stop(timeout=0.1)
    assert await before.tickets.get_by_call("crash-2") is None
    (open_call,) = await before.calls.list(CallFilter(call_id="crash-1"))
    assert open_call.ended_at is None
    assert await before.calls.list(CallFilter(call_id="crash-2")) == []

    # The PBX wrote its CDR as the calls ended; the restarted controller sweeps it.
    async with directory.engine.begin() as conn:
        await conn.execute(insert(PBX_CDR), [cdr_row("crash-1"), cdr_row("crash-2")])
    after_db = Database(directory.url)
    try:
        after = service_on(after_db, GroupCommit(after_db))
        restarted = CallPipeline([tickets_stage(after)])
        sweep = UnseenCallSweep(
            CdrRepository(after_db),
            SiteRepository(after_db),
            restarted.submit,
            calls=CallRepository(after_db),
            pbx_synced=lambda: True,
            clock=lambda: T0 + timedelta(hours=1),
        )
        assert await sweep.sweep() == ["crash-2"]
        assert await sweep.close_open() == ["crash-1"]
        await restarted.settled("tickets", 10)
        await restarted.stop()
        for call_id in ("crash-1", "crash-2"):
            (call,) = await after.calls.list(CallFilter(call_id=call_id))
            assert call.ended_at is not None and call.outcome == CallOutcome.ANSWERED.value
            (ticket,) = await after.tickets.list(TicketFilter(call_id=call_id))
            assert call.ticket_number == ticket.number and call.agent == "alice"
    finally:
        await after_db.dispose()


def cdr_row(linkedid: str) -> dict[str, Any]:
    return {
        "calldate": T0,
        "clid": '"Site caller" <13800138000>',
        "src": "13800138000",
        "dst": "4000",
        "dcontext": "hotline-in",
        "channel": "PJSIP/trunk-00000009",
        "dstchannel": "PJSIP/1001-00000002",
        "lastapp": "Queue",
        "lastdata": "hotline-main,c,,,300",
        "duration": 300,
        "billsec": 265,
        "disposition": "ANSWERED",
        "amaflags": 3,
        "accountcode": "",
        "uniqueid": linkedid,
        "userfield": "",
        "peeraccount": "",
        "linkedid": linkedid,
        "sequence": 0,
    }


async def test_each_call_event_is_one_write_transaction(directory: Database) -> None:
    commits = GroupCommit(directory, window=0)
    service = service_on(directory, commits)
    await service.sites.site_profile("234567")  # the profile is cached, as after warm-up
    writes: list[str] = []

    def count(conn: Any) -> None:
        writes.append("commit")

    sa_event.listen(directory.engine.sync_engine, "commit", count)
    try:
        for call_event in answered_call("one-write"):  # started, queued, answered, ended
            before = len(writes)
            await service.handle(call_event)
            assert len(writes) == before + 1, type(call_event).__name__
    finally:
        sa_event.remove(directory.engine.sync_engine, "commit", count)
    (ticket,) = await service.tickets.list(TicketFilter(call_id="one-write"))
    assert ticket.status is TicketStatus.IN_PROGRESS


async def test_an_answered_call_reads_its_ticket_once_and_its_end_reads_nothing(
    directory: Database,
) -> None:
    """The queue join gave the call its ticket number: the answer locks that ticket by it
    (one read, no look-up of the call's record), the end writes the call record only."""
    commits = GroupCommit(directory, window=0)
    service = service_on(directory, commits)
    await service.sites.site_profile("234567")
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    started, joined, answered, ended = answered_call("known-1")
    await service.handle(started)
    await service.handle(joined)
    sa_event.listen(directory.engine.sync_engine, "before_cursor_execute", count)
    try:
        await service.handle(answered)
        on_answer, statements[:] = list(statements), []
        await service.handle(ended)
    finally:
        sa_event.remove(directory.engine.sync_engine, "before_cursor_execute", count)
    reads = [s for s in on_answer if s.startswith("SELECT")]
    assert len(reads) == 1 and "FROM calls" not in reads[0], on_answer
    assert [s.split(" (")[0] for s in statements if not s.startswith("BEGIN")] == [
        "INSERT INTO calls"
    ]
    (call,) = await service.calls.list(CallFilter(call_id="known-1"))
    (ticket,) = await service.tickets.list(TicketFilter(call_id="known-1"))
    assert call.ticket_number == ticket.number and call.outcome == "answered"


async def test_a_batch_step_runs_once_before_the_jobs_and_again_for_each_retried_job(
    db: Database,
) -> None:
    commits = GroupCommit(db, window=WINDOW)
    runs: list[list[tuple[str, bool]]] = []
    order: list[str] = []

    async def step(_session: Any, items: list[tuple[str, bool]]) -> None:
        runs.append(list(items))
        order.append("step")

    def job(name: str, *, fails: bool = False) -> Any:
        async def run(_session: Any) -> str:
            order.append(name)
            if fails and len(runs) == 1:  # fails in the shared transaction only
                raise ValueError("a job's own bad value")
            return name

        return run

    results = await asyncio.gather(
        commits.run(job("a"), key="c1", prepare=(step, "a")),
        commits.run(job("b"), key="c2"),
        commits.run(job("c", fails=True), key="c1", prepare=(step, "c")),
        return_exceptions=True,
    )
    assert results == ["a", "b", "c"] and commits.stats.split == 1
    # Once for the batch, in batch order, "c" not the first job of its call; then once
    # for each retried job that named it, alone in its transaction.
    assert runs == [[("a", True), ("c", False)], [("a", True)], [("c", True)]]
    assert order[:4] == ["step", "a", "b", "c"]


async def test_the_answers_of_a_batch_lock_their_tickets_in_one_statement(
    directory: Database,
) -> None:
    """Three calls answered in one batch, and a fourth call answered as part of the first
    one's ticket (an incident): the three tickets the answers name by number are read in
    one statement, and the fourth, which finds its ticket another way, sees what the
    first answer changed."""
    commits = GroupCommit(directory, window=WINDOW)
    service = service_on(directory, commits)
    lives = [answered_call(f"many-{n}") for n in range(3)]
    for started, joined, _, _ in lives:
        await service.handle(started)
        await service.handle(joined)
    numbers = []
    for n in range(3):
        ticket = await service.tickets.get_by_call(f"many-{n}")
        assert ticket is not None
        numbers.append(ticket.number)
    statements = Statements(directory)
    writes = service.writes
    other = answered_call("many-x")[2]
    await asyncio.gather(
        *(
            writes.answer(a.call, incident=None, agent="alice", at=a.at, note="answered", known=n)
            for (_, _, a, _), n in zip(lives, numbers, strict=True)
        ),
        writes.answer(other.call, incident=numbers[0], agent="bob", at=other.at, note="answered"),
    )
    assert commits.stats.largest == 4
    reads = [text for text, _ in statements.seen if text.startswith("SELECT")]
    assert len(reads) == 2, statements.seen  # the three by number; the incident's
    tickets = await service.tickets.list(TicketFilter())
    assert len(tickets) == 3
    for ticket in tickets:
        assert ticket.status is TicketStatus.IN_PROGRESS and ticket.duty_agent == "alice"
        assert [h.new for h in ticket.history if h.field == "status"] == ["in_progress"]
