"""A new ticket's row written with Core statements: every column from the draft, the row
inserted (unconditionally, or only where a `TicketGuard`'s condition holds, in the same
statement), its first history row, and its record built from what was written, never
read back. The ticket number comes from the caller (`storage.ticket_numbers`)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import ColumnElement, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

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


class TicketGuard:
    """A condition under which a new ticket is inserted, as one `INSERT … SELECT … WHERE`
    statement per set of columns (built once each); its parameters are the condition's
    own, the ticket's columns are `new_<name>`."""

    def __init__(self, condition: ColumnElement[bool]) -> None:
        self.condition = condition
        self._inserts: dict[tuple[str, ...], Executable] = {}

    def insert(self, columns: tuple[str, ...]) -> Executable:
        stmt = self._inserts.get(columns)
        if stmt is None:
            row = select(*(bindparam(f"new_{c}", type_=TICKETS.c[c].type) for c in columns))
            stmt = self._inserts[columns] = (
                insert(TICKETS)
                .from_select(list(columns), row.where(self.condition))
                .returning(TICKETS.c.id)
            )
        return stmt


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


async def insert_ticket_where(
    session: AsyncSession,
    fields: dict[str, Any],
    draft: NewTicket,
    guard: TicketGuard,
    params: dict[str, Any],
) -> Ticket | None:
    """`insert_ticket` only where `guard`'s condition holds (with its `params`), in one
    statement; None when it did not."""
    new = {f"new_{name}": value for name, value in fields.items()}
    ticket_id = (await session.execute(guard.insert(tuple(sorted(fields))), new | params)).scalar()
    return None if ticket_id is None else await _opened(session, ticket_id, fields, draft)


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
