"""Automatic tickets: every call that queues gets one, without anyone typing.

`CallTicketService` consumes the call tracker's domain events (the `tickets` stage of
`pipeline.CallPipeline`, which keeps one call's events in order). Each event is one
transaction holding its ticket change and its call record (`routing.ports.CallEventStore`),
and events of different calls that arrive together share it:

* ``CallStarted`` → the call record exists from the first second (a call that dies in
  the IVR still leaves a record).
* ``CallQueued``, or ``AgentRinging`` of the preferred-engineer Dial() before the queue
  (the call's ``queue`` is None then) → the ticket is opened, idempotently per call id (a
  resync or a replayed event returns the existing ticket): level from the IVR (an
  unidentified caller counts as level 2 until an agent corrects it), site, caller, and the
  response/on-site deadlines from the `SlaPolicy` and the site's distance. A caller who
  pressed 1 for an announced outage joins that incident's ticket instead of opening a new
  one.
* ``CallAnswered`` → duty agent and ``in_progress`` on the ticket, answer time on the
  call record.
* ``CallAbandoned`` / a call that ended queued with nobody answering → ``callback_due``,
  the SLA clock still running.
* ``CallEnded`` → the final call record (outcome, times, agent, ticket number).

Whether a call opens a new ticket or is attached to an existing one is decided in one
place, `ticket_to_join`. The tickets of live calls are kept in memory (`known_ticket`)
for the screen-pop, which then needs no database read for them.

Store errors propagate: the pipeline retries a `StoreUnavailable` with back-off.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime

from calls import (
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallOutcome,
    CallQueued,
    CallSnapshot,
    CallStarted,
    DomainCallEvent,
)
from calls.clock import Clock, utc_now
from routing.domain.deadlines import deadlines_for, unidentified_level
from routing.domain.levels import SlaPolicy
from routing.ports import CallEventStore, CallStore, SiteDirectory, TicketStore, UserStore
from routing.records import NewTicket, Ticket, TicketSource

log = logging.getLogger(__name__)

SYSTEM = "system"
# Far more live calls than the hotline ever has at once.
KNOWN_TICKETS_KEPT = 20_000


class CallTicketService:
    def __init__(
        self,
        *,
        tickets: TicketStore,
        calls: CallStore,
        writes: CallEventStore,
        sites: SiteDirectory,
        users: UserStore,
        policy: SlaPolicy,
        clock: Clock = utc_now,
    ) -> None:
        """`writes` takes every event's ticket change and call record in one transaction;
        `tickets` and `calls` serve the rarer paths (an incident joined, a survey score)."""
        self.tickets = tickets
        self.calls = calls
        self.writes = writes
        self.sites = sites
        self.users = users
        self.policy = policy
        self.clock = clock
        self.opened = 0
        # Tickets of live calls as their queue join left them: the screen-pop shows them
        # without reading the database.
        self._known: dict[str, Ticket] = {}

    def known_ticket(self, call_id: str) -> Ticket | None:
        """The ticket this service opened or found for the live call `call_id`, if any."""
        return self._known.get(call_id)

    async def handle(self, event: DomainCallEvent) -> None:
        if isinstance(event, CallStarted):
            await self.writes.record_call(event.call)
        elif isinstance(event, CallQueued):
            await self.open_ticket(event.call, event.at)
        elif isinstance(event, AgentRinging) and event.call.queue is None:
            await self.open_ticket(event.call, event.at)  # own engineer rings before the queue
        elif isinstance(event, CallAnswered):
            await self._answered(event)
        elif isinstance(event, CallAbandoned):
            await self.writes.callback_due(event.call_id, event.at)
        elif isinstance(event, CallEnded):
            await self._ended(event)

    async def _agent_name(self, call: CallSnapshot) -> str | None:
        if not call.agent_interface:
            return None
        user = await self.users.by_interface(call.agent_interface)
        return user.username if user is not None else None

    async def open_ticket(self, call: CallSnapshot, at: datetime) -> Ticket:
        """The ticket of `call`, opened now if it has none (idempotent per call id), in
        one transaction with the call record carrying its number."""
        joined = await self.ticket_to_join(call, at)
        if joined is not None:
            await self.writes.record_call(call, ticket_number=joined.number)
            self._remember(call.call_id, joined)
            return joined
        opening = await self.writes.open_ticket(call, await self._draft(call, at))
        if opening.created:
            self.opened += 1
            log.info(
                "call %s: opened ticket %s (level %d, site %s)",
                call.call_id,
                opening.ticket.number,
                opening.ticket.level,
                call.site_code or "unidentified",
            )
        self._remember(call.call_id, opening.ticket)
        return opening.ticket

    def _remember(self, call_id: str, ticket: Ticket) -> None:
        if len(self._known) >= KNOWN_TICKETS_KEPT:
            self._known.clear()  # calls whose end we never saw (a lost AMI link)
        self._known[call_id] = ticket

    async def ticket_to_join(self, call: CallSnapshot, at: datetime) -> Ticket | None:
        """Open a new ticket for `call`, or attach it to an existing one: the existing
        ticket to attach to, None to open a new one. A caller who pressed 1 for an
        announced outage joins that incident's ticket."""
        incident = call.variables.get("HOTLINE_INCIDENT") or ""
        if not incident:
            return None
        existing = await self.tickets.get_by_call(call.call_id)
        if existing is not None:
            return existing
        joined = await self.tickets.get(incident)
        if joined is not None:
            await self.tickets.add_progress(
                joined.number,
                text=f"caller {call.caller_number} (call {call.call_id}) joined the incident",
                by=SYSTEM,
                at=at,
            )
        return joined

    async def _draft(self, call: CallSnapshot, at: datetime) -> NewTicket:
        # The profile (no tickets, cached): the ticket needs the site's name, distance
        # and contacts, not its ticket history.
        site = await self.sites.site_profile(call.site_code) if call.site_code else None
        level = unidentified_level(call.level)
        opened_at = call.queued_at or at
        deadlines = deadlines_for(
            self.policy, level, opened_at, site.distance_km if site is not None else None
        )
        contact = None
        if site is not None:
            contact = next(
                (
                    c
                    for c in site.contacts
                    if c.phone == call.caller_number
                    or c.normalised.endswith(call.caller_number[-8:])
                ),
                None,
            )
        return NewTicket(
            level=int(level),
            caller_number=call.caller_number,
            caller_name=call.caller_name,
            created_at=opened_at,
            response_due=deadlines.response_due,
            onsite_due=deadlines.onsite_due,
            source=TicketSource.CALL,
            call_id=call.call_id,
            site_code=site.site_code if site is not None else None,
            organisation=site.organisation if site is not None else "",
            contact_name=contact.name if contact is not None else "",
            contact_phone=call.caller_number,
        )

    async def _answered(self, event: CallAnswered) -> None:
        agent = await self._agent_name(event.call)
        incident = event.call.variables.get("HOTLINE_INCIDENT") or None
        note = f"answered by {agent or event.interface}"
        answer = functools.partial(
            self.writes.answer, event.call, incident=incident, agent=agent, at=event.at, note=note
        )
        if await answer() is None:
            # Answered without our seeing the join (resync): open it now, then answer.
            await self.open_ticket(event.call, event.at)
            await answer()

    async def _ended(self, event: CallEnded) -> None:
        call = event.call
        self._known.pop(call.call_id, None)
        incident = call.variables.get("HOTLINE_INCIDENT") or None
        end = functools.partial(
            self.writes.end,
            call,
            incident=incident,
            agent=await self._agent_name(call),
            callback=call.outcome in (CallOutcome.ABANDONED, CallOutcome.NO_AGENT),
            at=event.at,
        )
        if await end() is None and call.queued_at is not None:
            await self.open_ticket(call, event.at)  # queued while we were away
            self._known.pop(call.call_id, None)
            await end()

    async def record_score(self, call_ref: str, score: int | None) -> None:
        """The IVR's survey result (`ivr.ports.SurveySinkPort`)."""
        ticket = await self.tickets.get_by_call(call_ref)
        if ticket is None:
            log.warning("call %s: survey score %s but the call has no ticket", call_ref, score)
            return
        await self.tickets.record_satisfaction(
            ticket.number, score, at=self.clock(), call_id=call_ref
        )
