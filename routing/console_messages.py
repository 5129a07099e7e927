"""The messages a call sends to the consoles, as typed records built in one place.

Each record's `as_message()` is the JSON object `/ws/console` delivers (INTERFACE.md:
`ringing`, `screen_pop`, `call_ended`, plus `screen_pop_site`, `ring_cancelled`,
`call_update` and `paper_number`). Adding a field to the screen-pop is a change to
`ScreenPop` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from calls import CallSnapshot
from routing.domain.repeat_calls import OpenTicketView
from routing.records import SiteRecord, Ticket


def repeat_json(joined: OpenTicketView | None) -> dict[str, Any]:
    """`repeat_of` (the open ticket a repeat call joined) and when that ticket opened."""
    if joined is None:
        return {"repeat_of": None, "repeat_opened_at": None}
    return {"repeat_of": joined.number, "repeat_opened_at": joined.created_at.isoformat()}


def call_json(call: CallSnapshot) -> dict[str, Any]:
    """A call as the live call list and the pop show it."""
    return {
        "call_id": call.call_id,
        "caller_number": call.caller_number,
        "caller_name": call.caller_name,
        "state": call.state.value,
        "site_code": call.site_code,
        "level": call.level,
        "queue": call.queue,
        "agent_interface": call.agent_interface,
        "started_at": call.started_at.isoformat(),
        "queued_at": call.queued_at.isoformat() if call.queued_at else None,
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "outcome": call.outcome.value if call.outcome else None,
        "paper_number": call.variables.get("HOTLINE_PAPER") or None,
    }


@dataclass(frozen=True, slots=True)
class Ringing:
    """The agent's phone rings with this call."""

    call: CallSnapshot
    interface: str
    repeat: OpenTicketView | None = None

    def as_message(self) -> dict[str, Any]:
        call = self.call
        return {
            "type": "ringing",
            "call_id": call.call_id,
            "caller_number": call.caller_number,
            "caller_name": call.caller_name,
            "site_code": call.site_code,
            "level": call.level,
            "queue": call.queue,
            "interface": self.interface,
            **repeat_json(self.repeat),
        }


@dataclass(frozen=True, slots=True)
class RingCancelled:
    """The phone stopped ringing: `answered_elsewhere` or `no_answer`."""

    call_id: str
    reason: str

    def as_message(self) -> dict[str, Any]:
        return {"type": "ring_cancelled", "call_id": self.call_id, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ScreenPop:
    """The answering agent's pop: the site record and the call's ticket."""

    call: CallSnapshot
    ticket: Ticket | None
    site: SiteRecord | None
    repeat: OpenTicketView | None = None

    def as_message(self) -> dict[str, Any]:
        return {
            "type": "screen_pop",
            "call_id": self.call.call_id,
            "ticket_number": self.ticket.number if self.ticket is not None else None,
            "site": self.site.as_json() if self.site is not None else None,
            "ticket": self.ticket.as_json() if self.ticket is not None else None,
            "call": call_json(self.call),
            **repeat_json(self.repeat),
        }


@dataclass(frozen=True, slots=True)
class PopSite:
    """The full site record (its open and recent tickets included) of a pop that went
    out with the site's profile only, because the record was still being read."""

    call_id: str
    site: SiteRecord

    def as_message(self) -> dict[str, Any]:
        return {"type": "screen_pop_site", "call_id": self.call_id, "site": self.site.as_json()}


@dataclass(frozen=True, slots=True)
class CallFinished:
    """The call the agent had (or that rang them) ended."""

    call_id: str
    outcome: str | None

    def as_message(self) -> dict[str, Any]:
        return {"type": "call_ended", "call_id": self.call_id, "outcome": self.outcome}


@dataclass(frozen=True, slots=True)
class CallUpdate:
    """For the supervisors' live call list."""

    call: CallSnapshot

    def as_message(self) -> dict[str, Any]:
        return {"type": "call_update", "call": call_json(self.call)}


@dataclass(frozen=True, slots=True)
class PaperNumber:
    """The emergency paper-ticket number of the agent's call."""

    call_id: str
    paper_number: str
    caller_number: str

    def as_message(self) -> dict[str, Any]:
        return {
            "type": "paper_number",
            "call_id": self.call_id,
            "paper_number": self.paper_number,
            "caller_number": self.caller_number,
        }


ConsoleMessage = (
    Ringing | RingCancelled | ScreenPop | PopSite | CallFinished | CallUpdate | PaperNumber
)
