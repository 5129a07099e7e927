"""The records the rest of the system exchanges about sites, tickets, calls and users.

Pure, frozen data (standard library only). Storage builds them, the console renders them,
the IVR and the call tracker's subscribers pass them around. `as_json()` gives the JSON
shape of INTERFACE.md (times ISO 8601 with a UTC offset, dates ISO, enums as strings).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class SiteTier(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"


class TicketStatus(StrEnum):
    """A ticket's status: the one definition the console, storage, routing and the SLA
    clocks of supervision share."""

    OPEN = "open"
    CALLBACK_DUE = "callback_due"  # abandoned call: someone must call back, SLA clock runs
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        """Work remains and the SLA clocks run (one of `OPEN_STATUSES`)."""
        return self in OPEN_STATUSES


OPEN_STATUSES: frozenset[TicketStatus] = frozenset(
    {TicketStatus.OPEN, TicketStatus.CALLBACK_DUE, TicketStatus.IN_PROGRESS}
)


class TicketSource(StrEnum):
    CALL = "call"
    BACKFILL = "backfill"  # typed in from a paper ticket after emergency mode
    MANUAL = "manual"


class ProblemType(StrEnum):
    REQUEST = "request"
    COMPLAINT = "complaint"


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    VERY_URGENT = "very_urgent"


class UserRole(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    def at_least(self, other: UserRole) -> bool:
        """True when this role may do what `other` may (admin > supervisor > agent)."""
        order = (UserRole.AGENT, UserRole.SUPERVISOR, UserRole.ADMIN)
        return order.index(self) >= order.index(other)


class MatchKind(StrEnum):
    UNIQUE = "unique"
    AMBIGUOUS = "ambiguous"  # e.g. two sites share one switchboard number: ask for the code
    NONE = "none"


SATISFACTION_LABELS: dict[int, str] = {
    1: "very satisfied",
    2: "satisfied",
    3: "neutral",
    4: "dissatisfied",
    5: "very dissatisfied",
}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    if hasattr(value, "as_json"):
        return value.as_json()
    return value


class _JsonRecord:
    """Mixin: a dataclass rendered as a JSON-able dict, field by field."""

    __slots__ = ()

    def as_json(self) -> dict[str, Any]:
        return {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


# --- site record ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contact(_JsonRecord):
    name: str
    phone: str  # as written in the directory
    normalised: str  # E.164-like key used for caller matching, e.g. +861012345678


@dataclass(frozen=True, slots=True)
class Equipment(_JsonRecord):
    kind: str  # MCU / terminal / camera / UPS / ...
    model: str
    serial: str
    warranty_end: date | None
    in_warranty: bool  # computed for the day the record was built


@dataclass(frozen=True, slots=True)
class Contract(_JsonRecord):
    tier: str
    warranty_end: date | None


@dataclass(frozen=True, slots=True)
class Engineer(_JsonRecord):
    name: str
    phone: str = ""
    # Queue-member interface of the engineer's phone (PJSIP/1001), when they take calls.
    interface: str | None = None


@dataclass(frozen=True, slots=True)
class SpecialPeriod(_JsonRecord):
    """A window in which calls from the site get a higher queue priority."""

    kind: str  # "flood_season", "guard" (important meeting), ...
    label: str
    starts_at: datetime
    ends_at: datetime

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True, slots=True)
class TicketSummary(_JsonRecord):
    """One line of a site's ticket list in the screen-pop."""

    number: str
    created_at: datetime
    level: int
    status: TicketStatus
    symptom: str
    resolution: str


@dataclass(frozen=True, slots=True)
class SiteRecord(_JsonRecord):
    customer_id: str
    organisation: str
    site_code: str
    site_name: str
    tier: SiteTier | None
    address: str
    distance_km: float | None
    contacts: tuple[Contact, ...] = ()
    equipment: tuple[Equipment, ...] = ()
    contract: Contract | None = None
    engineers: tuple[Engineer, ...] = ()
    network_notes: str = ""
    special_periods: tuple[SpecialPeriod, ...] = ()
    open_tickets: tuple[TicketSummary, ...] = ()
    recent_tickets: tuple[TicketSummary, ...] = ()  # last 5, newest first
    sector: str = ""  # e.g. "water_resources": flood season raises priority


@dataclass(frozen=True, slots=True)
class SiteSummary(_JsonRecord):
    """A site in search results."""

    site_code: str
    organisation: str
    site_name: str
    tier: SiteTier | None
    customer_id: str


@dataclass(frozen=True, slots=True)
class SiteMatch(_JsonRecord):
    """What the caller's number says about the site."""

    kind: MatchKind
    normalised: str  # the normalised caller number ("" when it could not be parsed)
    site_codes: tuple[str, ...] = ()
    site_names: tuple[str, ...] = ()  # same order as site_codes (for the IVR's prompts)

    @property
    def site_code(self) -> str | None:
        return self.site_codes[0] if self.kind is MatchKind.UNIQUE else None

    @property
    def display_name(self) -> str | None:
        """The unique site's name as the IVR says it (its code when the name is unknown)."""
        if self.kind is not MatchKind.UNIQUE or not self.site_codes:
            return None
        return self.site_names[0] if self.site_names else self.site_codes[0]

    @property
    def candidates(self) -> tuple[str, ...]:
        """The site codes the number may mean (one when unique)."""
        return self.site_codes

    @classmethod
    def unique(cls, site_code: str, display_name: str, normalised: str = "") -> SiteMatch:
        return cls(MatchKind.UNIQUE, normalised, (site_code,), (display_name,))

    @classmethod
    def ambiguous(cls, candidates: tuple[str, ...], normalised: str = "") -> SiteMatch:
        return cls(MatchKind.AMBIGUOUS, normalised, candidates)

    @classmethod
    def none(cls, normalised: str = "") -> SiteMatch:
        return cls(MatchKind.NONE, normalised)


