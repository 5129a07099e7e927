"""`TicketStoreBackfillSink` on the storage engineer's real `TicketRepository` (SQLite and
PostgreSQL scratch databases)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from fallback.ports import BackfillTicket
from fallback.tickets import TicketStoreBackfillSink
from routing.domain.levels import SlaPolicy
from routing.records import TicketSource
from storage.database import Database
from storage.tickets import TicketRepository
from testkit.scratch_db import (
    create_scratch_postgres,
    create_tables,
    drop_scratch_postgres,
    postgres_available,
)

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def repo(request, tmp_path) -> AsyncIterator[TicketRepository]:
    if request.param == "sqlite":
        url, cleanup = f"sqlite:///{tmp_path / 'hotline.db'}", None
    else:
        if not postgres_available():
            pytest.skip("PostgreSQL not reachable")
        url = create_scratch_postgres(prefix="fallback_sink")
        cleanup = url
    db = Database(url)
    await create_tables(db)
    try:
        yield TicketRepository(db, clock=lambda: T0 + timedelta(hours=3), policy=SlaPolicy())
    finally:
        await db.dispose()
        if cleanup:
            drop_scratch_postgres(cleanup)


def paper(call_id: str | None, number: str = "E000001", level: int = 1) -> BackfillTicket:
    return BackfillTicket(
        paper_number=number,
        call_id=call_id,
        site_code=None,
        level=level,
        description="MCU down, all sites cut off",
        caller_number="13800138000",
        caller_name="",
        started_at=T0,
        agent="backup-desk",
        by="operator1",
    )


async def test_backfill_opens_a_backfill_ticket_with_sla_from_the_call(repo) -> None:
    sink = TicketStoreBackfillSink(repo, SlaPolicy(), lambda: T0 + timedelta(hours=3))
    assert await sink.ticket_for_call("1795304001.7") is None
    outcome = await sink.backfill(paper("1795304001.7"))
    assert outcome.created
    ticket = await repo.get(outcome.ticket_number)
    assert ticket is not None
    assert ticket.source is TicketSource.BACKFILL and ticket.call_id == "1795304001.7"
    assert ticket.paper_number == "E000001"
    assert ticket.created_at == T0 and ticket.response_due == T0 + timedelta(minutes=30)
    assert await sink.ticket_for_call("1795304001.7") == outcome.ticket_number

    # Entering it twice never makes a second ticket: the content lands on the first.
    again = await sink.backfill(paper("1795304001.7", number="E000002"))
    assert again.ticket_number == outcome.ticket_number and not again.created
    ticket = await repo.get(outcome.ticket_number)
    assert any("E000002" in entry.text for entry in ticket.progress_log)


async def test_paper_without_a_call_gets_its_own_ticket(repo) -> None:
    sink = TicketStoreBackfillSink(repo, SlaPolicy(), lambda: T0)
    first = await sink.backfill(paper(None, "E000040", level=4))
    second = await sink.backfill(paper(None, "E000041", level=4))
    assert first.ticket_number != second.ticket_number
    ticket = await repo.get(first.ticket_number)
    assert ticket.call_id is None and ticket.level == 4 and ticket.onsite_due is None


async def _automatic_ticket(repo: TicketRepository, call_id: str, *, level: int, text: str) -> str:
    from routing.records import NewTicket

    opening = await repo.open_for_call(
        NewTicket(
            level=level,
            caller_number="13800138000",
            created_at=T0,
            response_due=T0 + timedelta(hours=2),
            onsite_due=None,
            call_id=call_id,
            description=text,
        )
    )
    assert opening.created
    return opening.ticket.number


async def test_paper_fills_an_empty_automatic_ticket_and_raises_its_level(repo) -> None:
    number = await _automatic_ticket(repo, "1795304001.9", level=3, text="")
    sink = TicketStoreBackfillSink(repo, SlaPolicy(), lambda: T0 + timedelta(hours=3))
    outcome = await sink.backfill(paper("1795304001.9", number="E000002", level=1))
    assert outcome.ticket_number == number and not outcome.created
    ticket = await repo.get(number)
    assert ticket is not None
    assert ticket.description == "MCU down, all sites cut off"
    assert ticket.level == 1
    assert ticket.response_due == T0 + timedelta(minutes=30)  # deadlines follow the level
    changes = {c.field: c for c in ticket.history if c.note == "paper E000002"}
    assert set(changes) >= {"description", "level"}
    assert changes["level"].old == "3" and changes["level"].new == "1"
    assert all(c.by == "operator1" and c.at == T0 + timedelta(hours=3) for c in changes.values())
    assert not ticket.progress_log  # the description took the text: no second copy


async def test_paper_adds_an_entry_to_an_automatic_ticket_with_a_description(repo) -> None:
    number = await _automatic_ticket(repo, "1795304001.10", level=1, text="agent: MCU alarm")
    sink = TicketStoreBackfillSink(repo, SlaPolicy(), lambda: T0 + timedelta(hours=3))
    await sink.backfill(paper("1795304001.10", number="E000003", level=2))
    ticket = await repo.get(number)
    assert ticket is not None
    assert ticket.description == "agent: MCU alarm" and ticket.level == 1  # never lowered
    (entry,) = [c for c in ticket.history if c.field == "progress_log"]
    assert entry.new == "paper E000003: MCU down, all sites cut off"
    assert entry.by == "operator1" and entry.at == T0 + timedelta(hours=3)


async def test_paper_of_a_repeat_call_goes_into_the_ticket_it_joined(repo) -> None:
    from storage.calls import CallRepository
    from storage.repeat_calls import RepeatCallRepository
    from testkit.call_snapshots import call_snapshot

    number = await _automatic_ticket(repo, "1795304001.11", level=2, text="MCU alarm")
    # The second call of the site joined that ticket: its record names it.
    await CallRepository(repo.db).upsert(call_snapshot("1795304001.12", T0), ticket_number=number)
    sink = TicketStoreBackfillSink(
        repo,
        SlaPolicy(),
        lambda: T0 + timedelta(hours=3),
        linked=RepeatCallRepository(repo.db).ticket_number_of_call,
    )
    assert await sink.ticket_for_call("1795304001.12") == number
    outcome = await sink.backfill(paper("1795304001.12", number="E000004", level=2))
    assert outcome.ticket_number == number and not outcome.created
    assert await repo.get_by_call("1795304001.12") is None  # no second ticket
    ticket = await repo.get(number)
    assert ticket is not None
    assert [e.text for e in ticket.progress_log] == ["paper E000004: MCU down, all sites cut off"]
    # A call with a ticket of its own still gets its paper there.
    own = await sink.backfill(paper("1795304001.11", number="E000005", level=2))
    assert own.ticket_number == number and not own.created
