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
  ticket (the rule of `routing.domain.repeat_calls`, applied by the store inside the
  transaction that writes the outcome). A level-1 call has the engineer on call paged at
  once (`LevelOnePager`), before anyone answers.
* ``CallAnswered`` → duty agent and ``in_progress`` on the ticket, answer time on the
  call record.
* ``CallAbandoned`` / a call that ended queued with nobody answering → ``callback_due``,
  the SLA clock still running: the call's own ticket, or the one it joined as a repeat
  call (its history says which call to call back).
* ``CallEnded`` → the final call record (outcome, times, agent, ticket number).

Whether a call opens a new ticket or is attached to an existing one is decided in one
place, `open_ticket`, and logged once, after the commit. The tickets of live calls are
kept in memory (`known_ticket`) for the screen-pop, which then needs no database read
for them.

Store errors propagate: the pipeline retries a `StoreUnavailable` with back-off.
"""

from __future__ import annotations

import asyncio
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
from routing.agent_names import AgentNames
from routing.domain.deadlines import deadlines_for, unidentified_level
from routing.domain.levels import FaultLevel, SlaPolicy
from routing.domain.repeat_calls import OpenTicketView, RepeatRule
from routing.errors import InvalidInput, TicketNotFound
from routing.ports import (
    CallEventStore,
    CallStore,
    LevelOnePager,
    PageRule,
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
# How long the screen-pop waits for the ticket of a call being written before it reads
# for itself (the tickets stage failed on it, or never saw the call queue).
TICKET_WAIT_SECONDS = 10.0


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
        agent_names: AgentNames | None = None,
    ) -> None:
        """`writes` takes every event's ticket change and call record in one transaction;
        `tickets` and `calls` serve the rarer paths (an incident joined, a survey score).
        Without `repeats` (or with a zero `repeat_window`) every call opens its own
        ticket; without `pager` nobody is paged. `agent_names` (shared with the
        screen-pop) names the answering agent without a read per event."""
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
        # Screen-pops waiting for the ticket of a call this service is still writing.
        self._awaited: dict[str, asyncio.Future[Ticket]] = {}
        self.agent_names = agent_names or AgentNames(users, seconds=0)

    def known_ticket(self, call_id: str) -> Ticket | None:
        """The ticket this service opened or found for the live call `call_id`, if any."""
        return self._known.get(call_id)

    async def ticket_of(self, call_id: str, timeout: float = TICKET_WAIT_SECONDS) -> Ticket | None:
        """The ticket of the live call `call_id` once this service has opened or joined
        it (at once if it has); None if that takes longer than `timeout` seconds."""
        known = self._known.get(call_id)
        if known is not None:
            return known
        future = self._awaited.get(call_id)
        if future is None:
            if len(self._awaited) >= KNOWN_TICKETS_KEPT:
                self._awaited.clear()  # waits that timed out for calls never ticketed
            future = self._awaited[call_id] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(future)
        except TimeoutError:
            if self._awaited.get(call_id) is future:
                del self._awaited[call_id]
            return None

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
            incident = event.call.variables.get("HOTLINE_INCIDENT") or None
            known = self._known.get(event.call_id)
            await self.writes.callback_due(
                event.call, event.at, incident=incident, known=known.number if known else None
            )
        elif isinstance(event, CallEnded):
            await self._ended(event)

    async def _agent_name(self, call: CallSnapshot) -> str | None:
        if not call.agent_interface:
            return None
        return await self.agent_names.username(call.agent_interface, active_only=False)

    async def open_ticket(self, call: CallSnapshot, at: datetime) -> Ticket:
        """The ticket of `call` (idempotent per call id), in one transaction with the call
        record carrying its number: the incident's ticket for a caller who pressed 1 for
        an announced outage; otherwise the ticket the call has already, or its site's open
        ticket it joins as a repeat call, or a new one."""
        incident = call.variables.get("HOTLINE_INCIDENT") or ""
        joined = await self.join_incident(call, incident, at) if incident else None
        if joined is not None:
            await self.writes.record_call(call, ticket_number=joined.number)
            self._remember(call.call_id, joined)
            await self._page_if_level_one(call, joined, at)
            return joined
        draft = await self._draft(call, at)
        rule = None if incident else self._repeat_rule(call, at)  # an incident's ticket gone
        opening = await self.writes.open_or_join(call, draft, rule, self._page_rule(call))
        if opening.paged is not None and self.pager is not None:
            self.pager.page_requested(opening.ticket.number, opening.paged)
        if opening.created:
            self.opened += 1
            log.info(
                "call %s: opened ticket %s (level %d, site %s)",
                call.call_id,
                opening.ticket.number,
                opening.ticket.level,
                call.site_code or "unidentified",
            )
        elif opening.joined:
            log.info("call %s: repeat call, joined ticket %s", call.call_id, opening.ticket.number)
        elif call.call_id not in self._known:  # decided by a commit whose answer was lost
            log.info("call %s: has ticket %s already", call.call_id, opening.ticket.number)
        ticket = opening.ticket
        if not opening.created:
            # The writer read the ticket without its history: the pop shows it whole.
            ticket = await self.tickets.get(ticket.number) or ticket
        self._remember(call.call_id, ticket)
        return ticket

    def _page_rule(self, call: CallSnapshot) -> PageRule | None:
        """The IVR's level-1 keypress (or a level-1 ticket joined): the engineer on call
        is paged now, before anyone answers (once per ticket). None: nobody pages."""
        if self.pager is None:
            return None
        one = int(FaultLevel.P1)

        def reason(ticket: Ticket) -> str | None:
            if call.level == one:
                return "keypress"
            return "level_1" if ticket.level == one else None

        return reason

    async def _page_if_level_one(self, call: CallSnapshot, ticket: Ticket, at: datetime) -> None:
        """`_page_rule` for a ticket not opened by the call events' writer (an
        incident's): the page requested in a transaction of its own."""
        rule = self._page_rule(call)
        reason = rule(ticket) if rule is not None else None
        if reason is None or self.pager is None:
            return
        await self.pager.request_page(
            ticket_number=ticket.number,
            site_code=ticket.site_code,
            caller_number=call.caller_number,
            reason=reason,
            at=at,
        )

    def _remember(self, call_id: str, ticket: Ticket) -> None:
        if len(self._known) >= KNOWN_TICKETS_KEPT:
            self._known.clear()  # calls whose end we never saw (a lost AMI link)
        self._known[call_id] = ticket
        waiting = self._awaited.pop(call_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(ticket)

    async def join_incident(self, call: CallSnapshot, incident: str, at: datetime) -> Ticket | None:
        """The ticket of the announced incident the caller pressed 1 for (a progress entry
        names the call), or the call's own ticket if it has one; None: no such ticket,
        the call gets a ticket of its own."""
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
        writing anything (the ringing card asks this); None: a ticket of its own."""
        rule = self._repeat_rule(call, at)
        if rule is None or self.repeats is None or not call.site_code:
            return None
        candidates = await self.repeats.open_at_site(call.site_code, rule.since)
        return rule.choose(candidates) if candidates else None

    def _repeat_rule(self, call: CallSnapshot, at: datetime) -> RepeatRule | None:
        """The repeat-call rule for `call`; None when merging is off."""
        if self.repeats is None or self.repeat_window <= timedelta(0):
            return None
        return RepeatRule(
            call_id=call.call_id,
            level=int(unidentified_level(call.level)),
            at=call.queued_at or at,
            window=self.repeat_window,
        )

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
        incident = event.call.variables.get("HOTLINE_INCIDENT") or None
        note = f"answered by {agent or event.interface}"
        known = self._known.get(event.call_id)
        answer = functools.partial(
            self.writes.answer,
            event.call,
            incident=incident,
            agent=agent,
            at=event.at,
            note=note,
            known=known.number if known is not None else None,
        )
        if await answer() is None:
            # Answered without our seeing the join (resync): open it now, then answer.
            await self.open_ticket(event.call, event.at)
            await answer()

    async def _ended(self, event: CallEnded) -> None:
        call = event.call
        incident = call.variables.get("HOTLINE_INCIDENT") or None
        known = self._known.pop(call.call_id, None)
        end = functools.partial(
            self.writes.end,
            call,
            incident=incident,
            agent=await self._agent_name(call),
            callback=call.outcome in (CallOutcome.ABANDONED, CallOutcome.NO_AGENT),
            at=event.at,
            known=known.number if known is not None else None,
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
