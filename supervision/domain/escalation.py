"""The deterministic escalation plan: `due_actions(tickets, sent_log, now)`.

Every action has a stable `key` derived from the ticket and the rule that produced it, so
the scheduler can record "sent" per key: after a restart the same plan is computed again,
keys already in the log are not repeated, and any step that fell due while the controller
was down is still in the plan (nothing is skipped).

Rules:
* escalation ladder: step *i* of the ticket's level is due when the ticket has been open
  (minus time waiting for the customer) for `step.after`;
* a step whose notices nobody acknowledged within the channel's window (IM 10 min, e-mail
  2 working hours) brings the next step forward; past the top of the ladder it goes once
  to the fallback roles;
* level-1 tickets: a progress report every `progress_report_interval` while open (only the
  latest one is sent after a gap: a progress report supersedes the ones before it);
* a deadline breach is announced once per clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from routing.domain.levels import EscalationStep, FaultLevel, SlaPolicy
from supervision.domain.calendar import WorkingCalendar
from supervision.domain.sla import ClockKind, ClockState, SlaTicket, TicketSla, assess


def N_(message: str) -> str:
    """Marks a message for the catalogue (scripts/catalogue); translated where it is said."""
    return message


class ChannelKind(StrEnum):
    IM = "im"  # DingTalk / WeCom group robots
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"  # machine-to-machine: no human acknowledgement expected


class ActionKind(StrEnum):
    ESCALATION = "escalation"
    PROGRESS_REPORT = "progress_report"
    BREACH = "breach"
    UNACKNOWLEDGED = "unacknowledged"


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    """One notice of a sent step, as the scheduler recorded it."""

    channel: ChannelKind
    delivered_at: datetime | None  # None: not (yet) delivered
    acked_at: datetime | None = None
    failed_at: datetime | None = None  # delivery given up: nobody got this notice


@dataclass(frozen=True, slots=True)
class StepRecord:
    """A planned action the scheduler has taken (its notices were queued)."""

    key: str
    ticket_number: str
    taken_at: datetime
    notices: tuple[NoticeRecord, ...] = ()

    @property
    def acknowledged(self) -> bool:
        return any(n.acked_at is not None for n in self.notices)


SentLog = Mapping[str, StepRecord]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an action is due: an English message id with `%(name)d` fields and their values."""

    message: str
    values: tuple[tuple[str, int], ...] = ()

    def say(self, translate: Callable[[str], str] | None = None) -> str:
        """The reason in the language of `translate` (a gettext), English without one."""
        template = translate(self.message) if translate is not None else self.message
        return template % dict(self.values)


@dataclass(frozen=True, slots=True)
class Action:
    key: str
    kind: ActionKind
    ticket_number: str
    level: FaultLevel
    targets: tuple[str, ...]
    due_at: datetime
    reason: str  # English, for the step log and the operators' logs
    step_index: int | None = None  # 0-based rung of the ladder, for escalations
    # The reason as a catalogue message id and its numbers, so a notice can say it in
    # its own language; None when only the English text is known.
    why: Reason | None = None


@dataclass(frozen=True)
class SupervisionPolicy:
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    breach_targets: tuple[str, ...] = ("duty_engineer", "responsible_manager")
    unacked_fallback_targets: tuple[str, ...] = ("service_centre_head",)
    progress_levels: frozenset[FaultLevel] = frozenset({FaultLevel.P1})

    def ack_deadline(self, notice: NoticeRecord) -> datetime | None:
        """When an undelivered-or-unanswered notice counts as unacknowledged."""
        if notice.delivered_at is None or notice.channel is ChannelKind.WEBHOOK:
            return None
        if notice.channel is ChannelKind.EMAIL:
            return self.calendar.add_working_time(notice.delivered_at, self.sla.email_ack_window)
        return notice.delivered_at + self.sla.im_ack_window


_BREACHED: Mapping[ClockKind, str] = {
    ClockKind.RESPONSE: N_("response deadline breached"),
    ClockKind.ONSITE: N_("onsite deadline breached"),
    ClockKind.PART_DECISION: N_("no part decision in time after arrival"),
    ClockKind.PART_SHIPMENT: N_("spare part not shipped in time"),
    ClockKind.PART_ARRIVAL: N_("spare part not on site in time"),
}


