"""SLA clocks of one ticket: which deadlines run, are paused, met or breached.

A ticket's clocks stop while it waits for the customer (a `Pause`); the deadline moves
later by the paused time. Everything here is a pure function of the ticket and `now`.

The response and on-site clocks start when the ticket opens. The field clocks start later:
the part decision at the engineer's arrival, the part shipment when a part is needed, the
part arrival when it was sent (counted in working days on the working calendar).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from routing.domain.levels import FaultLevel, SlaPolicy
from routing.records import TicketStatus
from supervision.domain.calendar import WorkingCalendar


@dataclass(frozen=True, slots=True)
class Pause:
    """The ticket waited for the customer from `start` until `end` (None = still waiting)."""

    start: datetime
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class SlaTicket:
    """What the SLA engine needs to know about a ticket (built from the stored ticket)."""

    number: str
    level: FaultLevel
    status: TicketStatus
    created_at: datetime
    site_code: str | None = None
    site_name: str | None = None
    site_tier: str | None = None
    distance_km: float | None = None
    remote: bool = False
    feature_request: bool = False
    responded_at: datetime | None = None  # first response (phone/remote)
    onsite_at: datetime | None = None  # engineer arrived
    resolved_at: datetime | None = None  # service restored
    pauses: tuple[Pause, ...] = field(default=())
    description: str = ""
    call_id: str | None = None
    # Deadlines fixed when the ticket was opened (routing computes them); None = from policy.
    response_due: datetime | None = None
    onsite_due: datetime | None = None
    # Engineer dispatch and spare parts (None until they happen).
    dispatched_at: datetime | None = None
    on_the_way_at: datetime | None = None
    part_needed_at: datetime | None = None
    part_sent_at: datetime | None = None
    part_received_at: datetime | None = None


class ClockKind(StrEnum):
    RESPONSE = "response"
    ONSITE = "onsite"
    PART_DECISION = "part_decision"  # fixed, or a part called for, after arrival
    PART_SHIPMENT = "part_shipment"  # the needed part leaves the depot
    PART_ARRIVAL = "part_arrival"  # the sent part reaches the site (working days)


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"  # past due and still not met
    MET_LATE = "met_late"  # met, but after the deadline


@dataclass(frozen=True, slots=True)
class ClockStatus:
    kind: ClockKind
    state: ClockState
    due: datetime  # effective deadline (moved by pauses; "if resumed now" while paused)
    window: timedelta

    @property
    def breached(self) -> bool:
        return self.state in (ClockState.BREACHED, ClockState.MET_LATE)

    def remaining(self, now: datetime) -> timedelta:
        return self.due - now


@dataclass(frozen=True, slots=True)
class TicketSla:
    ticket: SlaTicket
    clocks: tuple[ClockStatus, ...]
    paused: bool
    active_elapsed: timedelta  # time open, minus paused time

    def clock(self, kind: ClockKind) -> ClockStatus | None:
        for c in self.clocks:
            if c.kind is kind:
                return c
        return None

    @property
    def breached(self) -> bool:
        return any(c.state is ClockState.BREACHED for c in self.clocks)

    def next_due(self) -> datetime | None:
        """Earliest deadline still running (or paused): the ticket's time to breach."""
        live = [c.due for c in self.clocks if c.state in (ClockState.RUNNING, ClockState.PAUSED)]
        return min(live) if live else None


def paused_time(pauses: Sequence[Pause], start: datetime, until: datetime) -> timedelta:
    """Paused time inside [start, until); an open pause runs until `until`."""
    total = timedelta(0)
    for p in pauses:
        lo = max(p.start, start)
        hi = min(p.end or until, until)
        if hi > lo:
            total += hi - lo
    return total


def _effective_due(
    created: datetime, window: timedelta, pauses: Sequence[Pause], now: datetime
) -> datetime:
    """Push the deadline later by every pause that began before it (in start order)."""
    due = created + window
    if not pauses:
        return due
    for p in sorted(pauses, key=lambda q: q.start):
        if p.start >= due:
            break
        lo = max(p.start, created)
        hi = p.end if p.end is not None else max(now, lo)
        if hi > lo:
            due += hi - lo
    return due


