"""Repeat calls decided where they are written (SQLite and PostgreSQL): calls of one site
that reach the database together, a batch that fails and is retried, and two write
transactions racing each other still give the site one ticket; the ticket a repeat
caller joined is due for a callback when that caller hangs up unanswered."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from calls import CallAbandoned, CallAnswered, CallEnded, CallOutcome, CallQueued, CallState
from pipeline import CallPipeline
from routing.records import TicketFilter, TicketStatus
from routing.stages import tickets_stage
from routing.tickets import CallTicketService
from storage.database import Database
from storage.group_commit import GroupCommit, take_locks
from storage.repeat_calls import site_lock

from .test_batch_writes import Statements
from .test_group_commit import WINDOW, FailingOnce
from .test_repeat_calls import T0, RecordingPager, arrive, make_service, queued

M = timedelta(minutes=1)
DECISION = re.compile(r"call (\S+): (opened ticket|repeat call, joined ticket|has ticket) (\S+)")


def service_on(db: Database, commits: GroupCommit) -> CallTicketService:
    return make_service(db, RecordingPager(), 240, commits)


def decisions(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str]]:
    found = []
    for record in caplog.records:
        match = DECISION.match(record.getMessage())
        if match is not None:
            found.append((match[1], match[2], match[3]))
    return found


async def test_two_calls_of_a_site_in_one_batch_share_one_ticket(
    sites_loaded: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="routing.tickets")
    commits = GroupCommit(sites_loaded, window=WINDOW)
    service = service_on(sites_loaded, commits)
    first, second = queued("b-1", T0), queued("b-2", T0 + M)
    one, two = await asyncio.gather(
        service.open_ticket(first, T0), service.open_ticket(second, T0 + M)
    )
    assert commits.stats.batches == 1 and commits.stats.largest == 2
    # Which of the two is written first is the batch's order; the other joins its ticket.
    assert one.number == two.number and one.call_id in ("b-1", "b-2")
    (ticket,) = await service.tickets.list(TicketFilter(site_code="234567"))
    repeat = "b-2" if ticket.call_id == "b-1" else "b-1"
    record = await service.calls.get(repeat)
    assert record is not None and record.ticket_number == ticket.number
    repeats = [h for h in ticket.history if "repeat" in h.note]
    assert len(repeats) == 1 and repeat in repeats[0].note
    assert sorted(decisions(caplog)) == sorted(
        [
            (ticket.call_id, "opened ticket", ticket.number),
            (repeat, "repeat call, joined ticket", ticket.number),
        ]
    )
    # A replayed queue join returns the same ticket and writes nothing more.
    again = await service.open_ticket(second, T0 + 2 * M)
    assert again.number == ticket.number
    replayed = await service.tickets.get(ticket.number)
    assert replayed is not None and replayed.history == ticket.history


async def test_a_batch_opens_the_tickets_its_calls_need_in_one_read_and_one_insert(
    sites_loaded: Database,
) -> None:
    commits = GroupCommit(sites_loaded, window=WINDOW)
    service = service_on(sites_loaded, commits)
    statements = Statements(sites_loaded)
    calls = [queued("s-1", T0), queued("s-2", T0 + M, site="345678"), queued("s-3", T0 + 2 * M)]
    opened = await asyncio.gather(*(service.open_ticket(c, c.started_at) for c in calls))
    assert commits.stats.batches == 1
    assert opened[2].number == opened[0].number  # the batch's order says who joins whom
    assert sorted({t.number[-4:] for t in opened}) == ["0001", "0002"]
    # One read for the batch; only the later call of site 234567, which an earlier job
    # of the batch could (and did) change the answer for, read the rows it decides on.
    reads = [text for text, _ in statements.seen if text.startswith("SELECT")]
    assert [r for r in reads if "pg_advisory_xact_lock" not in r][1:] == [
        "SELECT tickets.id, tickets.number,"
    ]
    assert len(statements.of("INSERT INTO tickets")) == 1  # both new tickets at once


async def test_a_queue_join_replayed_in_the_same_batch_finds_the_ticket_it_opened(
    sites_loaded: Database,
) -> None:
    commits = GroupCommit(sites_loaded, window=WINDOW)
    service = service_on(sites_loaded, commits)
    # An unidentified caller: no site, so only the call itself says the two are one.
    call = replace(queued("twice", T0), site_code=None, variables={"HOTLINE_LEVEL": "2"})
    one, two = await asyncio.gather(
        service.open_ticket(call, T0), service.open_ticket(call, T0 + M)
    )
    assert commits.stats.batches == 1 and commits.stats.split == 0
    assert one.number == two.number and one.site_code is None
    assert len(await service.tickets.list(TicketFilter())) == 1


@pytest.mark.parametrize("after_commit", [False, True], ids=["before-commit", "after-commit"])
async def test_a_failed_batch_retried_decides_each_call_once(
    sites_loaded: Database, caplog: pytest.LogCaptureFixture, after_commit: bool
) -> None:
    caplog.set_level(logging.INFO, logger="routing.tickets")
    commits = FailingOnce(sites_loaded, after_commit=after_commit)
    service = service_on(sites_loaded, commits)
    pipeline = CallPipeline([tickets_stage(service)])
    calls = [
        queued("r-1", T0),
        queued("r-2", T0 + M, site="345678"),
        queued("r-3", T0 + 2 * M),
        queued("r-4", T0 + 3 * M, site="345678"),
    ]
    for call in calls:
        pipeline.submit(CallQueued(call, call.started_at, position=1))
    await pipeline.settled("tickets", 30)
    assert commits.failed and pipeline.stats.retried > 0 and pipeline.stats.failed == 0

    for site, call_ids in (("234567", ("r-1", "r-3")), ("345678", ("r-2", "r-4"))):
        (ticket,) = await service.tickets.list(TicketFilter(site_code=site))
        for call_id in call_ids:
            record = await service.calls.get(call_id)
            assert record is not None and record.ticket_number == ticket.number
        repeats = [h for h in ticket.history if h.field == "repeat_call"]
        assert len(repeats) == 1 and repeats[0].new in call_ids
    # One line per call, after the commit that decided it: never "joined" then "opened".
    said = decisions(caplog)
    assert sorted(call_id for call_id, _, _ in said) == ["r-1", "r-2", "r-3", "r-4"]
    if not after_commit:
        assert sorted(what for _, what, _ in said) == [
            "opened ticket",
            "opened ticket",
            "repeat call, joined ticket",
            "repeat call, joined ticket",
        ]

    # A replayed queue join returns each call's ticket again.
    for call in calls:
        pipeline.submit(CallQueued(call, call.started_at, position=1))
    await pipeline.settled("tickets", 30)
    await pipeline.stop(timeout=0.1)
    assert len(await service.tickets.list(limit=100)) == 2
    assert len(decisions(caplog)) == 4


class HoldsBeforeCommit(GroupCommit):
    """Writes its batch, says so, then waits before committing: another transaction gets
    to decide for the same site meanwhile."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, window=0)
        self.written = asyncio.Event()

    async def _transaction(self, batch: list[Any]) -> list[Any]:
        results: list[Any] = []
        async with self.db.sessions.begin() as session:
            await take_locks(session, batch)
            for pending in batch:
                results.append(await pending.job(session))
            self.written.set()
            await asyncio.sleep(0.5)
        return results