def escalation_key(number: str, level: FaultLevel, index: int) -> str:
    return f"{number}/esc/{int(level)}/{index}"


def _active_due(ticket: SlaTicket, after: timedelta, now: datetime) -> datetime:
    """When the ticket's active (unpaused) time reaches `after`; moves with an open pause."""
    due = ticket.created_at + after
    if not ticket.pauses:  # the common case, and the hot path of a pass
        return due
    for p in sorted(ticket.pauses, key=lambda q: q.start):
        if p.start >= due:
            break
        lo = max(p.start, ticket.created_at)
        hi = p.end if p.end is not None else max(now, lo)
        if hi > lo:
            due += hi - lo
    return due


def _step_unacked_since(
    record: StepRecord | None, policy: SupervisionPolicy, now: datetime
) -> datetime | None:
    """The moment the step became unacknowledged, or None (acked, pending, or no humans)."""
    if record is None or record.acknowledged:
        return None
    deadlines = [d for d in (policy.ack_deadline(n) for n in record.notices) if d is not None]
    if deadlines:
        # Unacknowledged once the quickest channel's window has passed unanswered.
        first = min(deadlines)
        return first if first <= now else None
    failures = [n.failed_at for n in record.notices]
    if record.notices and all(f is not None for f in failures):
        # Every delivery failed: nobody can acknowledge, so move on at once.
        last = max(f for f in failures if f is not None)
        return last if last <= now else None
    return None


def plan_ticket(
    sla: TicketSla, sent_log: SentLog, now: datetime, policy: SupervisionPolicy
) -> list[Action]:
    """What one ticket is due by `now` and `sent_log` lacks: its escalation ladder, its
    progress report, then its breached deadlines."""
    if not sla.ticket.status.is_open:
        return []
    return [
        *_ladder_actions(sla, sent_log, now, policy),
        *_progress_report(sla, sent_log, now, policy),
        *_breach_notices(sla, sent_log, policy),
    ]


def _ladder_actions(
    sla: TicketSla, sent_log: SentLog, now: datetime, policy: SupervisionPolicy
) -> list[Action]:
    """The rungs of the ticket's ladder not yet taken that are due, and past the top of
    the ladder the fallback roles when nobody acknowledged the last rung."""
    ticket = sla.ticket
    ladder = policy.sla.escalation.get(ticket.level, ())
    actions: list[Action] = []
    # When the rung below went unacknowledged: that brings this rung forward.
    below_unacked: datetime | None = None
    for i, step in enumerate(ladder):
        key = escalation_key(ticket.number, ticket.level, i)
        record = sent_log.get(key)
        brought_forward, below_unacked = below_unacked, None
        if record is None:
            rung = _rung_due(sla, key, i, step, brought_forward, now)
            if rung is not None:
                actions.append(rung)
            continue
        unacked = _step_unacked_since(record, policy, now)
        if unacked is None:
            continue
        if i + 1 < len(ladder):
            below_unacked = unacked
        else:
            top = _top_unacknowledged(ticket, i, unacked, sent_log, policy)
            if top is not None:
                actions.append(top)
    return actions


def _rung_due(
    sla: TicketSla,
    key: str,
    index: int,
    step: EscalationStep,
    brought_forward: datetime | None,
    now: datetime,
) -> Action | None:
    """Rung `index`, not yet taken, when it is due: once the ticket has been open (minus
    its pauses) for `step.after`, or from `brought_forward` when the rung below went
    unacknowledged; None while neither."""
    if step.after <= sla.active_elapsed:
        due = _active_due(sla.ticket, step.after, now)
        why = _reasoned(
            index, N_("open %(minutes)d min without resolution"), minutes=_minutes(step.after)
        )
    elif brought_forward is not None:
        due = brought_forward
        why = _reasoned(index, N_("step %(step)d not acknowledged in time"), step=index - 1)
    else:
        return None
    return Action(
        key, ActionKind.ESCALATION, sla.ticket.number, sla.ticket.level, step.targets, due, *why
    )


