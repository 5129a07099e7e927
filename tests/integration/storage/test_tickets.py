from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from routing.errors import InvalidInput, TicketNotFound
from routing.records import NewTicket, TicketFilter, TicketSource, TicketStatus
from storage.database import Database
from storage.models import TicketHistoryRow, TicketRow
from storage.tickets import TicketRepository

T0 = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)


def draft(call_id: str | None = "1795304030.13", **kw: object) -> NewTicket:
    values: dict[str, object] = dict(
        level=1,
        caller_number="13800138000",
        created_at=T0,
        response_due=T0 + timedelta(minutes=30),
        onsite_due=T0 + timedelta(hours=2),
        call_id=call_id,
        site_code="234567",
        description="MCU down, all sites cut off",
    )
    values.update(kw)
    return NewTicket(**values)  # type: ignore[arg-type]


async def test_open_for_call_is_idempotent(db: Database) -> None:
    tickets = TicketRepository(db)
    first = await tickets.open_for_call(draft())
    again = await tickets.open_for_call(draft(description="replayed event"))
    assert first.created and not again.created
    assert again.ticket.number == first.ticket.number == "HL-20261121-0001"
    assert again.ticket.description == "MCU down, all sites cut off"
    assert len(await tickets.list(TicketFilter(call_id="1795304030.13"))) == 1


async def test_concurrent_open_makes_one_ticket(db: Database) -> None:
    # Two repositories = two "processes" sharing the database.
    a, b = TicketRepository(db), TicketRepository(Database(db.url))
    try:
        results = await asyncio.gather(
            *(repo.open_for_call(draft("call-42")) for repo in (a, b, a, b, a, b))
        )
    finally:
        await b.db.dispose()
    assert sum(r.created for r in results) == 1
    assert len({r.ticket.number for r in results}) == 1
    assert len(await a.list(TicketFilter(call_id="call-42"))) == 1


async def test_numbers_are_sequential_per_day_and_never_reused(db: Database) -> None:
    tickets = TicketRepository(db, node="B")
    numbers = [(await tickets.open_for_call(draft(f"c{i}"))).ticket.number for i in range(3)]
    assert numbers == ["HL-20261121-0001-B", "HL-20261121-0002-B", "HL-20261121-0003-B"]
    next_day = await tickets.create(
        draft(None, created_at=T0 + timedelta(days=1), source=TicketSource.MANUAL)
    )
    assert next_day.number == "HL-20261122-0001-B"
    # A failed open (conflict) must not hand out a number that is then lost or repeated.
    await tickets.open_for_call(draft("c0"))
    fourth = await tickets.open_for_call(draft("c9"))
    assert fourth.ticket.number == "HL-20261121-0004-B"


async def test_every_change_lands_in_history(db: Database) -> None:
    tickets = TicketRepository(db)
    number = (await tickets.open_for_call(draft())).ticket.number
    at = T0 + timedelta(minutes=5)
    changed = await tickets.update(
        number,
        {"level": "2", "description": "MCU reboots every hour", "status": "in_progress"},
        "alice",
        at=at,
    )
    assert changed.level == 2 and changed.status is TicketStatus.IN_PROGRESS
    assert changed.responded_at == at
    fields = [(h.field, h.old, h.new, h.by) for h in changed.history[1:]]
    assert ("level", "1", "2", "alice") in fields
    assert ("status", "open", "in_progress", "alice") in fields
    assert ("description", "MCU down, all sites cut off", "MCU reboots every hour", "alice") in (
        fields
    )
    assert all(h.at == at for h in changed.history[1:])
    # Unchanged values write nothing.
    same = await tickets.update(number, {"level": 2}, "bob", at=at)
    assert len(same.history) == len(changed.history)


async def test_bad_change_writes_nothing(db: Database) -> None:
    tickets = TicketRepository(db)
    number = (await tickets.open_for_call(draft())).ticket.number
    with pytest.raises(InvalidInput) as err:
        await tickets.update(number, {"description": "ok", "level": 7}, "alice")
    assert err.value.field == "level"
    with pytest.raises(InvalidInput):
        await tickets.update(number, {"description": "x" * 4001}, "alice")
    with pytest.raises(InvalidInput):
        await tickets.update(number, {"caller_number": "1\r\nAction: Originate"}, "alice")
    with pytest.raises(InvalidInput):
        await tickets.update(number, {"no_such_field": "x"}, "alice")
    with pytest.raises(TicketNotFound):
        await tickets.update("HL-20990101-0001", {"level": 2}, "alice")
    unchanged = await tickets.get(number)
    assert unchanged is not None and unchanged.description == "MCU down, all sites cut off"
    assert len(unchanged.history) == 1


async def test_sql_metacharacters_stored_verbatim(db: Database) -> None:
    tickets = TicketRepository(db)
    hostile = "'; DROP TABLE tickets; -- 100% _off_ \\ <script>alert(1)</script>"
    number = (await tickets.open_for_call(draft(description=hostile))).ticket.number
    got = await tickets.get(number)
    assert got is not None and got.description == hostile
    assert [t.number for t in await tickets.list(TicketFilter(text="100% _off_"))] == [number]
    assert await tickets.list(TicketFilter(text="100%%")) == []


async def test_history_is_append_only(db: Database) -> None:
    tickets = TicketRepository(db)
    await tickets.open_for_call(draft())
    for stmt in (update(TicketHistoryRow).values(by="mallory"), delete(TicketHistoryRow)):
        with pytest.raises(DBAPIError):
            async with db.sessions.begin() as session:
                await session.execute(stmt)
    async with db.sessions() as session:
        assert (await session.scalars(select(TicketHistoryRow.by))).all() == ["system"]


