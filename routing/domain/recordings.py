"""Call recordings: which calls have one to play, who may play it, and how long it is kept.

Pure rules over plain values. A recording is the PBX's MixMonitor file of the call,
written only while the caller was bridged to an agent, so only an answered call has one
worth playing (the file of an unanswered call is empty).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import quote

# What the dialplan names a recording (`${UNIQUEID}.wav`), and no path: a name that is
# not of this shape is never opened.
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def is_recording_name(name: str) -> bool:
    """A plain file name (no directory, no `..`) that may name a recording."""
    return bool(_FILE_NAME.fullmatch(name)) and ".." not in name


def recording_url(call_id: str, recording: str | None, answered_at: datetime | None) -> str | None:
    """The console URL that plays the call's recording, or None when it has none."""
    if recording is None or answered_at is None or not is_recording_name(recording):
        return None
    return f"/api/calls/{quote(call_id, safe='')}/recording"


def may_play(
    *,
    role_at_least_supervisor: bool,
    username: str,
    call_agent: str | None,
    ticket_people: tuple[str, ...] = (),
) -> bool:
    """Supervisors and admins play every recording; an agent plays the recording of a
    call they answered, or of a call on a ticket that is theirs (duty agent or owner)."""
    if role_at_least_supervisor:
        return True
    if not username:
        return False
    return username == call_agent or username in ticket_people


def retention_cutoff(now: datetime, days: int) -> datetime | None:
    """Recordings of calls started before this are purged; None keeps them for ever
    (`days` 0)."""
    if days <= 0:
        return None
    return now - timedelta(days=days)
