"""Live wallboard figures, aggregated from call-tracker events, agent states and tickets.

`CallFloor` folds the call tracker's domain events into today's picture (waiting calls,
answered/abandoned counts); `build_snapshot` combines it with agent presence, ticket
clocks and the emergency state into one immutable `WallboardSnapshot`. No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from calls import (
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallEvent,
    CallLeftQueue,
    CallOutcome,
    CallQueued,
)
from calls.control import QueueEntry
from routing.domain.levels import FaultLevel
from supervision.domain.sla import ClockKind, ClockState, TicketSla


class AgentActivity(StrEnum):
    READY = "ready"
    BUSY = "busy"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class AgentPresence:
    name: str
    interface: str
    paused: bool
    in_call: bool


# The wallboard's row for callers whose assigned engineer's phone rings before the queue.
PREFERRED_ENGINEER = "preferred engineer"


@dataclass(frozen=True, slots=True)
class WaitingCall:
    call_id: str
    queue: str
    caller_number: str
    level: int | None
    site_code: str | None
    queued_at: datetime


@dataclass(frozen=True, slots=True)
class EmergencyState:
    active: bool = False
    since: datetime | None = None
    reason: str | None = None


@dataclass
class CallFloor:
    """Today's calls on the floor; feed it every call-tracker event with `apply`."""

    zone: tzinfo
    service_level_target: timedelta = timedelta(seconds=20)
    day: date | None = None
    waiting: dict[str, WaitingCall] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)
    answered_in_target: set[str] = field(default_factory=set)
    abandoned: set[str] = field(default_factory=set)
    agent_calls: dict[str, str] = field(default_factory=dict)  # interface -> call id

    def _roll(self, at: datetime) -> None:
        today = at.astimezone(self.zone).date()
        if self.day != today:
            self.day = today
            self.answered.clear()
            self.answered_in_target.clear()
            self.abandoned.clear()

    def apply(self, event: CallEvent) -> bool:
        """Fold one event in; True when the wallboard changed."""
        self._roll(event.at)
        call = event.call
        cid = event.call_id
        if isinstance(event, CallQueued):
            self.waiting[cid] = WaitingCall(
                cid,
                call.queue or "",
                call.caller_number,
                call.level,
                call.site_code,
                call.queued_at or event.at,
            )
            return True
        if isinstance(event, AgentRinging):
            if call.queue is not None or cid in self.waiting:
                return False
            # Rung before the queue (the caller's assigned engineer): waiting all the same.
            self.waiting[cid] = WaitingCall(
                cid,
                PREFERRED_ENGINEER,
                call.caller_number,
                call.level,
                call.site_code,
                call.queued_at or event.at,
            )
            return True
        if isinstance(event, CallAnswered):
            queued = self.waiting.pop(cid, None)
            self.answered.add(cid)
            waited = timedelta(seconds=event.hold_seconds)
            if queued is not None and event.hold_seconds == 0:
                waited = event.at - queued.queued_at
            if waited <= self.service_level_target:
                self.answered_in_target.add(cid)
            if event.interface:
                self.agent_calls[event.interface] = cid
            return True
        if isinstance(event, CallAbandoned):
            self.waiting.pop(cid, None)
            self.abandoned.add(cid)
            return True
        if isinstance(event, CallLeftQueue):
            return self.waiting.pop(cid, None) is not None
        if isinstance(event, CallEnded):
            changed = self.waiting.pop(cid, None) is not None
            if call.outcome is CallOutcome.ABANDONED and cid not in self.abandoned:
                self.abandoned.add(cid)
                changed = True
            for interface in [i for i, c in self.agent_calls.items() if c == cid]:
                del self.agent_calls[interface]
                changed = True
            return changed
        return False

    def resync_waiting(self, entries: Iterable[QueueEntry], now: datetime) -> None:
        """Replace the waiting list with what the PBX reports (after a reconnect/restart)."""
        self.waiting = {
            e.linkedid: WaitingCall(
                e.linkedid,
                e.queue,
                e.caller_number,
                self.waiting[e.linkedid].level if e.linkedid in self.waiting else None,
                self.waiting[e.linkedid].site_code if e.linkedid in self.waiting else None,
                now - timedelta(seconds=e.wait_seconds),
            )
            for e in entries
        }

    def seed_counts(
        self,
        day: date,
        answered: Iterable[str],
        in_target: Iterable[str],
        abandoned: Iterable[str],
    ) -> None:
        """Restore today's counts from the call records after a restart."""
        self.day = day
        self.answered = set(answered)
        self.answered_in_target = set(in_target) & self.answered
        self.abandoned = set(abandoned)