def _clock(
    kind: ClockKind,
    window: timedelta,
    ticket: SlaTicket,
    met_at: datetime | None,
    now: datetime,
    paused_now: bool,
    start: datetime | None = None,
) -> ClockStatus:
    # Pauses after the clock was met don't move it.
    horizon = met_at if met_at is not None else now
    due = _effective_due(start or ticket.created_at, window, ticket.pauses, horizon)
    if met_at is not None:
        state = ClockState.MET if met_at <= due else ClockState.MET_LATE
    elif paused_now:
        state = ClockState.PAUSED
    elif now >= due:
        state = ClockState.BREACHED
    else:
        state = ClockState.RUNNING
    return ClockStatus(kind, state, due, window)


def field_clocks(
    ticket: SlaTicket,
    policy: SlaPolicy,
    calendar: WorkingCalendar,
    now: datetime,
    *,
    paused_now: bool = False,
    resolved: datetime | None = None,
) -> list[ClockStatus]:
    """The clocks after the engineer's arrival, each from the moment it starts.

    The part decision is met by a part being called for or by the fault being resolved;
    shipment and arrival only by the part's own dates (a ticket resolved some other way
    does not make a late part on time).
    """
    clocks: list[ClockStatus] = []
    if ticket.onsite_at is not None:
        decision_met = _earliest(ticket.part_needed_at, resolved)
        clocks.append(
            _clock(
                ClockKind.PART_DECISION,
                policy.part_decision_window,
                ticket,
                decision_met,
                now,
                paused_now,
                start=ticket.onsite_at,
            )
        )
    if ticket.part_needed_at is not None:
        clocks.append(
            _clock(
                ClockKind.PART_SHIPMENT,
                policy.part_shipment_window,
                ticket,
                ticket.part_sent_at,
                now,
                paused_now,
                start=ticket.part_needed_at,
            )
        )
    if ticket.part_sent_at is not None:
        sent = ticket.part_sent_at
        window = calendar.add_working_days(sent, policy.part_arrival_working_days) - sent
        clocks.append(
            _clock(
                ClockKind.PART_ARRIVAL,
                window,
                ticket,
                ticket.part_received_at,
                now,
                paused_now,
                start=sent,
            )
        )
    return clocks


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def assess(
    ticket: SlaTicket,
    policy: SlaPolicy,
    now: datetime,
    calendar: WorkingCalendar | None = None,
) -> TicketSla:
    """The ticket's clocks as they stand at `now` (the field clocks need `calendar`)."""
    paused_now = ticket.status.is_open and any(
        p.start <= now and (p.end is None or p.end > now) for p in ticket.pauses
    )
    # A resolved ticket without explicit response/onsite stamps met them when it was resolved.
    resolved = ticket.resolved_at if not ticket.status.is_open else None
    if not ticket.status.is_open and resolved is None:
        resolved = now
    response_window = (
        ticket.response_due - ticket.created_at
        if ticket.response_due is not None
        else policy.response_window(
            ticket.level, remote=ticket.remote, feature_request=ticket.feature_request
        )
    )
    clocks = [
        _clock(
            ClockKind.RESPONSE,
            response_window,
            ticket,
            ticket.responded_at or resolved,
            now,
            paused_now,
        )
    ]
    onsite = (
        ticket.onsite_due - ticket.created_at
        if ticket.onsite_due is not None
        else policy.onsite_window(ticket.level, ticket.distance_km)
    )
    if onsite is not None and not ticket.remote:
        clocks.append(
            _clock(ClockKind.ONSITE, onsite, ticket, ticket.onsite_at or resolved, now, paused_now)
        )
    if calendar is not None and onsite is not None and not ticket.remote:
        clocks.extend(
            field_clocks(ticket, policy, calendar, now, paused_now=paused_now, resolved=resolved)
        )
    end = now if ticket.status.is_open else (ticket.resolved_at or now)
    elapsed = max(end - ticket.created_at, timedelta(0))
    active = (
        elapsed - paused_time(ticket.pauses, ticket.created_at, end) if ticket.pauses else elapsed
    )
    return TicketSla(ticket, tuple(clocks), paused_now, active)
