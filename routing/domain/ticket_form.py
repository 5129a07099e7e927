"""The ticket form: which fields may change, their types and limits, how they read in history.

Pure: `validate_changes` turns raw input (JSON values, form strings) into typed values or
raises `FormError` naming the field; nothing is half-applied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from routing.errors import InvalidInput
from routing.records import TicketStatus

SHORT_TEXT = 200
LONG_TEXT = 4000
SITE_CODE_MAX = 32

_SITE_CODE = re.compile(r"^[0-9]{1,32}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Control characters other than TAB / LF / CR are never legitimate form content.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

STATUSES = tuple(s.value for s in TicketStatus)
PROBLEM_TYPES = ("request", "complaint")
URGENCIES = ("normal", "urgent", "very_urgent")


# Bad form input is the package's InvalidInput (field + message), under RoutingError.
FormError = InvalidInput


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kind: str  # "short", "long", "line", "level", "site", "status", "choice", "int", "date", ...
    nullable: bool = False
    choices: tuple[str, ...] = ()
    max_len: int = SHORT_TEXT


def _short(nullable: bool = False) -> FieldSpec:
    return FieldSpec("short", nullable=nullable)


def _long() -> FieldSpec:
    return FieldSpec("long", max_len=LONG_TEXT)


# Fields an agent may edit through the console.
AGENT_FIELDS: Mapping[str, FieldSpec] = {
    "level": FieldSpec("level"),
    "site_code": FieldSpec("site", nullable=True, max_len=SITE_CODE_MAX),
    "status": FieldSpec("choice", choices=STATUSES),
    "description": _long(),
    "caller_number": FieldSpec("line", max_len=64),
    "caller_name": FieldSpec("line", max_len=SHORT_TEXT),
    "cause": _short(),
    "resolution": _long(),
    "duty_agent": _short(),
    "support_engineer": _short(),
    "onsite_engineer": _short(),
    "organisation": _short(),
    "contact_name": _short(),
    "contact_phone": FieldSpec("line", max_len=64),
    "contact_email": FieldSpec("email", max_len=254),
    "problem_type": FieldSpec("choice", nullable=True, choices=PROBLEM_TYPES),
    "urgency": FieldSpec("choice", nullable=True, choices=URGENCIES),
    "department": _short(),
    "expected_resolution": FieldSpec("datetime", nullable=True),
    "measures": _long(),
    "owner": _short(),
    "rma_number": _short(),
    "rma_model": _short(),
    "rma_serial": _short(),
    "rma_quantity": FieldSpec("int", nullable=True),
    "rma_symptom": _long(),
    "rma_analysis": _long(),
    "spare_model": _short(),
    "spare_serial": _short(),
    "spare_sent_on": FieldSpec("date", nullable=True),
    "spare_received_on": FieldSpec("date", nullable=True),
    # Field work recorded by hand (the engineer phoned in); the check-in page sets them too.
    # "moment": a time in 2000-2100, so clock arithmetic on it never overflows.
    "onsite_at": FieldSpec("moment", nullable=True),
    "part_needed_at": FieldSpec("moment", nullable=True),
    "part_sent_at": FieldSpec("moment", nullable=True),
    "part_received_at": FieldSpec("moment", nullable=True),
}

# Fields only the system sets (deadlines recomputed on a level/site change, milestones).
SYSTEM_FIELDS: Mapping[str, FieldSpec] = {
    "response_due": FieldSpec("datetime"),
    "onsite_due": FieldSpec("datetime", nullable=True),
    "responded_at": FieldSpec("datetime", nullable=True),
    "resolved_at": FieldSpec("datetime", nullable=True),
    "closed_at": FieldSpec("datetime", nullable=True),
    "paper_number": FieldSpec("line", nullable=True, max_len=64),
    "dispatched_at": FieldSpec("moment", nullable=True),
}

EDITABLE_FIELDS: Mapping[str, FieldSpec] = {**AGENT_FIELDS, **SYSTEM_FIELDS}


def _text(name: str, spec: FieldSpec, value: object, *, multiline: bool) -> str:
    if not isinstance(value, str):
        raise FormError(name, "must be text")
    if len(value) > spec.max_len:
        raise FormError(name, f"is {len(value)} characters long; at most {spec.max_len} allowed")
    if _CONTROL.search(value):
        raise FormError(name, "contains control characters")
    if not multiline and ("\r" in value or "\n" in value):
        raise FormError(name, "must be a single line (CR/LF refused)")
    return value.strip() if not multiline else value


def _parse_datetime(name: str, value: object) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise FormError(name, f"not an ISO 8601 time: {value[:40]!r}") from exc
    else:
        raise FormError(name, "must be an ISO 8601 time")
    if parsed.tzinfo is None:
        raise FormError(name, "needs a UTC offset")
    return parsed


def _parse_date(name: str, value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise FormError(name, f"not an ISO date: {value[:40]!r}") from exc
    raise FormError(name, "must be an ISO date")


def _parse_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise FormError(name, "must be a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    else:
        raise FormError(name, "must be a whole number")
    if not lo <= number <= hi:
        raise FormError(name, f"must be between {lo} and {hi}")
    return number


def validate_value(name: str, value: object) -> Any:
    spec = EDITABLE_FIELDS.get(name)
    if spec is None:
        raise FormError(name, "is not a ticket field that can be changed")
    if isinstance(value, Enum):
        value = value.value
    if value is None or (isinstance(value, str) and value.strip() == "" and spec.nullable):
        if spec.nullable:
            return None
        if spec.kind in ("short", "long", "line", "email"):
            return ""
        raise FormError(name, "is required")
    match spec.kind:
        case "short" | "line":
            return _text(name, spec, value, multiline=False)
        case "long":
            return _text(name, spec, value, multiline=True)
        case "email":
            text = _text(name, spec, value, multiline=False)
            if text and not _EMAIL.match(text):
                raise FormError(name, "is not an e-mail address")
            return text
        case "level":
            return _parse_int(name, value, 1, 4)
        case "int":
            return _parse_int(name, value, 0, 1_000_000)
        case "site":
            text = _text(name, spec, value, multiline=False)
            if not _SITE_CODE.match(text):
                raise FormError(name, "must be digits (at most 32)")
            return text
        case "choice":
            text = _text(name, spec, value, multiline=False)
            if text not in spec.choices:
                raise FormError(name, f"must be one of {', '.join(spec.choices)}")
            return text
        case "datetime":
            return _parse_datetime(name, value)
        case "moment":
            moment = _parse_datetime(name, value)
            if not 2000 <= moment.year <= 2100:
                raise FormError(name, "must be a time between 2000 and 2100")
            return moment
        case "date":
            return _parse_date(name, value)
    raise FormError(name, f"unknown field kind {spec.kind}")  # pragma: no cover - table bug


def validate_changes(
    changes: Mapping[str, object], *, allowed: Mapping[str, FieldSpec] = EDITABLE_FIELDS
) -> dict[str, Any]:
    """Typed values for every change, or FormError for the first bad one."""
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in allowed:
            raise FormError(name, "is not a ticket field that can be changed")
        out[name] = validate_value(name, value)
    return out


def history_text(value: object) -> str | None:
    """How a value reads in the ticket history (None stays None)."""
    if value is None:
        return None
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
