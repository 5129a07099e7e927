"""The call record: a call's state and outcome, and the immutable snapshot every domain
event carries.

Pure data: no I/O, no asyncio. `call_id` is always Asterisk's ``Linkedid``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CallState(StrEnum):
    """Where a call stands, from the IVR to its end."""

    IN_IVR = "in_ivr"
    QUEUED = "queued"
    AGENT_RINGING = "agent_ringing"
    CONNECTED = "connected"
    ENDED = "ended"


class CallOutcome(StrEnum):
    """How an ended call ended."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    IVR_HANGUP = "ivr_hangup"
    NO_AGENT = "no_agent"
    TRANSFERRED = "transferred"


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
    # File name (no directory) of the call's recording on the PBX, once MixMonitor started.
    recording: str | None = None
