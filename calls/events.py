"""Domain events of a call, as the call tracker and the CDR sweep publish them.

One stream of these frozen values feeds the pipeline (tickets, screen-pop, emergency
journal, wallboard, supervision). Each carries the call as it stands after the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from calls.record import CallSnapshot


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Something that happened to a call `at` a moment; `call` is the call just after it."""

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
