"""`SiteDirectory` on SQLAlchemy: site records for the screen-pop, search, caller matching."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, or_, select
from sqlalchemy.orm import selectinload

from calls.clock import Clock, utc_now
from routing.domain.priority import special_periods_at
from routing.numbers import matching_key
from routing.records import (
    OPEN_STATUSES,
    Contact,
    Contract,
    Engineer,
    Equipment,
    MatchKind,
    SiteMatch,
    SiteRecord,
    SiteSummary,
    SiteTier,
    SpecialPeriod,
    TicketStatus,
    TicketSummary,
)
from storage.database import Database
from storage.errors import store_errors
from storage.models import ContactRow, SiteEngineerRow, SiteRow, TicketRow
from storage.ticket_rows import like_pattern

log = logging.getLogger(__name__)

RECENT_TICKETS = 5
# Far more sites than a provincial directory holds; beyond this the cache starts over.
MAX_CACHED_SITES = 200_000
OPEN_TICKETS_SHOWN = 20


def _with_static(stmt: Select[Any]) -> Select[Any]:
    """`stmt` loading what a site record's static part needs."""
    return stmt.options(
        selectinload(SiteRow.contacts),
        selectinload(SiteRow.equipment),
        selectinload(SiteRow.contract),
        selectinload(SiteRow.engineer_links).joinedload(SiteEngineerRow.engineer),
        selectinload(SiteRow.special_periods),
    )


def _tier(value: str | None) -> SiteTier | None:
    return SiteTier(value) if value is not None and value in SiteTier._value2member_map_ else None


def _warranties_on(equipment: tuple[Equipment, ...], today: date) -> tuple[Equipment, ...]:
    return tuple(
        replace(e, in_warranty=e.warranty_end is not None and e.warranty_end >= today)
        for e in equipment
    )


def _to_static(site: SiteRow) -> _SiteStatic:
    contract = site.contract
    record = SiteRecord(
        customer_id=site.customer_id,
        organisation=site.organisation,
        site_code=site.site_code,
        site_name=site.site_name,
        tier=_tier(site.tier),
        address=site.address,
        distance_km=site.distance_km,
        contacts=tuple(Contact(c.name, c.phone, c.normalised) for c in site.contacts),
        equipment=tuple(
            Equipment(e.kind, e.model, e.serial, e.warranty_end, in_warranty=False)
            for e in site.equipment
        ),
        contract=None if contract is None else Contract(contract.tier, contract.warranty_end),
        engineers=tuple(
            Engineer(link.engineer.name, link.engineer.phone, link.engineer.interface)
            for link in site.engineer_links
        ),
        network_notes=site.network_notes,
        sector=site.sector,
    )
    periods = tuple(
        SpecialPeriod(p.kind, p.label, p.starts_at, p.ends_at) for p in site.special_periods
    )
    return _SiteStatic(record, periods)


_UNTIL_CHANGED = float(
    "inf"
)  # a cache entry loaded by `load_changed`: kept until an import changes it


@dataclass(frozen=True, slots=True)
class _SiteStatic:
    """The part of a site record that only an import changes (cached briefly)."""

    record: SiteRecord  # without tickets; equipment warranty state recomputed per read
    stored_periods: tuple[SpecialPeriod, ...]


_TICKET_COLUMNS = (
    TicketRow.number,
    TicketRow.created_at,
    TicketRow.level,
    TicketRow.status,
    TicketRow.description,
    TicketRow.resolution,
)


def _summary_row(row: Any) -> TicketSummary:
    return TicketSummary(
        number=row.number,
        created_at=row.created_at,
        level=row.level,
        status=TicketStatus(row.status),
        symptom=row.description,
        resolution=row.resolution,
    )


class _NumberIndex:
    """Contact numbers (matching keys) to the sites that list them, for caller matching
    without a read; `complete` once every site of the directory is in it."""

    def __init__(self) -> None:
        self.complete = False
        self._sites: dict[str, dict[str, str]] = {}  # key -> site code -> site name
        self._keys: dict[str, frozenset[str]] = {}  # site code -> its contacts' keys

    def put(self, site: SiteRecord) -> None:
        keys = frozenset(c.normalised for c in site.contacts if c.normalised)
        for key in self._keys.get(site.site_code, frozenset()) - keys:
            sites = self._sites.get(key, {})
            sites.pop(site.site_code, None)
            if not sites:
                self._sites.pop(key, None)
        for key in keys:
            self._sites.setdefault(key, {})[site.site_code] = site.site_name
        self._keys[site.site_code] = keys

    def match(self, key: str) -> SiteMatch:
        found = sorted(self._sites.get(key, {}).items())
        if not found:
            return SiteMatch(MatchKind.NONE, key)
        kind = MatchKind.UNIQUE if len(found) == 1 else MatchKind.AMBIGUOUS
        return SiteMatch(
            kind, key, tuple(code for code, _ in found), tuple(name for _, name in found)
        )


