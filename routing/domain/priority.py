"""Queue routing: priority from the level, raised in special periods; preferred engineers.

Asterisk serves the highest `QUEUE_PRIO` first. A special period (flood season for
water-resources sites, an "important meeting" guard window) raises a call's priority by
`boost`, which stays below the next more urgent level's priority by default (P2 in flood
season still yields to a P1). Calls from a customer with assigned engineers prefer those
engineers' phones when they are logged in and free; otherwise they go straight to the
queue, so a preference never holds a call back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from routing.domain.levels import FaultLevel, SlaPolicy
from routing.records import SiteRecord, SpecialPeriod

WATER_RESOURCES = "water_resources"
FLOOD_SEASON_MONTHS = (5, 10)  # May to October, inclusive
SPECIAL_PERIOD_BOOST = 2
PREFERRED_RING_SECONDS = 15


def flood_season(year: int, tz: tzinfo = UTC) -> SpecialPeriod:
    first, last = FLOOD_SEASON_MONTHS
    return SpecialPeriod(
        kind="flood_season",
        label="汛期 flood season",
        starts_at=datetime(year, first, 1, tzinfo=tz),
        ends_at=datetime(year + (last == 12), last % 12 + 1, 1, tzinfo=tz),
    )


def special_periods_at(
    sector: str, periods: Iterable[SpecialPeriod], at: datetime, tz: tzinfo = UTC
) -> tuple[SpecialPeriod, ...]:
    """Periods in force at `at`: the site's own windows plus flood season when it applies."""
    active = [p for p in periods if p.covers(at)]
    if sector == WATER_RESOURCES:
        season = flood_season(at.astimezone(tz).year, tz)
        if season.covers(at):
            active.append(season)
    return tuple(active)


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    queue: str
    priority: int
    level: FaultLevel | None
    preferred_members: tuple[str, ...] = ()
    preferred_ring_seconds: int = 0
    reasons: tuple[str, ...] = ()

    def channel_variables(self) -> dict[str, str]:
        """What the IVR sets for the dialplan (QUEUE_PRIO comes from HOTLINE_PRIORITY)."""
        return {
            "HOTLINE_QUEUE": self.queue,
            "HOTLINE_PRIORITY": str(self.priority),
            "HOTLINE_PREFERRED": "&".join(self.preferred_members),
            "HOTLINE_PREFERRED_TIMEOUT": str(self.preferred_ring_seconds),
        }


def queue_priority(
    policy: SlaPolicy,
    level: FaultLevel | None,
    active_periods: Iterable[SpecialPeriod] = (),
    *,
    boost: int = SPECIAL_PERIOD_BOOST,
) -> int:
    """Level priority (unknown level = P2's, so an operator call is not starved), plus boost."""
    base = policy.queue_priority[level if level is not None else FaultLevel.P2]
    return base + (boost if any(True for _ in active_periods) else 0)


def route_call(
    policy: SlaPolicy,
    *,
    level: FaultLevel | None,
    at: datetime,
    site: SiteRecord | None,
    queue: str,
    available_members: Mapping[str, bool] | None = None,
    boost: int = SPECIAL_PERIOD_BOOST,
    preferred_ring_seconds: int = PREFERRED_RING_SECONDS,
    tz: tzinfo = UTC,
) -> RoutingDecision:
    """Where and how urgently the call queues.

    `available_members`: queue-member interface → logged in, not paused, not in a call.
    Preferred engineers are offered only when available, so the call never waits on them.
    """
    reasons: list[str] = []
    periods: tuple[SpecialPeriod, ...] = ()
    if site is not None:
        periods = special_periods_at(site.sector, site.special_periods, at, tz)
        reasons.extend(f"special period: {p.kind} ({p.label})" for p in periods)
    priority = queue_priority(policy, level, periods, boost=boost)
    preferred: tuple[str, ...] = ()
    if site is not None and available_members:
        preferred = tuple(
            e.interface
            for e in site.engineers
            if e.interface and available_members.get(e.interface, False)
        )
        if preferred:
            reasons.append("assigned engineer available: " + ", ".join(preferred))
    return RoutingDecision(
        queue=queue,
        priority=priority,
        level=level,
        preferred_members=preferred,
        preferred_ring_seconds=preferred_ring_seconds if preferred else 0,
        reasons=tuple(reasons),
    )
