"""Queue routing for one call: queue priority and preferred engineers.

The IVR (or whoever sets the dialplan variables) asks `CallRouter.decide()` once it knows
the site and the level; the decision's `channel_variables()` carry `HOTLINE_PRIORITY`
(→ `QUEUE_PRIO`) and `HOTLINE_PREFERRED` (`&`-joined interfaces of the customer's assigned
engineers that are free right now). Engineers are preferred only for calls to the main
queue: in emergency mode (or any other queue) the call goes to that queue's pool in turn.
A directory failure never holds the call: the decision falls back to the level's priority
with no preference.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, tzinfo

from calls.clock import Clock, utc_now
from calls.control import QueueSnapshot
from routing.domain.levels import FaultLevel, SlaPolicy
from routing.domain.priority import (
    PREFERRED_RING_SECONDS,
    SPECIAL_PERIOD_BOOST,
    RoutingDecision,
    dialable,
    route_call,
)
from routing.errors import RoutingError
from routing.ports import SiteDirectory

log = logging.getLogger(__name__)

NOT_IN_USE = 1  # Asterisk device state


def available_members(snapshot: QueueSnapshot, queue: str | None = None) -> dict[str, bool]:
    """Interface → free to take a call (logged in, not paused, idle), from QueueStatus."""
    return {
        m.interface: (not m.paused and not m.in_call and m.status == NOT_IN_USE)
        for m in snapshot.members
        if queue is None or m.queue == queue
    }


class CallRouter:
    def __init__(
        self,
        sites: SiteDirectory,
        policy: SlaPolicy,
        *,
        main_queue: str = "hotline-main",
        boost: int = SPECIAL_PERIOD_BOOST,
        preferred_ring_seconds: int = PREFERRED_RING_SECONDS,
        tz: tzinfo = UTC,
        clock: Clock = utc_now,
    ) -> None:
        self.sites = sites
        self.policy = policy
        self.main_queue = main_queue
        self.boost = boost
        self.preferred_ring_seconds = preferred_ring_seconds
        self.tz = tz
        self.clock = clock

    async def decide(
        self,
        *,
        site_code: str | None,
        level: int | None,
        call_id: str = "",
        queue: str | None = None,
        at: datetime | None = None,
        members: Mapping[str, bool] | None = None,
        members_of: Callable[[], Awaitable[Mapping[str, bool] | None]] | None = None,
    ) -> RoutingDecision:
        """`members`: which queue members are free; or `members_of`, asked only when the
        call goes to the main queue and the site has engineers with a phone to prefer
        (most calls need no member view)."""
        when = at or self.clock()
        queue = queue or self.main_queue
        if queue != self.main_queue:
            # The emergency pool takes calls in turn: nobody is rung ahead of the queue.
            members, members_of = None, None
        fault = FaultLevel(level) if level is not None and 1 <= level <= 4 else None
        site = None
        if site_code and site_code.isascii() and site_code.isdigit():
            try:
                site = await self.sites.site_profile(site_code)
            except RoutingError as exc:
                log.warning("call %s: site lookup failed (%s); routing by level", call_id, exc)
        if (
            members is None
            and members_of is not None
            and site is not None
            and self.preferred_ring_seconds > 0
            and any(e.interface and dialable(e.interface) for e in site.engineers)
        ):
            members = await members_of()
        decision = route_call(
            self.policy,
            level=fault,
            at=when,
            site=site,
            queue=queue,
            available_members=members,
            boost=self.boost,
            preferred_ring_seconds=self.preferred_ring_seconds,
            tz=self.tz,
        )
        if decision.reasons:
            log.info(
                "call %s: priority %d (%s)", call_id, decision.priority, "; ".join(decision.reasons)
            )
        return decision
