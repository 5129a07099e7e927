"""Repeat calls on SQLAlchemy: a site's open tickets, and calls joined to or split from a
ticket (history entries plus the call record's ticket number).

`RepeatCallRepository` implements `routing.ports.RepeatCallStore` (the ringing card's
read, the split); the functions taking a session are the writes the call events make in
their own transaction (`storage.call_events`): deciding which ticket a call joins is
serialised per site there, so two calls of one site never both miss each other.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from routing.domain.repeat_calls import OpenTicketView
from routing.errors import TicketNotFound
from routing.records import OPEN_STATUSES, TicketStatus
from storage.database import Database
from storage.errors import store_errors
from storage.group_commit import deferred
from storage.models import CallRow, TicketHistoryRow, TicketRow
from storage.ticket_rows import HISTORY_INSERT, TICKETS, check_actor, check_call_id, network_text
from storage.tickets import TicketRepository

REPEAT_FIELD = "repeat_call"
SPLIT_FIELD = "split_call"
# A repeat call whose caller hung up before an agent answered (once per call).
CALLBACK_FIELD = "repeat_callback"
# First key of the PostgreSQL advisory locks that serialise a site's repeat decisions.
SITE_LOCK_SPACE = 0x48_4C_52  # "HLR"
# Statuses a repeat caller's hang-up turns into `callback_due`.
CALLBACK_FROM = frozenset({TicketStatus.OPEN.value, TicketStatus.IN_PROGRESS.value})


# A repeat call considers at most this many of its site's open tickets, newest first.
CANDIDATES = 50


# Any select of ticket columns.
_S = TypeVar("_S", bound="Select[*tuple[Any, ...]]")


def open_at_site(stmt: _S, site_code: Any, since: Any) -> _S:
    """`stmt` (a select of ticket columns) narrowed to the site's open tickets opened at
    or after `since` (a UTC time, or a bound parameter), newest first."""
    return (
        stmt.where(
            TicketRow.site_code == site_code,
            TicketRow.status.in_(sorted(s.value for s in OPEN_STATUSES)),
            TicketRow.created_at >= since,
        )
        .order_by(TicketRow.created_at.desc())
        .limit(CANDIDATES)
    )


def candidate(row: Any) -> OpenTicketView:
    return OpenTicketView(row.number, row.level, row.status, row.created_at, row.call_id)


async def _open_at_site(
    session: AsyncSession, site_code: str, since: datetime
) -> list[OpenTicketView]:
    """The site's open tickets opened at or after `since`, newest first."""
    columns = select(
        TicketRow.number, TicketRow.level, TicketRow.status, TicketRow.created_at, TicketRow.call_id
    )
    rows = (await session.execute(open_at_site(columns, site_code, since.astimezone(UTC)))).all()
    return [candidate(r) for r in rows]


# A ticket's `updated_at`, set by a constant statement (compiled once).
_TOUCH = (
    update(TICKETS).where(TICKETS.c.id == bindparam("row_id")).values(updated_at=bindparam("at"))
)


