"""Calls as the controller sees them, and the domain events the call tracker publishes.

Pure data: no I/O, no asyncio. `call_id` is always Asterisk's ``Linkedid``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class CallState(StrEnum):
    IN_IVR = "in_ivr"
    QUEUED = "queued"
    AGENT_RINGING = "agent_ringing"
    CONNECTED = "connected"
    ENDED = "ended"


class CallOutcome(StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    IVR_HANGUP = "ivr_hangup"
    NO_AGENT = "no_agent"
    TRANSFERRED = "transferred"


@dataclass
class TrackedCall:
    """Mutable picture of one call, owned by the call tracker."""

    call_id: str
    channel: str
    caller_number: str
    caller_name: str
    started_at: datetime
    state: CallState = CallState.IN_IVR
    queue: str | None = None
    queue_position: int | None = None
    # Since when the caller waits for an agent: queue join, or the preferred-engineer Dial.
    queued_at: datetime | None = None
    agent_interface: str | None = None
    agent_member_name: str | None = None
    agent_channel: str | None = None
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: CallOutcome | None = None
    hold_seconds: int | None = None
    talk_seconds: int | None = None
    # Channel variables the IVR set (HOTLINE_SITE, HOTLINE_LEVEL, HOTLINE_QUEUE, ...).
    variables: dict[str, str] = field(default_factory=dict)
    # Every channel (Uniqueid -> channel name) that belongs to this call.
    channels: dict[str, str] = field(default_factory=dict)
    # True when the call was learnt from a resync rather than seen from its start.
    resynced: bool = False

    @property
    def site_code(self) -> str | None:
        return self.variables.get("HOTLINE_SITE") or None

    @property
    def level(self) -> int | None:
        raw = self.variables.get("HOTLINE_LEVEL", "")
        return int(raw) if raw.isdigit() and 1 <= int(raw) <= 4 else None

    def snapshot(self) -> CallSnapshot:
        return CallSnapshot(
            call_id=self.call_id,
            channel=self.channel,
            caller_number=self.caller_number,
            caller_name=self.caller_name,
            state=self.state,
            started_at=self.started_at,
            queue=self.queue,
            queued_at=self.queued_at,
            agent_interface=self.agent_interface,
            agent_member_name=self.agent_member_name,
            answered_at=self.answered_at,
            ended_at=self.ended_at,
            outcome=self.outcome,
            hold_seconds=self.hold_seconds,
            talk_seconds=self.talk_seconds,
            site_code=self.site_code,
            level=self.level,
            variables=dict(self.variables),
            resynced=self.resynced,
        )


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    """Immutable copy of a call, carried by domain events."""

    call_id: str
    channel: str
    caller_number: str
    caller_name: str
    state: CallState
    started_at: datetime
    queue: str | None
    queued_at: datetime | None
    agent_interface: str | None
    agent_member_name: str | None
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: CallOutcome | None
    hold_seconds: int | None
    talk_seconds: int | None
    site_code: str | None
    level: int | None
    variables: dict[str, str]
    resynced: bool


# --- domain events published by the call tracker --------------------------------------


@dataclass(frozen=True, slots=True)
class CallEvent:
    call: CallSnapshot
    at: datetime

    @property
    def call_id(self) -> str:
        return self.call.call_id


@dataclass(frozen=True, slots=True)
class CallStarted(CallEvent):
    """A new inbound call (first channel of a Linkedid) appeared."""


@dataclass(frozen=True, slots=True)
class CallIdentified(CallEvent):
    """The IVR set a HOTLINE_* variable (site, level, queue, ...) on the caller channel."""

    variable: str = ""
    value: str = ""


@dataclass(frozen=True, slots=True)
class CallQueued(CallEvent):
    """QueueCallerJoin: the caller waits in `call.queue`."""

    position: int = 0


@dataclass(frozen=True, slots=True)
class AgentRinging(CallEvent):
    """AgentCalled, or DialBegin of the preferred-engineer Dial() before the queue
    (`call.queue` is None then): the phone at `interface` rings for this call."""

    interface: str = ""
    member_name: str = ""


@dataclass(frozen=True, slots=True)
class AgentNoAnswer(CallEvent):
    """AgentRingNoAnswer, or DialEnd other than ANSWER of the preferred-engineer Dial():
    `interface` rang `ring_ms` without answering."""

    interface: str = ""
    ring_ms: int = 0


@dataclass(frozen=True, slots=True)
class CallAnswered(CallEvent):
    """AgentConnect, or DialEnd ANSWER of the preferred-engineer Dial(): the agent at
    `interface` picked up."""

    interface: str = ""
    member_name: str = ""
    hold_seconds: int = 0


@dataclass(frozen=True, slots=True)
class CallAbandoned(CallEvent):
    """QueueCallerAbandon, or DialEnd CANCEL while the preferred engineers rang: the
    caller hung up while waiting."""

    hold_seconds: int = 0


@dataclass(frozen=True, slots=True)
class CallLeftQueue(CallEvent):
    """QueueCallerLeave: the caller left `queue` (answered, redirected, or timed out)."""

    queue: str = ""


@dataclass(frozen=True, slots=True)
class CallEnded(CallEvent):
    """The last channel of the call hung up; `call.outcome` is final.

    Published exactly once per call id.
    """


DomainCallEvent = (
    CallStarted
    | CallIdentified
    | CallQueued
    | AgentRinging
    | AgentNoAnswer
    | CallAnswered
    | CallAbandoned
    | CallLeftQueue
    | CallEnded
)