async def test_callback_due_keeps_the_clock(db: Database) -> None:
    tickets = TicketRepository(db)
    opened = (await tickets.open_for_call(draft())).ticket
    later = T0 + timedelta(minutes=3)
    marked = await tickets.mark_callback_due(opened.call_id or "", later)
    assert marked is not None and marked.status is TicketStatus.CALLBACK_DUE
    assert marked.response_due == opened.response_due and marked.onsite_due == opened.onsite_due
    assert marked.history[-1].field == "status" and marked.history[-1].new == "callback_due"
    again = await tickets.mark_callback_due(opened.call_id or "", later)
    assert again is not None and len(again.history) == len(marked.history)
    assert await tickets.mark_callback_due("no-such-call", later) is None


async def test_list_newest_first_with_paging_and_filters(db: Database) -> None:
    tickets = TicketRepository(db)
    for i in range(5):
        await tickets.open_for_call(
            draft(f"p{i}", created_at=T0 + timedelta(minutes=i), level=1 + i % 2)
        )
    page1 = await tickets.list(limit=2)
    assert [t.call_id for t in page1] == ["p4", "p3"]
    page2 = await tickets.list(limit=2, before=page1[-1].number)
    assert [t.call_id for t in page2] == ["p2", "p1"]
    assert {t.call_id for t in await tickets.list(TicketFilter(level=2))} == {"p1", "p3"}
    assert await tickets.list(TicketFilter(site_code="999")) == []


async def test_logs_and_satisfaction(db: Database) -> None:
    tickets = TicketRepository(db)
    number = (await tickets.open_for_call(draft())).ticket.number
    at = T0 + timedelta(hours=1)
    await tickets.add_service_entry(
        number, symptom="no video", action="reset MCU", result="restored", by="eve", at=at
    )
    await tickets.add_progress(number, text="spare board ordered", by="eve", at=at)
    scored = await tickets.record_satisfaction(number, 1, at=at)
    assert scored.satisfaction == 1 and scored.satisfaction_at == at
    assert scored.service_log[0].action == "reset MCU"
    assert scored.progress_log[0].text == "spare board ordered"
    assert [h.field for h in scored.history[1:]] == ["service_log", "progress_log", "satisfaction"]
    with pytest.raises(InvalidInput):
        await tickets.record_satisfaction(number, 6, at=at)
    na = await tickets.record_satisfaction(number, None, at=at)
    assert na.satisfaction is None and na.satisfaction_at == at


async def test_times_come_back_aware_utc(db: Database) -> None:
    tickets = TicketRepository(db)
    number = (await tickets.open_for_call(draft())).ticket.number
    async with db.sessions() as session:
        row = await session.scalar(select(TicketRow).where(TicketRow.number == number))
    assert row is not None and row.created_at == T0 and row.created_at.tzinfo is not None


async def test_level_or_site_change_recomputes_deadlines(db: Database) -> None:
    from routing.domain.levels import SlaPolicy
    from storage.models import SiteRow

    async with db.sessions.begin() as session:
        session.add(
            SiteRow(
                site_code="300001",
                organisation="o",
                site_name="far",
                distance_km=300.0,
                updated_at=T0,
            )
        )
    tickets = TicketRepository(db, policy=SlaPolicy())
    number = (await tickets.open_for_call(draft(site_code=None))).ticket.number
    later = T0 + timedelta(minutes=10)
    p3 = await tickets.update(number, {"level": 3}, "alice", at=later)
    # From the opening time, not from the edit: P3 answers in 2 h, on site in 24 h.
    assert p3.response_due == T0 + timedelta(hours=2)
    assert p3.onsite_due == T0 + timedelta(hours=24)
    assert {h.field for h in p3.history} >= {"level", "response_due", "onsite_due"}
    # A far site (300 km → 24 h band) with P2 (12 h): the stricter 12 h applies.
    p2 = await tickets.update(number, {"level": 2, "site_code": "300001"}, "alice", at=later)
    assert p2.onsite_due == T0 + timedelta(hours=12)
    p4 = await tickets.update(number, {"level": 4}, "alice", at=later)
    assert p4.onsite_due is None and p4.response_due == T0 + timedelta(hours=2)
    # Without a policy the repository leaves the deadlines alone.
    plain = await TicketRepository(db).update(number, {"level": 1}, "bob", at=later)
    assert plain.response_due == p4.response_due


async def test_odd_caller_ids_never_cost_a_ticket(db: Database) -> None:
    tickets = TicketRepository(db)
    opening = await tickets.open_for_call(
        draft(caller_name="Site\r\ncaller\x07" + "x" * 500, caller_number="+86 138\r\n0013 8000")
    )
    ticket = opening.ticket
    assert opening.created and ticket.caller_name.startswith("Site caller x")
    assert len(ticket.caller_name) == 200 and "\r" not in ticket.caller_number
    # A description typed by a person is refused instead (clear error, nothing written).
    with pytest.raises(InvalidInput):
        await tickets.create(draft(None, description="d" * 5000, source=TicketSource.MANUAL))


async def test_opened_record_equals_what_a_read_gives(db: Database) -> None:
    from datetime import timezone

    cst = timezone(timedelta(hours=8))
    tickets = TicketRepository(db)
    opened = await tickets.open_for_call(
        draft(
            created_at=T0.astimezone(cst), response_due=(T0 + timedelta(minutes=30)).astimezone(cst)
        )
    )
    assert opened.ticket == await tickets.get(opened.ticket.number)
    assert opened.ticket.created_at.utcoffset() == timedelta(0)
    manual = await tickets.create(draft(None, source=TicketSource.MANUAL))
    assert manual == await tickets.get(manual.number)
