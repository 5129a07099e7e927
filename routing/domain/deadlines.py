"""SLA deadlines of a ticket, from the configured `SlaPolicy` (DESIGN.md tables)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from routing.domain.levels import FaultLevel, SlaPolicy


@dataclass(frozen=True, slots=True)
class Deadlines:
    response_due: datetime
    onsite_due: datetime | None  # None: no on-site commitment (level 4)


def deadlines_for(
    policy: SlaPolicy,
    level: FaultLevel | int,
    opened_at: datetime,
    distance_km: float | None = None,
    *,
    remote: bool = False,
    feature_request: bool = False,
) -> Deadlines:
    """Response and on-site deadlines for a ticket opened at `opened_at`.

    On-site: the stricter of the level rule and the distance band applies; level 4 has none.
    """
    fault = FaultLevel.parse(level)
    response = policy.response_window(fault, remote=remote, feature_request=feature_request)
    onsite = policy.onsite_window(fault, distance_km)
    return Deadlines(
        response_due=opened_at + response,
        onsite_due=None if onsite is None else opened_at + onsite,
    )


def unidentified_level(level: int | None) -> FaultLevel:
    """The level of a call whose caller chose none (operator, timeout): treated as major.

    A ticket needs a clock from the first second; the agent corrects the level, and the
    deadlines are recomputed from the original opening time.
    """
    if level is None or not 1 <= level <= 4:
        return FaultLevel.P2
    return FaultLevel(level)
