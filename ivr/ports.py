"""Ports through which the IVR reaches the rest of the hotline.

The storage side implements `SiteDirectoryPort` against the database (numbers normalised
there with `phonenumbers`; the IVR passes the raw ANI); the emergency controller implements
`IvrModePort`; the ticket side implements `SurveySinkPort`. In-memory adapters for tests and
the demo are in `ivr.directory`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ivr.menu import Outage
from routing.records import MatchKind, SiteMatch

__all__ = [
    "IvrModePort",
    "MatchKind",
    "Outage",
    "RoutingAdvisorPort",
    "SiteDirectoryPort",
    "SiteMatch",
    "SurveySinkPort",
]


class SiteDirectoryPort(Protocol):
    async def match_caller(self, caller_number: str) -> SiteMatch:
        """Which site(s) list this raw caller number among their contacts."""
        ...

    async def site_exists(self, site_code: str) -> bool: ...


class IvrModePort(Protocol):
    def emergency_active(self) -> bool: ...

    def current_outage(self) -> Outage | None: ...


class RoutingAdvisorPort(Protocol):
    async def advise(
        self, *, call_ref: str, site_code: str | None, level: int | None, queue: str
    ) -> Mapping[str, str]:
        """Routing's decision for this caller, asked for every call in either mode:
        HOTLINE_PRIORITY (the level's, raised in special periods such as flood season
        or guard windows) and, for calls to the main queue, the assigned engineers free
        right now in HOTLINE_PREFERRED. Only HOTLINE_PRIORITY, HOTLINE_PREFERRED and
        HOTLINE_PREFERRED_TIMEOUT are taken."""
        ...


class SurveySinkPort(Protocol):
    async def record_score(self, call_ref: str, score: int | None) -> None:
        """Store the caller's 1..5 score (None: offered but not answered)."""
        ...
