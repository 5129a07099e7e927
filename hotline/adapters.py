"""Small adapters between packages that grew their own vocabulary.

The IVR speaks `ivr.menu.SiteMatch`; the storage speaks `routing.records.SiteMatch`;
the IVR asks `IvrModePort` whether emergency mode is on, which the emergency service
knows. These adapters translate, nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from ami.control import CallControl
from fallback.ports import EmergencyControl
from ivr.menu import MatchKind as IvrMatchKind
from ivr.menu import Outage
from ivr.menu import SiteMatch as IvrSiteMatch
from routing.ports import SiteDirectory
from routing.records import MatchKind
from routing.router import CallRouter, available_members

log = logging.getLogger(__name__)


class IvrSiteDirectory:
    """`ivr.ports.SiteDirectoryPort` over the stored site directory."""

    def __init__(self, sites: SiteDirectory) -> None:
        self.sites = sites

    async def match_caller(self, caller_number: str) -> IvrSiteMatch:
        match = await self.sites.match_caller(caller_number)
        if match.kind is MatchKind.UNIQUE and match.site_codes:
            code = match.site_codes[0]
            name = match.site_names[0] if match.site_names else code
            return IvrSiteMatch.unique(code, name)
        if match.kind is MatchKind.AMBIGUOUS:
            return IvrSiteMatch(IvrMatchKind.AMBIGUOUS, candidates=tuple(match.site_codes))
        return IvrSiteMatch(IvrMatchKind.NONE)

    async def site_exists(self, site_code: str) -> bool:
        return await self.sites.site_exists(site_code)


class IvrMode:
    """`ivr.ports.IvrModePort`: emergency state from the emergency service, the outage
    announcement from the supervisor (set at run time, cleared when the incident ends)."""

    def __init__(self, emergency: EmergencyControl) -> None:
        self._emergency = emergency
        self.outage: Outage | None = None

    def emergency_active(self) -> bool:
        return self._emergency.status().active

    def current_outage(self) -> Outage | None:
        return self.outage


class IvrRoutingAdvisor:
    """`ivr.ports.RoutingAdvisorPort` over `routing.router.CallRouter`: special periods
    raise the priority, and the site's assigned engineers who are free right now (from
    QueueStatus) are offered first."""

    def __init__(
        self, router: CallRouter, control: CallControl, *, members_timeout: float = 0.5
    ) -> None:
        self.router = router
        self.control = control
        self.members_timeout = members_timeout

    async def advise(
        self, *, call_ref: str, site_code: str | None, level: int | None, queue: str
    ) -> Mapping[str, str]:
        members: dict[str, bool] | None = None
        try:
            async with asyncio.timeout(self.members_timeout):
                members = available_members(await self.control.queue_status(queue), queue)
        except Exception as exc:  # no member view: route by level and period only
            log.warning("call %s: queue members unknown (%s)", call_ref, exc)
        decision = await self.router.decide(
            site_code=site_code, level=level, call_id=call_ref, queue=queue, members=members
        )
        return decision.channel_variables()
