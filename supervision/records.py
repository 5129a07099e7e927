"""The records supervision exchanges with its ports: plain, frozen data.

Storage builds them (`storage.supervision`, `storage.reports`); the scheduler, the
notice dispatcher, the web router and the monthly report read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from supervision.domain.escalation import ChannelKind
from supervision.domain.monthly import CallFact, EscalationFact, TicketFact


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    """A notice to write with its step, before it has an id."""

    recipient: str
    channel: str
    channel_kind: ChannelKind
    title: str
    body: str
    ack_code: str


@dataclass(frozen=True, slots=True)
class StoredNotice:
    """One message to one recipient as the store keeps it, with its delivery state."""

    id: int
    step_key: str
    ticket_number: str
    recipient: str
    channel: str
    channel_kind: ChannelKind
    title: str
    body: str
    ack_code: str
    state: str
    attempts: int
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    acked_at: datetime | None
    acked_by: str

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "step_key": self.step_key,
            "ticket_number": self.ticket_number,
            "recipient": self.recipient,
            "channel": self.channel,
            "title": self.title,
            "state": self.state,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
            "acked_at": self.acked_at.isoformat() if self.acked_at else None,
            "acked_by": self.acked_by,
        }


@dataclass(frozen=True, slots=True)
class CallTally:
    """What the wallboard's day counters need of one call record."""

    call_id: str
    outcome: str | None
    queued_at: datetime | None
    answered_at: datetime | None
    hold_seconds: int | None


@dataclass(frozen=True, slots=True)
class SatisfactionFact:
    """One satisfaction score of the month."""

    call_id: str | None
    ticket_number: str | None
    score: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class MonthFacts:
    """Every row behind the monthly report, in time order."""

    calls: list[CallFact]
    tickets: list[TicketFact]
    escalations: list[EscalationFact]
    scores: list[SatisfactionFact]
