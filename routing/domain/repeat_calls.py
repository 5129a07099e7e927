"""Repeat calls: which open ticket of the caller's site a new call joins, if any.

A site whose equipment failed often calls again (the caller hung up, a colleague rings,
the fault worsened). Within the repeat window a new call from that site joins the site's
open ticket instead of opening a second one, provided that ticket is at the same or a
more urgent level (level 1 is the most urgent): a level-1 call never hides in a level-3
ticket.

The window reaches both ways from the call: a ticket of the site opened a little after
the call (another call of the site whose event was written first, as after a failed
write retried) is that site's ticket too, so the order in which the calls of one site
reach the database never gives the site a second ticket.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from routing.records import OPEN_STATUSES


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

    Eligible: still open, opened within `window` of `at` (before or after it), level the
    same or more urgent, and not the call's own ticket. Among them the most urgent wins,
    then the most recent. A zero window turns merging off.
    """
    if window <= timedelta(0):
        return None
    eligible = [
        t
        for t in candidates
        if t.status in OPEN_STATUSES
        and t.level <= level
        and abs(t.created_at - at) <= window
        and (t.call_id is None or t.call_id != call_id)
    ]
    if not eligible:
        return None
    return min(eligible, key=lambda t: (t.level, -t.created_at.timestamp(), t.number))


@dataclass(frozen=True, slots=True)
class RepeatRule:
    """The repeat-call rule as it applies to one call (`level` as the ticket would get
    it, `at` the time of its queue join), for a store to apply to the site's open
    tickets it reads."""

    call_id: str
    level: int
    at: datetime
    window: timedelta

    @property
    def since(self) -> datetime:
        """The earliest opening time of a ticket the call may join."""
        return self.at - self.window

    def choose(self, candidates: Iterable[OpenTicketView]) -> OpenTicketView | None:
        """The ticket the call joins among `candidates`, or None: a ticket of its own."""
        return repeat_target(
            call_id=self.call_id,
            level=self.level,
            at=self.at,
            window=self.window,
            candidates=candidates,
        )
