"""`CallEventStore` on SQLAlchemy: each call event's writes in one transaction.

The ticket change and the call record of one event go into one transaction, and the
transactions of events that arrive together are one (`storage.group_commit`). Tickets are
read here without their history (only their state decides what an event changes); a new
ticket is inserted and its record built from what was written, never read back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calls import CallSnapshot
from routing.domain.answering import answered_changes
from routing.domain.ticket_form import validate_changes
from routing.errors import InvalidInput
from routing.records import NewTicket, TicketOpening
from storage.calls import CallRepository
from storage.group_commit import GroupCommit
from storage.models import TicketRow
from storage.tickets import TicketRepository, check_call_id, to_ticket, with_details


class CallEventWriter:
    """Implements `routing.ports.CallEventStore`."""

    def __init__(
        self, commits: GroupCommit, tickets: TicketRepository, calls: CallRepository
    ) -> None:
        self.commits = commits
        self.tickets = tickets
        self.calls = calls

    async def record_call(
        self, call: CallSnapshot, *, agent: str | None = None, ticket_number: str | None = None
    ) -> None:
        self.calls.values(call)  # a bad snapshot fails here, alone, not in the batch

        async def job(session: AsyncSession) -> None:
            await self.calls.write(session, call, agent=agent, ticket_number=ticket_number)

        await self.commits.run(job)

    async def open_ticket(self, call: CallSnapshot, draft: NewTicket) -> TicketOpening:
        if draft.call_id is None:
            raise InvalidInput("call_id", "a call ticket needs the call id")
        check_call_id(draft.call_id)
        values = self.tickets.draft_values(draft)
        self.calls.values(call)

        async def job(session: AsyncSession) -> TicketOpening:
            found = await session.scalar(
                select(TicketRow.id).where(TicketRow.call_id == draft.call_id)
            )
            if found is not None:
                row = await session.scalar(
                    with_details(select(TicketRow).where(TicketRow.id == found))
                )
                assert row is not None
                opening = TicketOpening(to_ticket(row), created=False)
            else:
                ticket = await self.tickets.insert_new(session, dict(values), draft)
                opening = TicketOpening(ticket, created=True)
            await self.calls.write(session, call, ticket_number=opening.ticket.number)
            return opening

        return await self.commits.run(job)

    async def answer(
        self,
        call: CallSnapshot,
        *,
        incident: str | None,
        agent: str | None,
        at: datetime,
        note: str,
    ) -> str | None:
        self.calls.values(call)

        async def job(session: AsyncSession) -> str | None:
            row = await self.tickets.locked_state(session, call.call_id, incident)
            if row is None:
                return None
            changes = answered_changes(
                status=row.status,
                duty_agent=row.duty_agent,
                responded_at=row.responded_at,
                agent=agent,
                at=at,
            )
            values = validate_changes(changes)
            self.tickets.add_milestones(row, values, at)
            if self.tickets.apply_changes(session, row, values, by="system", at=at, note=note):
                row.updated_at = at
            await self.calls.write(session, call, agent=agent, ticket_number=row.number)
            return row.number

        return await self.commits.run(job)

    async def end(
        self,
        call: CallSnapshot,
        *,
        incident: str | None,
        agent: str | None,
        callback: bool,
        at: datetime,
    ) -> str | None:
        self.calls.values(call)

        async def job(session: AsyncSession) -> str | None:
            row = await self.tickets.locked_state(session, call.call_id, incident)
            number = row.number if row is not None else None
            if row is not None and callback and row.call_id == call.call_id:
                self.tickets.set_callback_due(session, row, at)
            await self.calls.write(session, call, agent=agent, ticket_number=number)
            return number

        return await self.commits.run(job)

    async def callback_due(self, call_id: str, at: datetime) -> None:
        async def job(session: AsyncSession) -> None:
            row = await self.tickets.locked_state(session, call_id, None)
            if row is not None:
                self.tickets.set_callback_due(session, row, at)

        await self.commits.run(job)
