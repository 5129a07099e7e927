"""`BackfillTicketSink` on the routing package's `TicketStore` (the main ticket database).

A backfilled ticket gets source `backfill`, the paper number, and SLA deadlines counted
from when the call came in (the clock did not stop during the outage). A call that already
had a ticket (opened automatically while the database was up) keeps it: `open_for_call` is
idempotent per call id, and the paper's content goes into that ticket: its description
when it has none, otherwise a progress entry `paper E000002: …`; the level is raised when
the paper's is more urgent. Each change lands in the ticket's history with who and when.
A repeat call (one that joined the open ticket of its site) has that ticket: `linked`
gives the ticket its call record names, and the paper goes into it the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from calls.clock import Clock
from fallback.errors import InvalidRequest, TicketSystemUnavailable
from fallback.ports import BackfillOutcome, BackfillTicket
from routing.domain.levels import FaultLevel, SlaPolicy
from routing.errors import InvalidInput, RoutingError
from routing.ports import TicketStore
from routing.records import NewTicket, Ticket, TicketSource


class TicketStoreBackfillSink:
    def __init__(
        self,
        store: TicketStore,
        policy: SlaPolicy,
        clock: Clock,
        linked: Callable[[str], Awaitable[str | None]] | None = None,
    ) -> None:
        """`linked`: the ticket number a call's record names (the ticket a repeat call
        joined; `routing.ports.RepeatCallStore.ticket_number_of_call`)."""
        self.store = store
        self.policy = policy
        self._clock = clock
        self._linked = linked

    async def ticket_for_call(self, call_id: str) -> str | None:
        try:
            ticket = await self.store.get_by_call(call_id)
            if ticket is None and self._linked is not None:
                return await self._linked(call_id)
        except RoutingError as exc:
            raise TicketSystemUnavailable(str(exc)) from exc
        return None if ticket is None else ticket.number

    async def backfill(self, ticket: BackfillTicket) -> BackfillOutcome:
        try:
            level = FaultLevel.parse(ticket.level)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from exc
        created_at = ticket.started_at
        onsite = self.policy.onsite_window(level, None)
        draft = NewTicket(
            level=int(level),
            caller_number=ticket.caller_number,
            created_at=created_at,
            response_due=created_at + self.policy.response_window(level),
            onsite_due=None if onsite is None else created_at + onsite,
            source=TicketSource.BACKFILL,
            call_id=ticket.call_id,
            site_code=ticket.site_code,
            caller_name=ticket.caller_name,
            description=ticket.description,
            paper_number=ticket.paper_number,
            created_by=ticket.by,
        )
        try:
            if ticket.call_id is None:
                created = await self.store.create(draft)
                return BackfillOutcome(created.number, True)
            joined = await self._joined(ticket.call_id)
            if joined is not None:
                await self._add_paper(joined, ticket, level)
                return BackfillOutcome(joined.number, False)
            opening = await self.store.open_for_call(draft)
            if not opening.created:
                await self._add_paper(opening.ticket, ticket, level)
            return BackfillOutcome(opening.ticket.number, opening.created)
        except InvalidInput as exc:
            raise InvalidRequest(str(exc)) from exc
        except RoutingError as exc:
            raise TicketSystemUnavailable(str(exc)) from exc

    async def _joined(self, call_id: str) -> Ticket | None:
        """The ticket another call opened that this one joined as a repeat call."""
        number = await self._linked(call_id) if self._linked is not None else None
        ticket = await self.store.get(number) if number else None
        return ticket if ticket is not None and ticket.call_id != call_id else None

    async def _add_paper(self, existing: Ticket, paper: BackfillTicket, level: FaultLevel) -> None:
        at = self._clock()
        changes: dict[str, object] = {}
        if not (existing.description or "").strip():
            changes["description"] = paper.description
        if int(level) < existing.level:  # 1 is the most urgent
            changes["level"] = int(level)
        if changes:
            await self.store.update(
                existing.number, changes, paper.by, note=f"paper {paper.paper_number}", at=at
            )
        if "description" not in changes:
            await self.store.add_progress(
                existing.number,
                text=f"paper {paper.paper_number}: {paper.description}",
                by=paper.by,
                at=at,
            )
