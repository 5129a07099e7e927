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
  one; a call from a site with an open ticket opened within the repeat window joins that
  ticket (`join_repeat_ticket`, the rule of `routing.domain.repeat_calls`). A level-1
  call has the engineer on call paged at once (`LevelOnePager`), before anyone answers.
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
from datetime import datetime, timedelta

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
from routing.domain.levels import FaultLevel, SlaPolicy
from routing.domain.repeat_calls import OpenTicketView, repeat_target
from routing.errors import InvalidInput, TicketNotFound
from routing.ports import (
    CallEventStore,
    CallStore,
    LevelOnePager,
    RepeatCallStore,
    SiteDirectory,
    TicketStore,
    UserStore,
)
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
        repeats: RepeatCallStore | None = None,
        repeat_window: timedelta = timedelta(0),
        pager: LevelOnePager | None = None,
    ) -> None:
        """`writes` takes every event's ticket change and call record in one transaction;
        `tickets` and `calls` serve the rarer paths (an incident joined, a survey score).
        Without `repeats` (or with a zero `repeat_window`) every call opens its own
        ticket; without `pager` nobody is paged."""
        self.repeats = repeats
        self.repeat_window = repeat_window
        self.pager = pager
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
            await self._page_if_level_one(call, joined, at)
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
        await self._page_if_level_one(call, opening.ticket, at)
        return opening.ticket

    async def _page_if_level_one(self, call: CallSnapshot, ticket: Ticket, at: datetime) -> None:
        """The IVR's level-1 keypress (or a level-1 ticket joined): the engineer on call
        is paged now, before anyone answers (once per ticket)."""
        one = int(FaultLevel.P1)
        if self.pager is None or (call.level != one and ticket.level != one):
            return
        await self.pager.request_page(
            ticket_number=ticket.number,
            site_code=ticket.site_code,
            caller_number=call.caller_number,
            reason="keypress" if call.level == one else "level_1",
            at=at,
        )

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
            return await self.join_repeat_ticket(call, at)
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

    async def repeat_of(self, call: CallSnapshot, at: datetime) -> OpenTicketView | None:
        """The open ticket of the call's site that this call repeats, decided without
        writing anything (the ringing card asks this too); None: a ticket of its own."""
        candidates = await self._repeat_candidates(call, at)
        return self._repeat_rule(call, at, candidates) if candidates else None

    async def _repeat_candidates(self, call: CallSnapshot, at: datetime) -> list[OpenTicketView]:
        if self.repeats is None or self.repeat_window <= timedelta(0) or not call.site_code:
            return []
        since = (call.queued_at or at) - self.repeat_window
        return list(await self.repeats.open_at_site(call.site_code, since))

    def _repeat_rule(
        self, call: CallSnapshot, at: datetime, candidates: list[OpenTicketView]
    ) -> OpenTicketView | None:
        return repeat_target(
            call_id=call.call_id,
            level=int(unidentified_level(call.level)),
            at=call.queued_at or at,
            window=self.repeat_window,
            candidates=candidates,
        )

    async def join_repeat_ticket(self, call: CallSnapshot, at: datetime) -> Ticket | None:
        """The ticket a repeat call joins (its "repeat call" history entry written once),
        or None when the call gets a ticket of its own. A call already linked to a
        ticket keeps it, so replays and the later events of the call agree. The usual
        call (no open ticket at its site) costs one read."""
        candidates = await self._repeat_candidates(call, at)
        if not candidates or self.repeats is None:
            return None
        linked = await self.repeats.ticket_number_of_call(call.call_id)
        if linked is not None:
            return await self.tickets.get(linked)
        if any(c.call_id == call.call_id for c in candidates):
            return None  # its own ticket is open already: opening returns it
        target = self._repeat_rule(call, at, candidates)
        if target is None:
            return None
        if await self.repeats.note_repeat_call(
            target.number, call_id=call.call_id, caller_number=call.caller_number, at=at
        ):
            log.info("call %s: repeat call, joined ticket %s", call.call_id, target.number)
        return await self.tickets.get(target.number)

    async def _joined_number(self, call: CallSnapshot) -> str | None:
        """The ticket a repeat call joined (None for a call with its own ticket)."""
        known = self._known.get(call.call_id)
        if known is not None:
            return known.number if known.call_id != call.call_id else None
        if self.repeats is None:
            return None
        return await self.repeats.ticket_number_of_call(call.call_id)  # after a restart

    async def split_call(self, number: str, call_id: str, *, by: str) -> Ticket:
        """Give a call that joined ticket `number` a ticket of its own (same site, caller
        and level); both tickets' histories say so. Raises TicketNotFound, InvalidInput."""
        if self.repeats is None:
            raise InvalidInput("call_id", "repeat calls are not merged here")
        old = await self.tickets.get(number)
        if old is None:
            raise TicketNotFound(number)
        if old.call_id == call_id:
            raise InvalidInput("call_id", "this call opened the ticket: nothing to split")
        if await self.repeats.ticket_number_of_call(call_id) != number:
            raise InvalidInput("call_id", "the call is not attached to this ticket")
        record = await self.calls.get(call_id)
        if record is None:
            raise InvalidInput("call_id", "no such call")
        at = self.clock()
        site = await self.sites.site_profile(old.site_code) if old.site_code else None
        deadlines = deadlines_for(
            self.policy, old.level, at, site.distance_km if site is not None else None
        )
        opening = await self.tickets.open_for_call(
            NewTicket(
                level=old.level,
                caller_number=record.caller_number,
                caller_name=record.caller_name,
                created_at=at,
                response_due=deadlines.response_due,
                onsite_due=deadlines.onsite_due,
                source=TicketSource.CALL,
                call_id=call_id,
                site_code=old.site_code,
                organisation=old.organisation,
                contact_phone=record.caller_number,
                created_by=by,
            )
        )
        await self.repeats.move_call(call_id, opening.ticket.number)
        await self.repeats.note_split(
            number, call_id=call_id, new_number=opening.ticket.number, by=by, at=at
        )
        if call_id in self._known:
            self._known[call_id] = opening.ticket
        log.info("call %s: split from %s into %s by %s", call_id, number, opening.ticket.number, by)
        return opening.ticket

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
        incident = event.call.variables.get("HOTLINE_INCIDENT") or await self._joined_number(
            event.call
        )
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
        incident = call.variables.get("HOTLINE_INCIDENT") or await self._joined_number(call)
        self._known.pop(call.call_id, None)
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
        if ticket is None and self.repeats is not None:  # a repeat call: the ticket it joined
            linked = await self.repeats.ticket_number_of_call(call_ref)
            ticket = await self.tickets.get(linked) if linked else None
        if ticket is None:
            log.warning("call %s: survey score %s but the call has no ticket", call_ref, score)
            return
        await self.tickets.record_satisfaction(
            ticket.number, score, at=self.clock(), call_id=call_ref
        )
