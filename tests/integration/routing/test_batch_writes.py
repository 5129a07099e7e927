"""What a group-commit batch writes once for all its jobs (SQLite and PostgreSQL): the call
records as one executemany at the end of the transaction, and the day's ticket counter
taken once, as a block of numbers whose unused part is given back before the commit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calls import CallQueued
from routing.domain.levels import SlaPolicy
from routing.records import CallFilter, TicketFilter
from routing.tickets import CallTicketService
from storage.call_events import CallEventWriter
from storage.calls import CallRepository
from storage.database import Database
from storage.group_commit import GroupCommit
from storage.models import CallRow, TicketCounterRow
from storage.site_import import import_sites
from storage.sites import SiteRepository
from storage.tickets import TicketRepository
from storage.users import UserRepository

from .test_call_tickets import CSV, answered_call

WINDOW = 0.05  # every job submitted in one test step lands in one batch


@pytest.fixture
async def service(db: Database, tmp_path: Path) -> CallTicketService:
    (tmp_path / "sites.csv").write_text(CSV, encoding="utf-8")
    await import_sites(db, tmp_path / "sites.csv")
    tickets, calls = TicketRepository(db), CallRepository(db)
    return CallTicketService(
        tickets=tickets,
        calls=calls,
        writes=CallEventWriter(GroupCommit(db, window=WINDOW), tickets, calls),
        sites=SiteRepository(db),
        users=UserRepository(db),
        policy=SlaPolicy(),
    )


class Statements:
    """Counts the write statements sent to the database, by their first words."""

    def __init__(self, db: Database) -> None:
        self.seen: list[tuple[str, int]] = []  # (statement start, rows)

        def count(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
            self.seen.append((" ".join(statement.split()[:3]), len(params) if many else 1))

        sa_event.listen(db.engine.sync_engine, "before_cursor_execute", count)

    def of(self, start: str) -> list[int]:
        return [rows for text, rows in self.seen if text.startswith(start)]


def queued(call_id: str) -> CallQueued:
    event = answered_call(call_id)[1]
    assert isinstance(event, CallQueued)
    return event


async def counter(db: Database) -> list[int]:
    async with db.reads() as session:
        return list((await session.scalars(select(TicketCounterRow.last))).all())


async def test_a_batch_writes_its_call_records_in_one_statement(
    service: CallTicketService, db: Database
) -> None:
    writes = service.writes
    statements = Statements(db)
    started = [answered_call(f"rec-{n}")[0] for n in range(5)]
    joins = [queued(f"join-{n}") for n in range(2)]
    drafts = [await service._draft(j.call, j.at) for j in joins]
    await asyncio.gather(
        *(writes.record_call(s.call) for s in started),
        *(writes.open_or_join(j.call, d, None) for j, d in zip(joins, drafts, strict=True)),
    )
    assert statements.of("INSERT INTO calls") == [7]  # one executemany of every record
    recorded = {c.call_id: c for c in await service.calls.list(CallFilter(), limit=50)}
    assert set(recorded) == {f"rec-{n}" for n in range(5)} | {"join-0", "join-1"}
    opened = {t.call_id: t.number for t in await service.tickets.list(TicketFilter())}
    assert recorded["join-1"].ticket_number == opened["join-1"]


async def test_a_batch_takes_the_ticket_counter_once_and_gives_back_what_it_did_not_use(
    service: CallTicketService, db: Database
) -> None:
    writes = service.writes
    statements = Statements(db)
    joins = [queued(f"num-{n}") for n in range(3)]
    drafts = [await service._draft(j.call, j.at) for j in joins]
    # Five jobs, three of which open a ticket: a block of five is taken, two given back.
    await asyncio.gather(
        *(writes.open_or_join(j.call, d, None) for j, d in zip(joins, drafts, strict=True)),
        *(writes.record_call(answered_call(f"other-{n}")[0].call) for n in range(2)),
    )
    assert len(statements.of("INSERT INTO ticket_counters")) == 1
    numbers = sorted(t.number for t in await service.tickets.list(TicketFilter()))
    assert [n.rsplit("-", 1)[-1] for n in numbers] == ["0001", "0002", "0003"]
    assert await counter(db) == [3]
    late = queued("num-late")
    alone = await writes.open_or_join(late.call, await service._draft(late.call, late.at), None)
    assert alone.ticket.number.endswith("-0004")  # no gap after a batch
    assert await counter(db) == [4]


async def test_a_rolled_back_batch_takes_no_numbers(
    service: CallTicketService, db: Database
) -> None:
    writes = service.writes
    commits = writes.commits
    joins = [queued(f"back-{n}") for n in range(3)]
    drafts = [await service._draft(j.call, j.at) for j in joins]

    async def refused(session: AsyncSession) -> None:
        raise ValueError("a job's own bad value")

    results = await asyncio.gather(
        *(writes.open_or_join(j.call, d, None) for j, d in zip(joins, drafts, strict=True)),
        commits.run(refused),
        return_exceptions=True,
    )
    assert isinstance(results[-1], ValueError) and commits.stats.split == 1
    # The batch was rolled back and each job written again alone: still 1, 2, 3.
    numbers = sorted(t.number for t in await service.tickets.list(TicketFilter()))
    assert [n.rsplit("-", 1)[-1] for n in numbers] == ["0001", "0002", "0003"]
    assert await counter(db) == [3]


async def test_the_pop_gets_the_ticket_the_queue_join_writes(service: CallTicketService) -> None:
    join = queued("wait-1")
    waiting = asyncio.ensure_future(service.ticket_of("wait-1", timeout=5))
    await asyncio.sleep(0)
    assert not waiting.done()
    opened = await service.open_ticket(join.call, join.at)
    assert (await waiting) == opened  # handed over when written, not read back
    assert await service.ticket_of("wait-1", timeout=0) == opened
    assert await service.ticket_of("never-queued", timeout=0.05) is None


async def test_a_batch_writes_the_history_and_changes_of_its_answers_in_one_statement_each(
    service: CallTicketService, db: Database
) -> None:
    writes = service.writes
    calls = [answered_call(f"ans-{n}") for n in range(2)]
    for _started, joined, _answered, _ended in calls:
        await service.open_ticket(joined.call, joined.at)
    statements = Statements(db)
    await asyncio.gather(
        *(
            writes.answer(a.call, incident=None, agent="alice", at=a.at, note="answered")
            for _s, _j, a, _e in calls
        )
    )
    assert statements.of("INSERT INTO ticket_history") == [6]  # status, agent, response x2
    assert statements.of("UPDATE tickets SET") == [2]  # both tickets' changes, at the end
    for n in range(2):
        (ticket,) = await service.tickets.list(TicketFilter(call_id=f"ans-{n}"))
        assert [h.field for h in ticket.history] == [
            "ticket",
            "status",
            "duty_agent",
            "responded_at",
        ]


async def test_a_calls_later_job_in_a_batch_reads_what_its_earlier_one_left_to_the_end(
    service: CallTicketService,
) -> None:
    writes = service.writes
    commits = writes.commits
    started = answered_call("seen-1")[0]

    async def read_back(session: AsyncSession) -> str | None:
        found = await session.scalar(
            select(CallRow.caller_number).where(CallRow.call_id == "seen-1")
        )
        return found

    _, seen = await asyncio.gather(
        writes.record_call(started.call), commits.run(read_back, key="seen-1")
    )
    assert commits.stats.batches == 1 and seen == started.call.caller_number


async def test_a_batch_writes_its_answers_changes_at_its_end_and_its_jobs_see_them(
    service: CallTicketService, db: Database
) -> None:
    """Two calls on one ticket (the second joined it) answered in one batch: the second
    answer sees the first one's changes, which are written once, at the batch's end."""
    writes = service.writes
    _s, joined, first, _e = answered_call("both-1")
    ticket = await service.open_ticket(joined.call, joined.at)
    second = answered_call("both-2")[2]
    statements = Statements(db)
    await asyncio.gather(
        writes.answer(
            first.call, incident=None, agent="alice", at=first.at, note="a", known=ticket.number
        ),
        writes.answer(
            second.call, incident=None, agent="bob", at=second.at, note="b", known=ticket.number
        ),
    )
    assert writes.commits.stats.largest == 2
    assert statements.of("UPDATE tickets SET") == [1]  # the second answer changed nothing
    shown = await service.tickets.get(ticket.number)
    assert shown is not None and shown.status.value == "in_progress"
    assert shown.duty_agent == "alice" and shown.responded_at == first.at
    assert [h.field for h in shown.history] == ["ticket", "status", "duty_agent", "responded_at"]
