"""Building call snapshots for tests and benchmarks without spelling out all nineteen
fields each time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from calls import CallSnapshot, CallState


def call_snapshot(call_id: str, at: datetime, /, **fields: Any) -> CallSnapshot:
    """A hotline call as the tracker publishes it: started at `at` and waiting in
    hotline-main since then, on the trunk channel named after its id, nothing answered
    or ended, no site or level; `fields` set anything else."""
    values: dict[str, Any] = {
        "call_id": call_id,
        "channel": f"PJSIP/trunk-{call_id}",
        "caller_number": "13800138000",
        "caller_name": "",
        "state": CallState.QUEUED,
        "started_at": at,
        "queue": "hotline-main",
        "queued_at": at,
        "agent_interface": None,
        "agent_member_name": None,
        "answered_at": None,
        "ended_at": None,
        "outcome": None,
        "hold_seconds": None,
        "talk_seconds": None,
        "site_code": None,
        "level": None,
        "variables": {},
        "resynced": False,
    }
    values.update(fields)
    return CallSnapshot(**values)