@dataclass(frozen=True, slots=True)
class QueueBoard:
    queue: str
    waiting: int
    longest_wait_s: int
    calls: tuple[tuple[WaitingCall, int], ...]  # (call, seconds waited), longest first


@dataclass(frozen=True, slots=True)
class LevelBoard:
    level: int
    open: int
    breached: int
    paused: int
    next_breach_in_s: int | None  # earliest running deadline, negative never (breached count)
    next_breach_ticket: str | None


@dataclass(frozen=True, slots=True)
class FieldBoard:
    """Engineers out for open tickets, and the breached clocks by kind."""

    dispatched: int = 0  # sent, not yet on the way
    on_the_way: int = 0
    on_site: int = 0  # arrived, no part called for
    waiting_for_part: int = 0  # a part needed and not received yet
    breaches_by_clock: tuple[tuple[str, int], ...] = ()  # (clock kind, breached), every kind

    def as_json(self) -> dict[str, Any]:
        return {
            "dispatched": self.dispatched,
            "on_the_way": self.on_the_way,
            "on_site": self.on_site,
            "waiting_for_part": self.waiting_for_part,
            "breaches_by_clock": dict(self.breaches_by_clock),
        }


def field_board(tickets: Iterable[TicketSla]) -> FieldBoard:
    counts = [0, 0, 0, 0]
    breached = {kind.value: 0 for kind in ClockKind}
    for sla in tickets:
        t = sla.ticket
        if not t.status.is_open:
            continue
        for clock in sla.clocks:
            if clock.state is ClockState.BREACHED:
                breached[clock.kind.value] += 1
        if t.part_needed_at is not None and t.part_received_at is None:
            counts[3] += 1
        elif t.onsite_at is not None:
            counts[2] += 1
        elif t.on_the_way_at is not None:
            counts[1] += 1
        elif t.dispatched_at is not None:
            counts[0] += 1
    dispatched, on_the_way, on_site, waiting = counts
    return FieldBoard(dispatched, on_the_way, on_site, waiting, tuple(breached.items()))


