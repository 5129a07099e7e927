"""Call events as JSON objects and back, for the spool that keeps them across a crash.

`event_to_json(event)` gives plain JSON types (times as ISO 8601 with offset, enums by
value); `event_from_json` rebuilds an equal event and raises `ValueError` on anything
else, so a damaged spool record is refused, never half-read.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from calls.events import (
    AgentNoAnswer,
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallIdentified,
    CallLeftQueue,
    CallQueued,
    CallStarted,
    DomainCallEvent,
)
from calls.record import CallOutcome, CallSnapshot, CallState

_EVENTS: dict[str, type[DomainCallEvent]] = {
    cls.__name__: cls
    for cls in (
        CallStarted,
        CallIdentified,
        CallQueued,
        AgentRinging,
        AgentNoAnswer,
        CallAnswered,
        CallAbandoned,
        CallLeftQueue,
        CallEnded,
    )
}
_TIMES = ("started_at", "queued_at", "answered_at", "ended_at")


def _time(raw: object) -> datetime:
    if not isinstance(raw, str):
        raise ValueError(f"not a time: {raw!r}")
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:
        raise ValueError(f"time without offset: {raw!r}")
    return value


def snapshot_to_json(call: CallSnapshot) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(call):
        value = getattr(call, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, CallState | CallOutcome):
            value = value.value
        elif isinstance(value, dict):
            value = dict(value)
        out[f.name] = value
    return out


def snapshot_from_json(raw: object) -> CallSnapshot:
    if not isinstance(raw, dict):
        raise ValueError("a call must be an object")
    values = dict(raw)
    try:
        for name in _TIMES:
            if values.get(name) is not None:
                values[name] = _time(values[name])
        values["state"] = CallState(values["state"])
        if values.get("outcome") is not None:
            values["outcome"] = CallOutcome(values["outcome"])
        values["variables"] = {str(k): str(v) for k, v in dict(values["variables"]).items()}
        return CallSnapshot(**values)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a call: {exc}") from exc


def event_to_json(event: DomainCallEvent) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": type(event).__name__}
    for f in fields(event):
        value = getattr(event, f.name)
        if f.name == "call":
            value = snapshot_to_json(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[f.name] = value
    return out


def event_from_json(raw: object) -> DomainCallEvent:
    if not isinstance(raw, dict) or raw.get("kind") not in _EVENTS:
        raise ValueError(f"not a call event: {raw!r:.100}")
    cls = _EVENTS[raw["kind"]]
    values = {k: v for k, v in raw.items() if k != "kind"}
    try:
        values["call"] = snapshot_from_json(values["call"])
        values["at"] = _time(values["at"])
        return cls(**values)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a {cls.__name__}: {exc}") from exc
