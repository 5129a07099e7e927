"""Records that emergency mode exchanges with the console, the API and the composition root.

Pure, frozen data (standard library only). `as_json()` gives the JSON shape of INTERFACE.md
(times ISO 8601 with a UTC offset).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class EmergencyStatus:
    """The mode as `GET /api/emergency` shows it.

    `active` is True while calls are routed to the emergency pool. `state` is one of
    `normal`, `emergency` or `recovering` (routing is back to normal, backfill still open).
    `since`, `reason` and `by` describe the last transition.
    """

    active: bool
    since: datetime | None
    reason: str | None
    by: str | None
    state: str

    def as_json(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "since": _iso(self.since),
            "reason": self.reason,
            "by": self.by,
            "state": self.state,
        }


@dataclass(frozen=True, slots=True)
class BackfillItem:
    """One paper ticket to enter after the outage: an emergency call, or a paper number
    typed in without a journaled call (`call_id` None)."""

    paper_number: str
    call_id: str | None
    caller_number: str | None
    started_at: datetime | None
    agent: str | None
    ticket_number: str | None
    waived: bool
    waive_reason: str | None
    # The paper's content typed in (a call may have its ticket without it: opened
    # automatically while the database was up).
    paper_entered: bool = False
    entered_by: str | None = None
    # Whether a call's automatic ticket needs the paper's content too to count as done.
    paper_required: bool = True

    @property
    def accounted_for(self) -> bool:
        if self.waived:
            return True
        if self.ticket_number is None:
            return False
        return self.paper_entered or not self.paper_required

    @property
    def state(self) -> str:
        """`waived`, `entered`, `ticket_only` (automatic ticket, paper not typed in yet;
        done when the paper is not required) or `missing`."""
        if self.waived:
            return "waived"
        if self.paper_entered:
            return "entered"
        return "missing" if self.ticket_number is None else "ticket_only"

    def as_json(self) -> dict[str, Any]:
        return {
            "paper_number": self.paper_number,
            "call_id": self.call_id,
            "caller_number": self.caller_number,
            "started_at": _iso(self.started_at),
            "agent": self.agent,
            "ticket_number": self.ticket_number,
            "waived": self.waived,
            "waive_reason": self.waive_reason,
            "paper_entered": self.paper_entered,
            "entered_by": self.entered_by,
            "state": self.state,
            "accounted_for": self.accounted_for,
        }


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Where the backfill stands.

    `calls_without_ticket`: emergency calls with neither a ticket nor a waiver (blocking).
    `awaiting_paper`: calls whose ticket was opened automatically but whose paper content
    is not typed in yet (blocking when the paper is required).
    `paper_without_call`: paper numbers entered that no journaled call carries (shown, not
    blocking: the paper was used while the controller could not see the call).
    `waived`: items explicitly waived with a reason. `done`: nothing blocks closing.
    """

    calls_without_ticket: tuple[BackfillItem, ...]
    awaiting_paper: tuple[BackfillItem, ...]
    paper_without_call: tuple[BackfillItem, ...]
    waived: tuple[BackfillItem, ...]
    total: int
    ticketed: int
    done: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "calls_without_ticket": [i.as_json() for i in self.calls_without_ticket],
            "awaiting_paper": [i.as_json() for i in self.awaiting_paper],
            "paper_without_call": [i.as_json() for i in self.paper_without_call],
            "waived": [i.as_json() for i in self.waived],
            "total": self.total,
            "ticketed": self.ticketed,
            "done": self.done,
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome of one named health check. `state` is `ok`, `failed` or `unknown`
    (inconclusive, e.g. the PBX link is down so agents cannot be counted)."""

    name: str
    state: str
    detail: str
    checked_at: datetime
    duration_ms: float
    critical: bool = True

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "detail": self.detail,
            "checked_at": _iso(self.checked_at),
            "duration_ms": round(self.duration_ms, 1),
            "critical": self.critical,
        }


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of the emergency audit log (every flip, refused flip and no-op)."""

    at: datetime
    action: str  # enter | exit | close_backfill | auto_enter | auto_exit | exit_recommended
    outcome: str  # switched | unchanged | refused
    from_state: str
    to_state: str
    by: str
    reason: str
    automatic: bool
    duration_seconds: float | None = None  # on exit: how long emergency mode lasted

    def as_json(self) -> dict[str, Any]:
        return {
            "duration_seconds": self.duration_seconds,
            "at": _iso(self.at),
            "action": self.action,
            "outcome": self.outcome,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "by": self.by,
            "reason": self.reason,
            "automatic": self.automatic,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> AuditRecord:
        """The record `as_json` wrote (the emergency journal keeps the audit this way)."""
        return cls(
            at=datetime.fromisoformat(str(raw["at"])),
            action=str(raw["action"]),
            outcome=str(raw["outcome"]),
            from_state=str(raw["from_state"]),
            to_state=str(raw["to_state"]),
            by=str(raw["by"]),
            reason=str(raw["reason"]),
            automatic=bool(raw["automatic"]),
            duration_seconds=raw.get("duration_seconds"),
        )


@dataclass(frozen=True, slots=True)
class CallbackTarget:
    """A caller affected by the outage, to call back (回访) once the backfill is closed."""

    caller_number: str
    call_ids: tuple[str, ...]
    paper_numbers: tuple[str, ...]
    ticket_numbers: tuple[str, ...]
    last_called_at: datetime | None
    last_called_by: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "caller_number": self.caller_number,
            "call_ids": list(self.call_ids),
            "paper_numbers": list(self.paper_numbers),
            "ticket_numbers": list(self.ticket_numbers),
            "last_called_at": _iso(self.last_called_at),
            "last_called_by": self.last_called_by,
        }


@dataclass(frozen=True, slots=True)
class DrillResult:
    """Outcome of one emergency-pool drill."""

    drill_id: str
    started_at: datetime
    finished_at: datetime
    answered: bool
    member: str | None
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {
            "drill_id": self.drill_id,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "answered": self.answered,
            "member": self.member,
            "detail": self.detail,
        }