@dataclass(frozen=True, slots=True)
class WallboardSnapshot:
    at: datetime
    queues: tuple[QueueBoard, ...]
    agents: tuple[tuple[AgentPresence, AgentActivity], ...]
    answered_today: int
    abandoned_today: int
    answered_in_target: int
    service_level: float | None  # share of (answered + abandoned) answered within target
    service_level_target_s: int
    levels: tuple[LevelBoard, ...]
    breaches: int
    emergency: EmergencyState
    field: FieldBoard = FieldBoard()

    def agent_counts(self) -> dict[str, int]:
        counts = {a.value: 0 for a in AgentActivity}
        for _, activity in self.agents:
            counts[activity.value] += 1
        return counts

    def to_message(self) -> dict[str, Any]:
        """JSON-able form pushed to the bus `wallboard` topic and the browser."""
        return {
            "type": "wallboard",
            "at": self.at.isoformat(),
            "queues": [
                {
                    "queue": q.queue,
                    "waiting": q.waiting,
                    "longest_wait_s": q.longest_wait_s,
                    "calls": [
                        {
                            "call_id": c.call_id,
                            "caller_number": c.caller_number,
                            "level": c.level,
                            "site_code": c.site_code,
                            "wait_s": wait,
                        }
                        for c, wait in q.calls
                    ],
                }
                for q in self.queues
            ],
            "agents": self.agent_counts(),
            "agent_list": [
                {"name": p.name, "interface": p.interface, "state": a.value} for p, a in self.agents
            ],
            "answered_today": self.answered_today,
            "abandoned_today": self.abandoned_today,
            "answered_in_target": self.answered_in_target,
            "service_level": self.service_level,
            "service_level_target_s": self.service_level_target_s,
            "tickets": [
                {
                    "level": lv.level,
                    "open": lv.open,
                    "breached": lv.breached,
                    "paused": lv.paused,
                    "next_breach_in_s": lv.next_breach_in_s,
                    "next_breach_ticket": lv.next_breach_ticket,
                }
                for lv in self.levels
            ],
            "breaches": self.breaches,
            "field": self.field.as_json(),
            "emergency": {
                "active": self.emergency.active,
                "since": self.emergency.since.isoformat() if self.emergency.since else None,
                "reason": self.emergency.reason,
            },
        }


def agent_activity(agent: AgentPresence, floor: CallFloor) -> AgentActivity:
    if agent.in_call or agent.interface in floor.agent_calls:
        return AgentActivity.BUSY
    if agent.paused:
        return AgentActivity.PAUSED
    return AgentActivity.READY


def build_snapshot(
    now: datetime,
    floor: CallFloor,
    agents: Sequence[AgentPresence],
    tickets: Iterable[TicketSla],
    emergency: EmergencyState,
    *,
    queues: Sequence[str] = (),
) -> WallboardSnapshot:
    by_queue: dict[str, list[tuple[WaitingCall, int]]] = {q: [] for q in queues}
    for call in floor.waiting.values():
        wait = max(int((now - call.queued_at).total_seconds()), 0)
        by_queue.setdefault(call.queue, []).append((call, wait))
    boards = tuple(
        QueueBoard(
            name,
            len(calls),
            max((w for _, w in calls), default=0),
            tuple(sorted(calls, key=lambda cw: (-cw[1], cw[0].call_id))),
        )
        for name, calls in sorted(by_queue.items())
    )

    tickets = tuple(tickets)
    per_level: dict[int, list[TicketSla]] = {int(lv): [] for lv in FaultLevel}
    for sla in tickets:
        if sla.ticket.status.is_open:
            per_level[int(sla.ticket.level)].append(sla)
    levels: list[LevelBoard] = []
    breaches = 0
    for lv, slas in sorted(per_level.items()):
        breached = sum(1 for s in slas if s.breached)
        breaches += breached
        upcoming = [
            (c.due, s.ticket.number)
            for s in slas
            for c in s.clocks
            if c.state is ClockState.RUNNING
        ]
        nearest = min(upcoming) if upcoming else None
        levels.append(
            LevelBoard(
                lv,
                len(slas),
                breached,
                sum(1 for s in slas if s.paused),
                int((nearest[0] - now).total_seconds()) if nearest else None,
                nearest[1] if nearest else None,
            )
        )

    answered = len(floor.answered)
    abandoned = len(floor.abandoned)
    in_target = len(floor.answered_in_target)
    offered = answered + abandoned
    return WallboardSnapshot(
        at=now,
        queues=boards,
        agents=tuple((a, agent_activity(a, floor)) for a in sorted(agents, key=lambda a: a.name)),
        answered_today=answered,
        abandoned_today=abandoned,
        answered_in_target=in_target,
        service_level=(in_target / offered) if offered else None,
        service_level_target_s=int(floor.service_level_target.total_seconds()),
        levels=tuple(levels),
        breaches=breaches,
        emergency=emergency,
        field=field_board(tickets),
    )