def _top_unacknowledged(
    ticket: SlaTicket, index: int, unacked: datetime, sent_log: SentLog, policy: SupervisionPolicy
) -> Action | None:
    """Nobody acknowledged the top rung `index` (since `unacked`): the fallback roles,
    once."""
    key = f"{ticket.number}/unacked/{int(ticket.level)}/{index}"
    if key in sent_log:
        return None
    return Action(
        key,
        ActionKind.UNACKNOWLEDGED,
        ticket.number,
        ticket.level,
        policy.unacked_fallback_targets,
        unacked,
        *_reasoned(index, N_("top escalation step %(step)d not acknowledged"), step=index),
    )


def _progress_report(
    sla: TicketSla, sent_log: SentLog, now: datetime, policy: SupervisionPolicy
) -> list[Action]:
    """The latest progress report of a ticket whose level gets them, once per
    `progress_report_interval` of active time (a report supersedes the missed ones).
    It goes to everyone the ladder has reached so far, else to the breach targets."""
    ticket, elapsed = sla.ticket, sla.active_elapsed
    interval = policy.sla.progress_report_interval
    if ticket.level not in policy.progress_levels or not timedelta(0) < interval <= elapsed:
        return []
    n = int(elapsed / interval)
    key = f"{ticket.number}/progress/{n}"
    if key in sent_log:
        return []
    ladder = policy.sla.escalation.get(ticket.level, ())
    targets = _union(s.targets for s in ladder if s.after <= elapsed)
    return [
        Action(
            key,
            ActionKind.PROGRESS_REPORT,
            ticket.number,
            ticket.level,
            targets or policy.breach_targets,
            _active_due(ticket, interval * n, now),
            *_reasoned(None, N_("hourly progress report #%(number)d"), number=n),
        )
    ]


def _breach_notices(sla: TicketSla, sent_log: SentLog, policy: SupervisionPolicy) -> list[Action]:
    """One announcement per breached clock, dated when it fell due."""
    ticket = sla.ticket
    actions: list[Action] = []
    for clock in sla.clocks:
        if clock.state is not ClockState.BREACHED:
            continue
        key = f"{ticket.number}/breach/{clock.kind.value}"
        if key not in sent_log:
            actions.append(
                Action(
                    key,
                    ActionKind.BREACH,
                    ticket.number,
                    ticket.level,
                    policy.breach_targets,
                    clock.due,
                    *_reasoned(None, _BREACHED[clock.kind]),
                )
            )
    return actions


@dataclass(frozen=True, slots=True)
class Plan:
    assessments: tuple[TicketSla, ...]  # every open ticket's clocks at `now`
    actions: tuple[Action, ...]  # oldest first


def plan(
    tickets: Iterable[SlaTicket],
    sent_log: SentLog,
    now: datetime,
    policy: SupervisionPolicy | None = None,
) -> Plan:
    pol = policy or SupervisionPolicy()
    assessments: list[TicketSla] = []
    out: list[Action] = []
    for ticket in tickets:
        if ticket.status.is_open:
            sla = assess(ticket, pol.sla, now, pol.calendar)
            assessments.append(sla)
            out.extend(plan_ticket(sla, sent_log, now, pol))
    out.sort(key=lambda a: (a.due_at, a.ticket_number, a.key))
    return Plan(tuple(assessments), tuple(out))


def due_actions(
    tickets: Iterable[SlaTicket],
    sent_log: SentLog,
    now: datetime,
    policy: SupervisionPolicy | None = None,
) -> list[Action]:
    """Everything that should have happened by `now` and is not in `sent_log`, oldest first."""
    return list(plan(tickets, sent_log, now, policy).actions)


def _union(groups: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for target in group:
            seen.setdefault(target, None)
    return tuple(seen)


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _reasoned(
    step_index: int | None, message: str, **values: int
) -> tuple[str, int | None, Reason]:
    """Action's last three fields: the English reason, the rung, and the reason to translate."""
    why = Reason(message, tuple(values.items()))
    return why.say(), step_index, why


__all__ = [
    "Action",
    "ActionKind",
    "ChannelKind",
    "NoticeRecord",
    "Plan",
    "Reason",
    "SentLog",
    "StepRecord",
    "SupervisionPolicy",
    "due_actions",
    "escalation_key",
    "plan",
    "plan_ticket",
]