# --- tickets ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketChange(_JsonRecord):
    """One entry of a ticket's append-only history."""

    at: datetime
    by: str
    field: str
    old: str | None
    new: str | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ServiceEntry(_JsonRecord):
    """Service record history line: (time, symptom, action, result)."""

    at: datetime
    by: str
    symptom: str
    action: str
    result: str


@dataclass(frozen=True, slots=True)
class ProgressEntry(_JsonRecord):
    """Customer problem record progress log line."""

    at: datetime
    by: str
    text: str


@dataclass(frozen=True, slots=True)
class Ticket(_JsonRecord):
    number: str
    call_id: str | None
    site_code: str | None
    level: int
    status: TicketStatus
    caller_number: str
    created_at: datetime
    response_due: datetime
    onsite_due: datetime | None
    description: str
    source: TicketSource
    history: tuple[TicketChange, ...] = ()
    updated_at: datetime | None = None
    caller_name: str = ""
    paper_number: str | None = None
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    cause: str = ""
    resolution: str = ""
    # Service record
    duty_agent: str = ""
    support_engineer: str = ""
    onsite_engineer: str = ""
    organisation: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    service_log: tuple[ServiceEntry, ...] = ()
    # Customer problem record
    problem_type: ProblemType | None = None
    urgency: Urgency | None = None
    department: str = ""
    expected_resolution: datetime | None = None
    measures: str = ""
    owner: str = ""
    progress_log: tuple[ProgressEntry, ...] = ()
    # Repair (RMA) request
    rma_number: str = ""
    rma_model: str = ""
    rma_serial: str = ""
    rma_quantity: int | None = None
    rma_symptom: str = ""
    rma_analysis: str = ""
    spare_model: str = ""
    spare_serial: str = ""
    spare_sent_on: date | None = None
    spare_received_on: date | None = None
    # Satisfaction: 1 very satisfied .. 5 very dissatisfied; None with satisfaction_at set
    # means "not applicable / no answer".
    satisfaction: int | None = None
    satisfaction_at: datetime | None = None
    # Engineer dispatch: the engineer sent (the on-site engineer), arrival and spare part.
    engineer: str | None = None
    dispatched_at: datetime | None = None
    onsite_at: datetime | None = None
    part_needed_at: datetime | None = None
    part_sent_at: datetime | None = None
    part_received_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    def summary(self) -> TicketSummary:
        return TicketSummary(
            number=self.number,
            created_at=self.created_at,
            level=self.level,
            status=self.status,
            symptom=self.description,
            resolution=self.resolution,
        )


@dataclass(frozen=True, slots=True)
class NewTicket:
    """What is known when a ticket is opened (by a call, a backfill or by hand)."""

    level: int
    caller_number: str
    created_at: datetime
    response_due: datetime
    onsite_due: datetime | None
    source: TicketSource = TicketSource.CALL
    call_id: str | None = None
    site_code: str | None = None
    caller_name: str = ""
    description: str = ""
    status: TicketStatus = TicketStatus.OPEN
    paper_number: str | None = None
    organisation: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    created_by: str = "system"


@dataclass(frozen=True, slots=True)
class TicketOpening:
    """Result of an idempotent open: the ticket, whether this call created it, and
    whether this call was attached to it just now as a repeat call (both False: the
    call had that ticket already, a replayed event)."""

    ticket: Ticket
    created: bool
    joined: bool = False
    # The reason of the on-call page this call's transaction requested (None: none).
    paged: str | None = None


@dataclass(frozen=True, slots=True)
class TicketFilter:
    status: TicketStatus | None = None
    level: int | None = None
    site_code: str | None = None
    call_id: str | None = None
    text: str | None = None  # substring of number, description, caller number, organisation


# --- calls --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallRecord(_JsonRecord):
    call_id: str  # Asterisk Linkedid
    caller_number: str
    caller_name: str
    site_code: str | None
    level: int | None
    queue: str | None
    agent: str | None  # console username
    agent_interface: str | None
    started_at: datetime
    queued_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None  # answered / abandoned / ivr_hangup / no_agent / transferred
    ticket_number: str | None
    paper_number: str | None = None
    hold_seconds: int | None = None
    talk_seconds: int | None = None
    recording: str | None = None  # file name in the recordings directory


@dataclass(frozen=True, slots=True)
class CallFilter:
    call_id: str | None = None
    outcome: str | None = None
    site_code: str | None = None


# --- console users ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsoleUser(_JsonRecord):
    username: str
    role: UserRole
    interface: str | None = None  # queue-member interface of the agent's phone
    active: bool = True
    # Raised by a password, role or enabled change and by "log out everywhere": tokens
    # carrying an older value are refused.
    session_epoch: int = 0
    language: str | None = None  # the pages' language the person chose; None: not chosen


__all__ = [
    "OPEN_STATUSES",
    "SATISFACTION_LABELS",
    "CallFilter",
    "CallRecord",
    "ConsoleUser",
    "Contact",
    "Contract",
    "Engineer",
    "Equipment",
    "MatchKind",
    "NewTicket",
    "ProblemType",
    "ProgressEntry",
    "ServiceEntry",
    "SiteMatch",
    "SiteRecord",
    "SiteSummary",
    "SiteTier",
    "SpecialPeriod",
    "Ticket",
    "TicketChange",
    "TicketFilter",
    "TicketOpening",
    "TicketSource",
    "TicketStatus",
    "TicketSummary",
    "Urgency",
    "UserRole",
]
