"""The pure call model: the call record, the domain events of a call, the call-control
port and its errors, and the one wall clock.

Standard library only (frozen dataclasses, enums, `Protocol`s). The AMI adapter (`ami`)
translates Asterisk's events into these events and implements `CallControl`; everything
downstream (routing, fallback, supervision, console, storage) depends on this package and
never on `ami`.
"""

from calls.channels import interface_of
from calls.clock import Clock, utc_now
from calls.events import (
    AgentNoAnswer,
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallEvent,
    CallIdentified,
    CallLeftQueue,
    CallQueued,
    CallStarted,
    DomainCallEvent,
)
from calls.record import CallOutcome, CallSnapshot, CallState

__all__ = [
    "AgentNoAnswer",
    "AgentRinging",
    "CallAbandoned",
    "CallAnswered",
    "CallEnded",
    "CallEvent",
    "CallIdentified",
    "CallLeftQueue",
    "CallOutcome",
    "CallQueued",
    "CallSnapshot",
    "CallStarted",
    "CallState",
    "Clock",
    "DomainCallEvent",
    "interface_of",
    "utc_now",
]
