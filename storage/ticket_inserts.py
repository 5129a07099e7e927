"""New tickets' rows written with Core statements: every column from the draft, the rows
inserted (one ticket, or several in one statement), each one's first history row, and
their records built from what was written, never read back. The ticket numbers come from
the caller (`storage.ticket_numbers`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from routing.records import NewTicket, Ticket
from storage.group_commit import deferred
from storage.models import TicketHistoryRow, TicketRow
from storage.ticket_rows import HISTORY_INSERT, TICKETS, to_ticket

# Column defaults of a ticket, for the record of one inserted with Core statements.
_TICKET_DEFAULTS: dict[str, Any] = {
    c.key: c.default.arg
    for c in TicketRow.__table__.c
    if c.default is not None and getattr(c.default, "is_scalar", False)
}


_TICKET_INSERT = insert(TICKETS).returning(TICKETS.c.id)
# Several tickets' rows in one statement, with their ids.
_TICKETS_INSERT = insert(TICKETS).returning(TICKETS.c.id, TICKETS.c.number)


def new_ticket_fields(values: dict[str, Any], draft: NewTicket, number: str) -> dict[str, Any]:
    """Every column of the new ticket `number` (`values`: the draft's, checked)."""
    opened_at = draft.created_at.astimezone(UTC)
    fields = _TICKET_DEFAULTS | values
    fields.update(number=number, call_id=draft.call_id, created_at=opened_at, updated_at=opened_at)
    return fields


async def insert_ticket(session: AsyncSession, fields: dict[str, Any], draft: NewTicket) -> Ticket:
    """Insert the ticket (`new_ticket_fields`) and its first history row."""
    ticket_id = (await session.execute(_TICKET_INSERT, fields)).scalar_one()
    return await _opened(session, ticket_id, fields, draft)


async def insert_tickets(
    session: AsyncSession, rows: Sequence[tuple[dict[str, Any], NewTicket]]
) -> list[Ticket]:
    """`insert_ticket` for each of `rows` (fields and draft), in one statement for each
    set of columns (usually one); each id is matched to its row by the ticket number, so
    the database may return them in any order."""
    ids: dict[str, int] = {}
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for fields, _ in rows:
        by_columns.setdefault(tuple(sorted(fields)), []).append(fields)
    for params in by_columns.values():
        for ticket_id, number in (await session.execute(_TICKETS_INSERT, params)).all():
            ids[number] = ticket_id
    return [await _opened(session, ids[fields["number"]], fields, draft) for fields, draft in rows]


async def _opened(
    session: AsyncSession, ticket_id: int, fields: dict[str, Any], draft: NewTicket
) -> Ticket:
    """The new ticket's first history row (left to the end of a batch) and its record,
    built from what was written."""
    history = {
        "ticket_id": ticket_id,
        "at": fields["created_at"],
        "by": draft.created_by,
        "field": "ticket",
        "old": None,
        "new": fields["number"],
        "note": f"opened ({fields['source']}), level {fields['level']}",
    }
    batch = deferred(session)
    if batch is not None:
        batch.add(HISTORY_INSERT, history)  # no job of the batch reads it
    else:
        await session.execute(HISTORY_INSERT, history)
    row = TicketRow(id=ticket_id, **fields)  # never added to the session
    return to_ticket(row, history=[TicketHistoryRow(**history)], log_rows=[])
