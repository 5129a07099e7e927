"""`ivr.ports.SiteDirectoryPort` over the stored site directory (`routing.ports.SiteDirectory`).

The IVR speaks `ivr.menu.SiteMatch`, the store `routing.records.SiteMatch`; this adapter
translates, nothing more.
"""

from __future__ import annotations

from ivr.menu import MatchKind as IvrMatchKind
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
            name = match.site_names[0] if match.site_names else code
            return IvrSiteMatch.unique(code, name)
        if match.kind is MatchKind.AMBIGUOUS:
            return IvrSiteMatch(IvrMatchKind.AMBIGUOUS, candidates=tuple(match.site_codes))
        return IvrSiteMatch(IvrMatchKind.NONE)

    async def site_exists(self, site_code: str) -> bool:
        return await self.sites.site_exists(site_code)