class SiteRepository:
    """Implements `routing.ports.SiteDirectory` (and the IVR's site lookup).

    The static part of a site record (site, contacts, equipment, contract, engineers,
    guard windows) is cached: every site from `load_changed` (at start, then every few
    seconds for what imports changed), a site read on a miss for `cache_seconds` (0 = no
    caching of misses). The screen-pop for a site then costs two small ticket queries and
    the IVR's routing advice none; `forget()` drops the cache at once.
    """

    def __init__(
        self,
        db: Database,
        *,
        region: str = "CN",
        tz: tzinfo = UTC,
        clock: Clock = utc_now,
        cache_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.region = region
        self.tz = tz
        self.clock = clock
        self.cache_seconds = cache_seconds
        self._monotonic = monotonic
        # site code -> (valid until, on the monotonic clock; static part or None)
        self._cache: dict[str, tuple[float, _SiteStatic | None]] = {}
        self._changed_since: datetime | None = None  # newest change `load_changed` saw
        # Caller matching from memory once every site is loaded: contact key -> sites.
        self._numbers = _NumberIndex()

    def forget(self, site_code: str | None = None) -> None:
        if site_code is None:
            self._cache.clear()
            self._changed_since = None
            self._numbers = _NumberIndex()
        else:
            self._cache.pop(site_code, None)
            self._numbers.complete = False  # its contacts are read again on a match

    async def _static(self, site_code: str) -> _SiteStatic | None:
        now = self._monotonic()
        cached = self._cache.get(site_code)
        if cached is not None and now < cached[0]:
            return cached[1]
        async with self.db.reads() as session:
            site = await session.scalar(
                _with_static(select(SiteRow).where(SiteRow.site_code == site_code))
            )
        static = None if site is None else _to_static(site)
        if self.cache_seconds > 0:
            if len(self._cache) > MAX_CACHED_SITES:
                self._cache.clear()
                self._changed_since = None
                self._numbers = _NumberIndex()
            self._cache[site_code] = (now + self.cache_seconds, static)
        return static

    async def load_changed(self, *, batch: int = 500, everything: bool = False) -> int:
        """Load the static records of every site changed since the last call (all of them
        the first time, or with `everything`) into the cache, where they stay until an
        import changes them; returns how many. Run at start and then every few seconds
        (`SiteCacheKeeper`), it keeps the cache current with imports made by any process:
        an import stamps each of its transactions with a later time than the previous."""
        since = None if everything else self._changed_since
        loaded, last_id = 0, 0
        newest = since
        with store_errors():
            while True:
                stmt = select(SiteRow).where(SiteRow.id > last_id)
                if since is not None:
                    stmt = stmt.where(SiteRow.updated_at > since)
                async with self.db.reads() as session:
                    rows = (
                        await session.scalars(_with_static(stmt.order_by(SiteRow.id).limit(batch)))
                    ).all()
                if not rows:
                    break
                for site in rows:
                    newest = site.updated_at if newest is None else max(newest, site.updated_at)
                    static = _to_static(site)
                    cached = self._cache.get(site.site_code)
                    if cached is not None and cached[0] == _UNTIL_CHANGED and cached[1] == static:
                        # An unchanged site keeps its objects: those built at start stay
                        # out of the garbage collector's reach (`lifecycle.SettledHeap`).
                        continue
                    self._cache[site.site_code] = (_UNTIL_CHANGED, static)
                    self._numbers.put(static.record)
                loaded += len(rows)
                last_id = rows[-1].id
        self._changed_since = newest
        if since is None:
            self._numbers.complete = True  # every site is in memory now
        return loaded

    def cached_profile(self, site_code: str) -> SiteRecord | None:
        """The site's profile if the cache holds it (no database read), else None."""
        cached = self._cache.get(site_code)
        if cached is None or cached[1] is None or self._monotonic() >= cached[0]:
            return None
        return self._profile(cached[1])

    async def site_profile(self, site_code: str) -> SiteRecord | None:
        with store_errors():
            static = await self._static(site_code)
        return None if static is None else self._profile(static)

    def _profile(self, static: _SiteStatic) -> SiteRecord:
        """The site's stored part, its warranties judged for today (without tickets)."""
        today = self.clock().astimezone(self.tz).date()
        return replace(
            static.record,
            equipment=_warranties_on(static.record.equipment, today),
            special_periods=static.stored_periods,
        )

    async def site_record(self, site_code: str, *, at: datetime | None = None) -> SiteRecord | None:
        when = at or self.clock()
        today = when.astimezone(self.tz).date()
        with store_errors():
            static = await self._static(site_code)
            if static is None:
                return None
            async with self.db.reads() as session:
                open_rows = (
                    await session.execute(
                        select(*_TICKET_COLUMNS)
                        .where(
                            TicketRow.site_code == site_code,
                            TicketRow.status.in_([s.value for s in OPEN_STATUSES]),
                        )
                        .order_by(TicketRow.created_at.desc(), TicketRow.id.desc())
                        .limit(OPEN_TICKETS_SHOWN)
                    )
                ).all()
                recent_rows = (
                    await session.execute(
                        select(*_TICKET_COLUMNS)
                        .where(TicketRow.site_code == site_code)
                        .order_by(TicketRow.created_at.desc(), TicketRow.id.desc())
                        .limit(RECENT_TICKETS)
                    )
                ).all()
        stored = static.stored_periods
        # Show what is in force now (incl. flood season) and what is still to come.
        shown = special_periods_at(static.record.sector, stored, when, self.tz) + tuple(
            p for p in stored if p.starts_at > when
        )
        return replace(
            static.record,
            equipment=_warranties_on(static.record.equipment, today),
            special_periods=shown,
            open_tickets=tuple(_summary_row(r) for r in open_rows),
            recent_tickets=tuple(_summary_row(r) for r in recent_rows),
        )

    async def search(self, text: str, *, limit: int = 20) -> Sequence[SiteSummary]:
        query = text.strip()[:100]
        if not query:
            return []
        pattern = like_pattern(query)
        conditions: list[ColumnElement[bool]] = [
            SiteRow.site_code.like(pattern, escape="\\"),
            SiteRow.organisation.ilike(pattern, escape="\\"),
            SiteRow.site_name.ilike(pattern, escape="\\"),
            SiteRow.address.ilike(pattern, escape="\\"),
            SiteRow.customer_id.ilike(pattern, escape="\\"),
        ]
        key = matching_key(query, self.region) if any(ch.isdigit() for ch in query) else None
        if key:
            conditions.append(
                exists().where(ContactRow.site_id == SiteRow.id, ContactRow.normalised == key)
            )
        stmt = (
            select(SiteRow)
            .where(or_(*conditions))
            .order_by(SiteRow.site_code)
            .limit(max(1, min(limit, 200)))
        )
        with store_errors():
            async with self.db.reads() as session:
                rows = (await session.scalars(stmt)).all()
        return [
            SiteSummary(r.site_code, r.organisation, r.site_name, _tier(r.tier), r.customer_id)
            for r in rows
        ]

    async def match_caller(self, number: str) -> SiteMatch:
        key = matching_key(number, self.region)
        if key is None:
            return SiteMatch(MatchKind.NONE, "")
        if self._numbers.complete:
            return self._numbers.match(key)
        with store_errors():
            async with self.db.reads() as session:
                found = (
                    await session.execute(
                        select(SiteRow.site_code, SiteRow.site_name)
                        .join(ContactRow, ContactRow.site_id == SiteRow.id)
                        .where(ContactRow.normalised == key)
                        .distinct()
                        .order_by(SiteRow.site_code)
                    )
                ).all()
        if not found:
            return SiteMatch(MatchKind.NONE, key)
        kind = MatchKind.UNIQUE if len(found) == 1 else MatchKind.AMBIGUOUS
        return SiteMatch(
            kind, key, tuple(code for code, _ in found), tuple(name for _, name in found)
        )

    async def site_exists(self, site_code: str) -> bool:
        if not (site_code.isascii() and site_code.isdigit()) or len(site_code) > 32:
            return False
        with store_errors():
            async with self.db.reads() as session:
                found = await session.scalar(
                    select(SiteRow.id).where(SiteRow.site_code == site_code)
                )
        return found is not None
