"""Repeat calls: which open ticket of the caller's site a new call joins, if any.

A site whose equipment failed often calls again (the caller hung up, a colleague rings,
the fault worsened). Within the repeat window a new call from that site joins the site's
open ticket instead of opening a second one, provided that ticket is at the same or a
more urgent level (level 1 is the most urgent): a level-1 call never hides in a level-3
ticket.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

# Statuses of a ticket someone is still working on (routing.records.TicketStatus values).
OPEN_STATUSES = frozenset({"open", "callback_due", "in_progress"})


@dataclass(frozen=True, slots=True)
class OpenTicketView:
    """What the rule needs of one of the site's tickets."""

    number: str
    level: int
    status: str
    created_at: datetime
    call_id: str | None = None


def repeat_target(
    *,
    call_id: str,
    level: int,
    at: datetime,
    window: timedelta,
    candidates: Iterable[OpenTicketView],
) -> OpenTicketView | None:
    """The ticket a call of fault `level` made `at` joins, among its site's tickets.

    Eligible: still open, opened within `window` before `at` (not after it), level the
    same or more urgent, and not the call's own ticket. Among them the most urgent wins,
    then the most recent. A zero window turns merging off.
    """
    if window <= timedelta(0):
        return None
    earliest = at - window
    eligible = [
        t
        for t in candidates
        if t.status in OPEN_STATUSES
        and t.level <= level
        and earliest <= t.created_at <= at
        and (t.call_id is None or t.call_id != call_id)
    ]
    if not eligible:
        return None
    return min(eligible, key=lambda t: (t.level, -t.created_at.timestamp(), t.number))
