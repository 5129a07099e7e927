"""Queue routing: priority from the level, raised in special periods; preferred engineers.

Asterisk serves the highest `QUEUE_PRIO` first. A special period (flood season for
water-resources sites, an "important meeting" guard window) raises a call's priority by
`boost`, which stays below the next more urgent level's priority by default (P2 in flood
season still yields to a P1). Calls from a customer with assigned engineers prefer those
engineers' phones when they are logged in and free; otherwise they go straight to the
queue, so a preference never holds a call back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from routing.domain.levels import FaultLevel, SlaPolicy
from routing.records import SiteRecord, SpecialPeriod

WATER_RESOURCES = "water_resources"
FLOOD_SEASON_MONTHS = (5, 10)  # May to October, inclusive
SPECIAL_PERIOD_BOOST = 2
PREFERRED_RING_SECONDS = 15
MAX_PREFERRED_RING_SECONDS = 60
# HOTLINE_PREFERRED is substituted into Dial(${HOTLINE_PREFERRED},...): one entry must be a
# bare channel interface, nothing that could smuggle in Dial arguments or options
# (`,`, `(`, `|`, `$`, spaces) or another destination (`&`).
DIALABLE_INTERFACE = re.compile(r"(?:PJSIP|SIP|IAX2|DAHDI|Local)/[A-Za-z0-9_.@+-]{1,64}")


def dialable(interface: str) -> bool:
    return DIALABLE_INTERFACE.fullmatch(interface) is not None


def preferred_dial(preferred: str, ring_seconds: str) -> tuple[str, str]:
    """(HOTLINE_PREFERRED, HOTLINE_PREFERRED_TIMEOUT) as the dialplan may use them, or
    ("", "") when either is not safe to hand to Dial()."""
    if not preferred:
        return "", ""
    parts = preferred.split("&")
    seconds_ok = ring_seconds.isascii() and ring_seconds.isdigit()
    if not seconds_ok or not 1 <= int(ring_seconds) <= MAX_PREFERRED_RING_SECONDS:
        return "", ""
    if len(parts) > 8 or not all(dialable(p) for p in parts):
        return "", ""
    return preferred, ring_seconds


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
    Preferred engineers are offered only when available, so the call never waits on them;
    `preferred_ring_seconds` 0 turns the preference off.
    """
    reasons: list[str] = []
    periods: tuple[SpecialPeriod, ...] = ()
    if site is not None:
        periods = special_periods_at(site.sector, site.special_periods, at, tz)
        reasons.extend(f"special period: {p.kind} ({p.label})" for p in periods)
    priority = queue_priority(policy, level, periods, boost=boost)
    preferred: tuple[str, ...] = ()
    if site is not None and available_members and preferred_ring_seconds > 0:
        preferred = tuple(
            dict.fromkeys(
                e.interface
                for e in site.engineers
                if e.interface
                and dialable(e.interface)
                and available_members.get(e.interface, False)
            )
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
