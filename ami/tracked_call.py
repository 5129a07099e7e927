"""The tracker's picture of one call: mutable while `ami.tracker.CallTracker` folds the
call's channels, published only as a frozen `calls.record.CallSnapshot`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from calls.record import CallOutcome, CallSnapshot, CallState


@dataclass
class TrackedCall:
    """Mutable picture of one call while the tracker folds its channels; published only
    as a `CallSnapshot`."""

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
    # MIXMONITOR_FILENAME of the caller channel, and the recording's file name once
    # MixMonitorStart confirmed that the monitor runs.
    monitor_file: str | None = None
    recording: str | None = None

    @property
    def site_code(self) -> str | None:
        return self.variables.get("HOTLINE_SITE") or None

    def adopt_recording(self, file: str) -> None:
        """The caller channel's MixMonitor file (an absolute name) is this call's
        recording: the file name only is kept."""
        name = PurePosixPath(file).name
        if self.recording is None and name:
            self.recording = name

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
            recording=self.recording,
        )