def site_lock_key(site_code: str) -> int:
    """The site's advisory lock key (a signed 32-bit number, the same in every process)."""
    crc = zlib.crc32(site_code.encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def site_lock(site_code: str) -> tuple[int, int]:
    """The advisory lock that serialises the site's repeat decisions to the commit, taken
    before its open tickets are read in the write transaction (`GroupCommit.run`'s
    `locks`): on PostgreSQL a transaction that waited for it reads the ticket the other
    committed; SQLite's write transactions are serial already (BEGIN IMMEDIATE)."""
    return SITE_LOCK_SPACE, site_lock_key(site_code)


def repeat_note(call_id: str, caller_number: str) -> str:
    caller = network_text(caller_number, 64) or "unknown number"
    return f"repeat call from {caller} (call {call_id}) joined this ticket"


async def note_in(
    session: AsyncSession,
    ticket_id: int,
    *,
    field: str,
    call_id: str,
    note: str,
    by: str,
    at: datetime,
    once: bool,
) -> bool:
    """One history entry about call `call_id` on the ticket (with `once`, unless it is
    there already: False then) and the ticket's `updated_at`."""
    if once:
        seen = await session.scalar(
            select(TicketHistoryRow.id).where(
                TicketHistoryRow.ticket_id == ticket_id,
                TicketHistoryRow.field == field,
                TicketHistoryRow.new == call_id,
            )
        )
        if seen is not None:
            return False
    entry = {
        "ticket_id": ticket_id,
        "at": at,
        "by": by,
        "field": field,
        "old": None,
        "new": call_id,
        "note": note,
    }
    batch = deferred(session)
    if batch is not None:
        batch.add(HISTORY_INSERT, entry)  # read again only by this call's later jobs
    else:
        await session.execute(HISTORY_INSERT, entry)
    await session.execute(_TOUCH, {"row_id": ticket_id, "at": at})
    return True


async def repeat_callback_in(
    session: AsyncSession,
    tickets: TicketRepository,
    row: TicketRow,
    *,
    call_id: str,
    caller_number: str,
    at: datetime,
) -> bool:
    """The caller of a repeat call hung up before an agent answered: the ticket it joined
    says which call to call back and is due for a callback (from open or in progress),
    once per call. False: this call did not join `row` as a repeat call (an incident's
    callers, say), or its hang-up was noted already."""
    joined = await session.scalar(
        select(TicketHistoryRow.id).where(
            TicketHistoryRow.ticket_id == row.id,
            TicketHistoryRow.field == REPEAT_FIELD,
            TicketHistoryRow.new == call_id,
        )
    )
    if joined is None:
        return False
    caller = network_text(caller_number, 64) or "unknown number"
    note = f"repeat call from {caller} (call {call_id}) hung up before an agent answered"
    if not await note_in(
        session,
        row.id,
        field=CALLBACK_FIELD,
        call_id=call_id,
        note=note,
        by="system",
        at=at,
        once=True,
    ):
        return False
    changed = tickets.set_callback_due(
        session, row, at, call_id=call_id, note=f"{note}: call back", statuses=CALLBACK_FROM
    )
    await tickets.save_state(session, row, changed)
    return True


class RepeatCallRepository:
    """Implements `routing.ports.RepeatCallStore`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def open_at_site(self, site_code: str, since: datetime) -> Sequence[OpenTicketView]:
        with store_errors():
            async with self.db.reads() as session:
                return await _open_at_site(session, site_code, since)

    async def note_split(
        self, number: str, *, call_id: str, new_number: str, by: str, at: datetime
    ) -> None:
        check_call_id(call_id)
        check_actor(by)
        note = f"call {call_id} split off into ticket {new_number}"
        with store_errors():
            async with self.db.sessions.begin() as session:
                ticket_id = await session.scalar(
                    select(TicketRow.id).where(TicketRow.number == number).with_for_update()
                )
                if ticket_id is None:
                    raise TicketNotFound(number)
                await note_in(
                    session,
                    ticket_id,
                    field=SPLIT_FIELD,
                    call_id=call_id,
                    note=note,
                    by=by,
                    at=at,
                    once=False,
                )

    async def ticket_number_of_call(self, call_id: str) -> str | None:
        """The ticket the call record points at (its own, or the one it joined)."""
        with store_errors():
            async with self.db.reads() as session:
                return await session.scalar(
                    select(CallRow.ticket_number).where(CallRow.call_id == call_id)
                )

    async def move_call(self, call_id: str, number: str) -> bool:
        """Point the call record at another ticket; False when there is no such call."""
        with store_errors():
            async with self.db.sessions.begin() as session:
                result = await session.execute(
                    update(CallRow).where(CallRow.call_id == call_id).values(ticket_number=number)
                )
        return bool(getattr(result, "rowcount", 0))
