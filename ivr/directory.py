"""In-memory adapters of the IVR ports, for tests and `hotline demo`.

`InMemorySiteDirectory` is a real, if small, site directory: numbers are compared on
their digits with the country code (+86 / 0086) and the trunk prefix 0 removed, which is
what a caller's ANI and a contact list disagree on in practice. The database-backed
directory of the storage package does the full `phonenumbers` normalisation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ivr.menu import Outage
from routing.records import SiteMatch


@dataclass(frozen=True, slots=True)
class DirectorySite:
    site_code: str
    display_name: str
    phones: tuple[str, ...]


def national_digits(number: str) -> str:
    """Digits of a Chinese number without country code or trunk prefix."""
    digits = "".join(c for c in number if c.isdigit())
    if number.strip().startswith("+86"):
        digits = digits[2:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:  # 86 + 11-digit mobile
        digits = digits[2:]
    return digits.lstrip("0")


class InMemorySiteDirectory:
    def __init__(self, sites: Iterable[DirectorySite] = ()) -> None:
        self._sites: dict[str, DirectorySite] = {}
        self._by_number: dict[str, list[str]] = {}
        for site in sites:
            self.add(site)

    def add(self, site: DirectorySite) -> None:
        self._sites[site.site_code] = site
        for phone in site.phones:
            key = national_digits(phone)
            if key:
                codes = self._by_number.setdefault(key, [])
                if site.site_code not in codes:
                    codes.append(site.site_code)

    async def match_caller(self, caller_number: str) -> SiteMatch:
        key = national_digits(caller_number)
        codes = self._by_number.get(key, []) if key else []
        if len(codes) == 1:
            return SiteMatch.unique(codes[0], self._sites[codes[0]].display_name)
        if codes:
            return SiteMatch.ambiguous(tuple(codes))
        return SiteMatch.none()

    async def site_exists(self, site_code: str) -> bool:
        return site_code in self._sites


class StaticIvrMode:
    """Mode port whose state is set directly (demo, tests, or a controller that owns it)."""

    def __init__(self, *, emergency: bool = False, outage: Outage | None = None) -> None:
        self.emergency = emergency
        self.outage = outage

    def emergency_active(self) -> bool:
        return self.emergency

    def current_outage(self) -> Outage | None:
        return self.outage


class InMemorySurveySink:
    def __init__(self) -> None:
        self.scores: dict[str, int | None] = {}

    async def record_score(self, call_ref: str, score: int | None) -> None:
        self.scores[call_ref] = score
