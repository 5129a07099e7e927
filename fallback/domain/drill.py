"""When the next emergency-pool drill is due (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta


def next_drill_due(last_run: datetime | None, interval: timedelta, now: datetime) -> datetime:
    """Drills run every `interval` after the last one; a missed one (controller down) runs
    at once, and a never-run pool is drilled now."""
    if interval <= timedelta(0):
        raise ValueError("drill interval must be positive")
    if last_run is None:
        return now
    due = last_run + interval
    return due if due > now else now
