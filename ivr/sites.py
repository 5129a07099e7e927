"""`ivr.ports.SiteDirectoryPort` over the stored site directory (`routing.ports.SiteDirectory`).

The IVR and the store speak the same `routing.records.SiteMatch`: this adapter passes the
store's answer on, turning a unique match without a site code into no match.
"""

from __future__ import annotations

from routing.ports import SiteDirectory
from routing.records import MatchKind, SiteMatch


class IvrSiteDirectory:
    """`ivr.ports.SiteDirectoryPort` over the stored site directory."""

    def __init__(self, sites: SiteDirectory) -> None:
        self.sites = sites

    async def match_caller(self, caller_number: str) -> SiteMatch:
        match = await self.sites.match_caller(caller_number)
        if match.kind is MatchKind.UNIQUE and not match.site_codes:
            return SiteMatch.none(match.normalised)
        return match

    async def site_exists(self, site_code: str) -> bool:
        return await self.sites.site_exists(site_code)