async def test_two_write_transactions_of_one_site_give_one_ticket(sites_loaded: Database) -> None:
    other_db = Database(sites_loaded.url)
    try:
        holding = HoldsBeforeCommit(sites_loaded)
        one = service_on(sites_loaded, holding)
        two = service_on(other_db, GroupCommit(other_db, window=0))
        await two.sites.site_profile("234567")  # read before the other holds the writer
        first, second = queued("t-1", T0), queued("t-2", T0 + M)
        opening = asyncio.create_task(one.open_ticket(first, T0))
        await asyncio.wait_for(holding.written.wait(), 10)
        # The first transaction has decided (a new ticket) but not committed yet.
        joined = await two.open_ticket(second, T0 + M)
        opened = await opening
    finally:
        await other_db.dispose()
    assert joined.number == opened.number
    assert len(await one.tickets.list(TicketFilter(site_code="234567"))) == 1
    record = await one.calls.get("t-2")
    assert record is not None and record.ticket_number == opened.number


@pytest.mark.parametrize(
    "hang_up",
    ["abandoned", "ended-abandoned", "ended-no-agent"],
)
async def test_a_repeat_caller_hanging_up_unanswered_is_called_back(
    sites_loaded: Database, hang_up: str
) -> None:
    service = service_on(sites_loaded, GroupCommit(sites_loaded))
    first = queued("a-1", T0)
    await arrive(service, first)
    talking = replace(
        first, state=CallState.CONNECTED, agent_interface="PJSIP/1001", answered_at=T0 + M
    )
    await service.handle(CallAnswered(talking, T0 + M, interface="PJSIP/1001", hold_seconds=60))
    second = queued("a-2", T0 + 20 * M)
    await arrive(service, second)
    (ticket,) = await service.tickets.list(TicketFilter(site_code="234567"))
    assert ticket.status is TicketStatus.IN_PROGRESS

    at = T0 + 23 * M
    gone = replace(second, state=CallState.ENDED, ended_at=at)
    if hang_up == "abandoned":
        events: list[Any] = [
            CallAbandoned(second, at, hold_seconds=180),
            CallEnded(replace(gone, outcome=CallOutcome.ABANDONED), at),
        ]
    else:
        outcome = CallOutcome.ABANDONED if hang_up == "ended-abandoned" else CallOutcome.NO_AGENT
        events = [CallEnded(replace(gone, outcome=outcome), at)]
    for event in events + events:  # replayed: noted once
        await service.handle(event)

    flagged = await service.tickets.get(ticket.number)
    assert flagged is not None and flagged.status is TicketStatus.CALLBACK_DUE
    notes = [h for h in flagged.history if h.field == "repeat_callback"]
    assert len(notes) == 1 and notes[0].new == "a-2" and "a-2" in notes[0].note
    (status,) = [h for h in flagged.history if h.field == "status" and h.at == at]
    assert (status.old, status.new) == ("in_progress", "callback_due") and "a-2" in status.note
    record = await service.calls.get("a-2")
    assert record is not None and record.ticket_number == ticket.number


