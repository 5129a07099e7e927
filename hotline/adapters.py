"""Small adapters between packages that grew their own vocabulary.

The IVR speaks `ivr.menu.SiteMatch`; the storage speaks `routing.records.SiteMatch`;
the IVR asks `IvrModePort` whether emergency mode is on, which the emergency service
knows. These adapters translate, nothing more.
"""

from __future__ import annotations

from fallback.ports import EmergencyControl
from ivr.menu import MatchKind as IvrMatchKind
from ivr.menu import Outage
from ivr.menu import SiteMatch as IvrSiteMatch
from routing.ports import SiteDirectory
from routing.records import MatchKind


class IvrSiteDirectory:
    """`ivr.ports.SiteDirectoryPort` over the stored site directory."""

    def __init__(self, sites: SiteDirectory) -> None:
        self.sites = sites

    async def match_caller(self, caller_number: str) -> IvrSiteMatch:
        match = await self.sites.match_caller(caller_number)
        if match.kind is MatchKind.UNIQUE and match.site_codes:
            code = match.site_codes[0]
            record = await self.sites.site_record(code)
            name = record.site_name if record is not None else code
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
