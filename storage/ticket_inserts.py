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
# Several tickets' rows in one statement, their ids in the order of the rows.
_TICKETS_INSERT = insert(TICKETS).returning(TICKETS.c.id, sort_by_parameter_order=True)


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
    set of columns (usually one): the ids come back in the order of the rows."""
    ids: list[int] = [0] * len(rows)
    by_columns: dict[tuple[str, ...], list[int]] = {}
    for n, (fields, _) in enumerate(rows):
        by_columns.setdefault(tuple(sorted(fields)), []).append(n)
    for numbers in by_columns.values():
        params = [rows[n][0] for n in numbers]
        result = await session.execute(_TICKETS_INSERT, params)
        for n, ticket_id in zip(numbers, result.scalars().all(), strict=True):
            ids[n] = ticket_id
    return [
        await _opened(session, ticket_id, fields, draft)
        for ticket_id, (fields, draft) in zip(ids, rows, strict=True)
    ]


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