async def test_an_incident_caller_hanging_up_leaves_the_incident_ticket(
    sites_loaded: Database,
) -> None:
    service = service_on(sites_loaded, GroupCommit(sites_loaded))
    await arrive(service, queued("i-1", T0))
    (incident,) = await service.tickets.list(TicketFilter(site_code="234567"))
    caller = queued("i-2", T0 + 5 * M, site="345678")
    caller = replace(caller, variables={**caller.variables, "HOTLINE_INCIDENT": incident.number})
    await arrive(service, caller)
    await service.handle(CallAbandoned(caller, T0 + 6 * M, hold_seconds=60))
    after = await service.tickets.get(incident.number)
    assert after is not None and after.status is TicketStatus.OPEN
    assert not [h for h in after.history if h.field == "repeat_callback"]


async def test_transactions_wanting_the_same_sites_in_other_orders_do_not_deadlock(
    db: Database,
) -> None:
    """Two processes' batches each want the locks of two sites, their jobs in opposite
    orders: the locks are taken together and sorted, so one transaction waits for the
    other's commit and then runs; neither is aborted as a deadlock (and split)."""
    other_db = Database(db.url)
    ran: list[str] = []

    def job(name: str) -> Any:
        async def hold(session: Any) -> str:
            await session.execute(text("SELECT 1"))
            ran.append(name)
            await asyncio.sleep(0.2)  # the other transaction asks for its locks meanwhile
            return name

        return hold

    one, two = GroupCommit(db, window=0.05), GroupCommit(other_db, window=0.05)
    a, b = site_lock("234567"), site_lock("345678")
    try:
        done = await asyncio.wait_for(
            asyncio.gather(
                one.run(job("one-a"), locks=[a]),
                one.run(job("one-b"), locks=[b]),
                two.run(job("two-b"), locks=[b]),
                two.run(job("two-a"), locks=[a]),
            ),
            30,
        )
    finally:
        await other_db.dispose()
    assert done == ["one-a", "one-b", "two-b", "two-a"]
    assert one.stats.split == two.stats.split == 0
    assert ran in (["one-a", "one-b", "two-b", "two-a"], ["two-b", "two-a", "one-a", "one-b"])
