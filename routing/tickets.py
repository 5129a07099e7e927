"""Automatic tickets: every call that queues gets one, without anyone typing.

`CallTicketService` consumes the call tracker's domain events (through
`hotline.pipeline.CallEventPipeline`, which keeps one call's events in order):

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

Store errors propagate: the pipeline retries a `StoreUnavailable` with back-off.
"""

from __future__ import annotations

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
from routing.domain.answering import answered_changes
from routing.domain.deadlines import deadlines_for, unidentified_level
from routing.domain.levels import SlaPolicy
from routing.ports import CallStore, SiteDirectory, TicketStore, UserStore
from routing.records import NewTicket, Ticket, TicketSource

log = logging.getLogger(__name__)

SYSTEM = "system"


class CallTicketService:
    def __init__(
        self,
        *,
        tickets: TicketStore,
        calls: CallStore,
        sites: SiteDirectory,
        users: UserStore,
        policy: SlaPolicy,
        clock: Clock = utc_now,
    ) -> None:
        self.tickets = tickets
        self.calls = calls
        self.sites = sites
        self.users = users
        self.policy = policy
        self.clock = clock
        self.opened = 0

    async def handle(self, event: DomainCallEvent) -> None:
        if isinstance(event, CallStarted):
            await self.calls.upsert(event.call)
        elif isinstance(event, CallQueued):
            await self._queued(event)
        elif isinstance(event, AgentRinging) and event.call.queue is None:
            await self._queued(event)  # the caller's own engineer rings before the queue
        elif isinstance(event, CallAnswered):
            await self._answered(event)
        elif isinstance(event, CallAbandoned):
            await self.tickets.mark_callback_due(event.call_id, event.at)
        elif isinstance(event, CallEnded):
            await self._ended(event)

    async def _agent_name(self, call: CallSnapshot) -> str | None:
        if not call.agent_interface:
            return None
        user = await self.users.by_interface(call.agent_interface)
        return user.username if user is not None else None

    async def open_ticket(self, call: CallSnapshot, at: datetime) -> Ticket:
        """The ticket of `call`, opened now if it has none (idempotent per call id).

        `open_for_call` itself returns the call's existing ticket, so the usual path reads
        it once (screen-pop and throughput: this runs for every queued call)."""
        incident = call.variables.get("HOTLINE_INCIDENT") or ""
        if incident:
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
        opening = await self.tickets.open_for_call(
            NewTicket(
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
        )
        if opening.created:
            self.opened += 1
            log.info(
                "call %s: opened ticket %s (level %d, site %s)",
                call.call_id,
                opening.ticket.number,
                level,
                call.site_code or "unidentified",
            )
        return opening.ticket

    async def _queued(self, event: CallQueued | AgentRinging) -> None:
        ticket = await self.open_ticket(event.call, event.at)
        await self.calls.upsert(event.call, ticket_number=ticket.number)

    async def _ticket_of(self, call: CallSnapshot) -> Ticket | None:
        """The call's own ticket, or the incident's it joined (without joining it again)."""
        ticket = await self.tickets.get_by_call(call.call_id)
        incident = call.variables.get("HOTLINE_INCIDENT")
        if ticket is None and incident:
            ticket = await self.tickets.get(incident)
        return ticket

    async def _answered(self, event: CallAnswered) -> None:
        agent = await self._agent_name(event.call)
        ticket = await self._ticket_of(event.call)
        if ticket is None:  # answered without our seeing the join (resync): open it now
            ticket = await self.open_ticket(event.call, event.at)
        changes = answered_changes(
            status=ticket.status.value,
            duty_agent=ticket.duty_agent,
            responded_at=ticket.responded_at,
            agent=agent,
            at=event.at,
        )
        if changes:
            await self.tickets.update(
                ticket.number,
                changes,
                SYSTEM,
                at=event.at,
                note=f"answered by {agent or event.interface}",
            )
        await self.calls.upsert(event.call, agent=agent, ticket_number=ticket.number)

    async def _ended(self, event: CallEnded) -> None:
        call = event.call
        ticket = await self._ticket_of(call)
        if ticket is None and call.queued_at is not None:
            ticket = await self.open_ticket(call, event.at)  # queued while we were away
        if ticket is not None and call.outcome in (CallOutcome.ABANDONED, CallOutcome.NO_AGENT):
            await self.tickets.mark_callback_due(call.call_id, event.at)
        await self.calls.upsert(
            call,
            agent=await self._agent_name(call),
            ticket_number=ticket.number if ticket is not None else None,
        )

    async def record_score(self, call_ref: str, score: int | None) -> None:
        """The IVR's survey result (`ivr.ports.SurveySinkPort`)."""
        ticket = await self.tickets.get_by_call(call_ref)
        if ticket is None:
            log.warning("call %s: survey score %s but the call has no ticket", call_ref, score)
            return
        await self.tickets.record_satisfaction(
            ticket.number, score, at=self.clock(), call_id=call_ref
        )
