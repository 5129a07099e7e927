"""Screen-pop fan-out: tells the console of the agent whose phone rings who is calling.

* ``AgentRinging`` → ``ringing`` to that agent (caller number/name, site code, level,
  and ``repeat_of`` when the call joins an open ticket of its site).
  The site record and the call's ticket are loaded *now*, while the phone rings, so the
  pop on answer costs only a publish.
* ``CallAnswered`` → ``screen_pop`` (call id, ticket number, full site record, ticket)
  to the answering agent only; ``ring_cancelled`` to the other agents that rang. The pop
  never waits for the database when the ticket is known (opened at the queue join) and
  the site's profile is in memory: if the full record (last tickets) is still being read,
  the pop shows the profile and ``screen_pop_site`` follows with the record.
* ``AgentNoAnswer`` → ``ring_cancelled`` to that agent.
* ``CallEnded`` → ``call_ended`` (call id, outcome) to the agent who had the call.

Every message also goes to ``supervisors`` as a ``call_update`` for the live call list.
The messages are the typed records of `routing.console_messages`; topics come from
`bus.topics`.
Agents are found by their queue-member interface (`routing.agent_names.AgentNames`: one
read of all users serves every phone for a while).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from bus import MessageBus
from bus.topics import SUPERVISORS, user_topic
from calls import (
    AgentNoAnswer,
    AgentRinging,
    CallAnswered,
    CallEnded,
    CallSnapshot,
    DomainCallEvent,
)
from routing.agent_names import AgentNames
from routing.console_messages import (
    CallFinished,
    CallUpdate,
    ConsoleMessage,
    PopSite,
    RingCancelled,
    Ringing,
    ScreenPop,
)
from routing.domain.answering import answered_changes
from routing.domain.repeat_calls import OpenTicketView
from routing.ports import SiteDirectory, TicketStore, UserStore
from routing.records import SiteRecord, Ticket, TicketStatus

log = logging.getLogger(__name__)


@dataclass
class _Prepared:
    ticket: Ticket | None
    site: SiteRecord | None


@dataclass
class _CallPops:
    rang: dict[str, str] = field(default_factory=dict)  # interface -> username
    prepared: asyncio.Task[_Prepared] | None = None
    agent: str | None = None
    follow_up: asyncio.Future[None] | None = None  # the site record after the pop
    repeat: asyncio.Task[OpenTicketView | None] | None = None


def _joined_view(call: CallSnapshot, ticket: Ticket | None) -> OpenTicketView | None:
    """The ticket a repeat call joined, as the ringing card and the pop show it (None
    for the call's own ticket or an announced incident's)."""
    if ticket is None or ticket.call_id == call.call_id or call.variables.get("HOTLINE_INCIDENT"):
        return None
    return OpenTicketView(
        ticket.number, ticket.level, ticket.status.value, ticket.created_at, ticket.call_id
    )


class ConsoleFanout:
    def __init__(
        self,
        *,
        users: UserStore,
        tickets: TicketStore,
        sites: SiteDirectory,
        bus: MessageBus,
        user_cache_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        open_ticket: Callable[[CallSnapshot, datetime], Awaitable[Ticket]] | None = None,
        known_ticket: Callable[[str], Ticket | None] | None = None,
        cached_site: Callable[[str], SiteRecord | None] | None = None,
        repeat_of: Callable[[CallSnapshot, datetime], Awaitable[OpenTicketView | None]]
        | None = None,
        ticket_of: Callable[[str], Awaitable[Ticket | None]] | None = None,
        agent_names: AgentNames | None = None,
    ) -> None:
        """`open_ticket` (the ticket service's, idempotent per call) is used when a call is
        answered before its ticket exists, so a pop never goes out without one.
        `known_ticket` gives the ticket the queue join opened, and `cached_site` a site's
        profile from memory: with both, the pop on answer never waits for the database.
        `repeat_of` (the ticket service's repeat-call decision) marks repeat calls on the
        ringing card when their ticket is not known yet. `ticket_of` waits for the ticket
        the tickets stage is opening or joining for a call (None if it does not come in
        time): a pop then waits for that one write, not for reads of its own, and never
        opens the ticket a second time. `agent_names` may be shared with the tickets
        stage."""
        self.repeat_of = repeat_of
        self.users = users
        self.open_ticket = open_ticket
        self.known_ticket = known_ticket
        self.cached_site = cached_site
        self.tickets = tickets
        self.sites = sites
        self.bus = bus
        self.ticket_of = ticket_of
        self.agent_names = agent_names or AgentNames(
            users, seconds=user_cache_seconds, monotonic=monotonic
        )
        self._calls: dict[str, _CallPops] = {}
        self.pops_sent = 0

    async def handle(self, event: DomainCallEvent) -> None:
        if isinstance(event, AgentRinging):
            await self._ringing(event)
        elif isinstance(event, CallAnswered):
            await self._answered(event)
        elif isinstance(event, AgentNoAnswer):
            await self._no_answer(event)
        elif isinstance(event, CallEnded):
            await self._ended(event)
        else:
            return
        await self._send(SUPERVISORS, CallUpdate(event.call))

    async def _send(self, topic: str, message: ConsoleMessage) -> None:
        await self.bus.publish(topic, message.as_message())

    async def username_for(self, interface: str) -> str | None:
        return await self.agent_names.username(interface)

    def _known(self, call_id: str) -> Ticket | None:
        return self.known_ticket(call_id) if self.known_ticket is not None else None

    async def _awaited(self, call_id: str) -> Ticket | None:
        """The call's ticket as the tickets stage opened or joined it, waiting for that
        write if it is under way (no read of our own)."""
        known = self._known(call_id)
        if known is not None or self.ticket_of is None:
            return known
        return await self.ticket_of(call_id)

    async def _repeat(self, call: CallSnapshot, at: datetime) -> OpenTicketView | None:
        if call.variables.get("HOTLINE_INCIDENT"):
            return None
        known = await self._awaited(call.call_id)
        if known is not None or self.repeat_of is None:
            return _joined_view(call, known)
        joined = await self.repeat_of(call, at)  # one read when the site has none open
        if joined is not None and await self.tickets.get_by_call(call.call_id) is not None:
            return None  # the call opened (or was split into) a ticket of its own
        return joined

    async def _prepare(
        self, call: CallSnapshot, repeat: asyncio.Task[OpenTicketView | None] | None = None
    ) -> _Prepared:
        ticket = await self._awaited(call.call_id) or await self.tickets.get_by_call(call.call_id)
        incident = call.variables.get("HOTLINE_INCIDENT")
        if ticket is None and incident:
            ticket = await self.tickets.get(incident)  # the caller joined an announced incident
        if ticket is None and repeat is not None:
            joined = await repeat
            ticket = await self.tickets.get(joined.number) if joined is not None else None
        code = call.site_code or (ticket.site_code if ticket is not None else None)
        site = await self.sites.site_record(code) if code else None
        return _Prepared(ticket, site)

    async def _ringing(self, event: AgentRinging) -> None:
        pops = self._calls.setdefault(event.call_id, _CallPops())
        username = await self.username_for(event.interface)
        if pops.repeat is None:
            pops.repeat = asyncio.ensure_future(self._repeat(event.call, event.at))
        if pops.prepared is None:
            pops.prepared = asyncio.ensure_future(self._prepare(event.call, pops.repeat))
        if username is None:
            log.warning(
                "call %s: %s rings but no console user has that interface",
                event.call_id,
                event.interface,
            )
            return
        pops.rang[event.interface] = username
        joined = await pops.repeat
        await self._send(user_topic(username), Ringing(event.call, event.interface, joined))

    async def _answered(self, event: CallAnswered) -> None:
        pops = self._calls.setdefault(event.call_id, _CallPops())
        username = pops.rang.get(event.interface) or await self.username_for(event.interface)
        for interface, other in pops.rang.items():
            if interface != event.interface and other != username:
                await self._send(
                    user_topic(other), RingCancelled(event.call_id, "answered_elsewhere")
                )
        if username is None:
            log.warning(
                "call %s: answered on %s, which no console user has", event.call_id, event.interface
            )
            return
        pops.agent = username
        prepared, loading = self._ready(event.call, pops.prepared)
        if prepared.ticket is None:
            prepared, loading = await self._prepared_now(event, pops.prepared)
        ticket = prepared.ticket
        if ticket is not None:
            # The pop goes out before the ticket service writes the answer: show the ticket
            # as that write leaves it (same rule), so the agent edits the current state.
            answered = answered_changes(
                status=ticket.status.value,
                duty_agent=ticket.duty_agent,
                responded_at=ticket.responded_at,
                agent=username,
                at=event.at,
            )
            if answered:
                ticket = replace(
                    ticket,
                    status=TicketStatus(str(answered.get("status", ticket.status.value))),
                    duty_agent=str(answered.get("duty_agent", ticket.duty_agent)),
                    responded_at=ticket.responded_at or event.at,
                )
        pop = ScreenPop(event.call, ticket, prepared.site, _joined_view(event.call, ticket))
        await self._send(user_topic(username), pop)
        self.pops_sent += 1
        if loading is not None:
            pops.follow_up = asyncio.ensure_future(
                self._site_follows(event.call_id, username, loading)
            )

    def _ready(
        self, call: CallSnapshot, task: asyncio.Task[_Prepared] | None
    ) -> tuple[_Prepared, asyncio.Task[_Prepared] | None]:
        """What the pop can show without waiting: what ringing prepared if it is read, else
        the ticket the queue join opened and the site's profile from memory (the task
        still reading the full record is returned, to follow in a second message)."""
        if task is not None and task.done() and not task.cancelled() and not task.exception():
            done = task.result()
            if done.ticket is None:
                # Read before the ticket existed: its open tickets lack it; read again.
                return _Prepared(None, None), None
            return done, None
        ticket = self._known(call.call_id)
        code = call.site_code or (ticket.site_code if ticket is not None else None)
        site = self.cached_site(code) if code and self.cached_site is not None else None
        return _Prepared(ticket, site), task

    async def _prepared_now(
        self, event: CallAnswered, task: asyncio.Task[_Prepared] | None
    ) -> tuple[_Prepared, asyncio.Task[_Prepared] | None]:
        """No ticket known yet: wait for the tickets stage's write of it and nothing else,
        and show the site's profile from memory (the full record follows, read once the
        ticket exists). Without either, what ringing prepares, read again, or the ticket
        opened now (answered without our seeing it queue, e.g. after a resync)."""
        ticket = await self._awaited(event.call_id)
        code = event.call.site_code or (ticket.site_code if ticket is not None else None)
        site = self.cached_site(code) if code and self.cached_site is not None else None
        if ticket is not None and site is not None:
            if task is None or task.done():  # read before the ticket existed, if at all
                task = asyncio.ensure_future(self._prepare(event.call))
            return _Prepared(ticket, site), task
        prepared = await task if task is not None else None
        if prepared is None or prepared.ticket is None:
            prepared = await self._prepare(event.call)
            if prepared.ticket is None and self.open_ticket is not None:
                opened = await self.open_ticket(event.call, event.at)  # idempotent
                site = prepared.site
                if opened.site_code:  # again: its open tickets now include this one
                    site = await self.sites.site_record(opened.site_code)
                prepared = _Prepared(opened, site)
        return prepared, None

    async def _site_follows(
        self, call_id: str, username: str, loading: asyncio.Task[_Prepared]
    ) -> None:
        """The full site record once read, to the agent whose pop showed only the profile."""
        try:
            prepared = await asyncio.shield(loading)
        except Exception as exc:
            log.warning("call %s: site record for the pop not read (%s)", call_id, exc)
            return
        if prepared.site is not None:
            await self._send(user_topic(username), PopSite(call_id, prepared.site))

    async def _no_answer(self, event: AgentNoAnswer) -> None:
        pops = self._calls.get(event.call_id)
        username = pops.rang.pop(event.interface, None) if pops is not None else None
        if username is not None:
            await self._send(user_topic(username), RingCancelled(event.call_id, "no_answer"))

    async def _ended(self, event: CallEnded) -> None:
        pops = self._calls.pop(event.call_id, None)
        if pops is None:
            return
        # A prepare still reading is left to finish: cancelling a query mid-flight can
        # leave its pooled connection unusable.
        outcome = event.call.outcome.value if event.call.outcome else None
        notified = {pops.agent} if pops.agent else set()
        if pops.agent is None:
            notified = set(pops.rang.values())  # rang but nobody answered (abandoned)
        for username in notified:
            if username:
                await self._send(user_topic(username), CallFinished(event.call_id, outcome))
