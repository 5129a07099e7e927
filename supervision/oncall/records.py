"""Records the on-call store hands back: plain, frozen data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from supervision.domain.errors import SupervisionError


class UnknownPage(SupervisionError):
    """No page has that acknowledgement code (or id)."""


@dataclass(frozen=True, slots=True)
class LevelOneTicket:
    """A ticket that needs its on-call engineer paged."""

    number: str
    site_code: str | None
    caller_number: str


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a level-1 ticket to one engineer, with its delivery and ack state."""

    id: int
    ticket_number: str
    seq: int
    reason: str
    site_code: str | None
    caller_number: str
    requested_at: datetime
    state: str  # requested / sending / delivered / failed / no_one
    engineer: str
    channel: str
    address: str
    attempts: int
    last_error: str
    sent_at: datetime | None
    ack_code: str
    acked_at: datetime | None
    acked_by: str

    def as_json(self) -> dict[str, object]:
        """The API's view: the acknowledgement code stays out (it is the credential)."""
        return {
            "id": self.id,
            "ticket_number": self.ticket_number,
            "seq": self.seq,
            "reason": self.reason,
            "site_code": self.site_code,
            "caller_number": self.caller_number,
            "requested_at": self.requested_at.isoformat(),
            "state": self.state,
            "engineer": self.engineer,
            "channel": self.channel,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "acknowledged": self.acked_at is not None,
            "acked_at": self.acked_at.isoformat() if self.acked_at else None,
            "acked_by": self.acked_by,
        }
