"""`hotline sites import`: write a validated site directory CSV into the database.

Idempotent: sites are matched by `site_code`, contacts by (site, normalised number),
equipment by (site, serial), engineers by name, guard windows by (start, end). Nothing
that is not in the file is deleted, so a partial file never loses data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from calls.clock import utc_now
from routing.site_rows import DirectoryRow, RowError, parse_directory
from storage.database import Database
from storage.errors import store_errors
from storage.models import (
    Base,
    ContactRow,
    ContractRow,
    EngineerRow,
    EquipmentRow,
    SiteEngineerRow,
    SiteRow,
    SpecialPeriodRow,
)

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (rows done, rows total)
SITE_FIELDS = (
    "organisation",
    "site_name",
    "customer_id",
    "tier",
    "address",
    "distance_km",
    "sector",
    "network_notes",
)
CHUNK_SITES = 200


@dataclass(frozen=True, slots=True)
class ImportReport:
    rows_read: int
    rows_imported: int
    sites_created: int
    sites_updated: int
    contacts_added: int
    errors: tuple[RowError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def _group(rows: Sequence[DirectoryRow]) -> dict[str, list[DirectoryRow]]:
    sites: dict[str, list[DirectoryRow]] = {}
    for row in rows:
        sites.setdefault(row.site_code, []).append(row)
    return sites


async def import_sites(
    db: Database, path: Path | str, *, progress: Progress | None = None
) -> ImportReport:
    """Import or update the sites in `path`. Raises DirectoryFileError for an unreadable
    file; bad rows are reported in the result and skipped."""
    data = await asyncio.to_thread(Path(path).read_bytes)
    parsed = await asyncio.to_thread(parse_directory, data)
    return await import_rows(db, parsed.rows, parsed.errors, parsed.rows_read, progress=progress)


async def import_rows(
    db: Database,
    rows: Sequence[DirectoryRow],
    errors: Sequence[RowError] = (),
    rows_read: int | None = None,
    *,
    progress: Progress | None = None,
) -> ImportReport:
    grouped = _group(rows)
    total = len(rows)
    done = created = updated = contacts = 0
    if progress:
        progress(0, total)
    codes = list(grouped)
    for start in range(0, len(codes), CHUNK_SITES):
        chunk = {code: grouped[code] for code in codes[start : start + CHUNK_SITES]}
        with store_errors():
            async with db.sessions.begin() as session:
                c, u, k = await _write_chunk(session, chunk)
        created, updated, contacts = created + c, updated + u, contacts + k
        done += sum(len(v) for v in chunk.values())
        if progress:
            progress(done, total)
    report = ImportReport(
        rows_read=rows_read if rows_read is not None else total,
        rows_imported=total,
        sites_created=created,
        sites_updated=updated,
        contacts_added=contacts,
        errors=tuple(errors),
    )
    log.info(
        "site import: %d rows, %d sites created, %d updated, %d contacts added, %d bad rows",
        report.rows_read,
        created,
        updated,
        contacts,
        len(report.errors),
    )
    return report


async def _engineers(session: AsyncSession, rows: Sequence[DirectoryRow]) -> dict[str, EngineerRow]:
    wanted: dict[str, DirectoryRow] = {}
    for row in rows:
        if row.engineer:
            wanted[row.engineer] = row  # the last row naming an engineer has the newest data
    if not wanted:
        return {}
    found = {
        e.name: e
        for e in (
            await session.scalars(select(EngineerRow).where(EngineerRow.name.in_(list(wanted))))
        ).all()
    }
    for name, row in wanted.items():
        engineer = found.get(name)
        if engineer is None:
            engineer = EngineerRow(name=name, phone=row.engineer_phone, interface=None)
            session.add(engineer)
            found[name] = engineer
        if row.engineer_phone:
            engineer.phone = row.engineer_phone
        if row.engineer_interface:
            engineer.interface = row.engineer_interface
    await session.flush()
    return found


async def _write_chunk(
    session: AsyncSession, chunk: dict[str, list[DirectoryRow]]
) -> tuple[int, int, int]:
    existing = {
        s.site_code: s
        for s in (
            await session.scalars(
                select(SiteRow)
                .where(SiteRow.site_code.in_(list(chunk)))
                .options(
                    selectinload(SiteRow.contacts),
                    selectinload(SiteRow.equipment),
                    selectinload(SiteRow.contract),
                    selectinload(SiteRow.engineer_links),
                    selectinload(SiteRow.special_periods),
                )
            )
        ).all()
    }
    engineers = await _engineers(session, [r for rows in chunk.values() for r in rows])
    now = utc_now()
    updated = contacts = 0
    fresh: dict[str, list[DirectoryRow]] = {}
    for code, rows in chunk.items():
        site = existing.get(code)
        if site is None:
            fresh[code] = list(rows)
            continue
        updated += 1
        contacts += _apply_site(site, rows, engineers, now)
    if fresh:
        contacts += await _insert_new_sites(session, fresh, engineers, now)
    return len(fresh), updated, contacts


def _table(model: type[Base]) -> Table:
    return Base.metadata.tables[model.__tablename__]


def _site_fields(rows: Sequence[DirectoryRow], base: dict[str, Any]) -> dict[str, Any]:
    """Site-level columns: a non-empty value in a later row wins; empty keeps what is known."""
    fields = dict(base)
    for row in rows:
        fields["organisation"] = row.organisation
        fields["site_name"] = row.site_name
        fields["customer_id"] = row.customer_id or fields.get("customer_id") or ""
        fields["tier"] = row.tier.value if row.tier else fields.get("tier")
        fields["address"] = row.address or fields.get("address") or ""
        if row.distance_km is not None:
            fields["distance_km"] = row.distance_km
        fields.setdefault("distance_km", None)
        fields["sector"] = row.sector or fields.get("sector") or ""
        fields["network_notes"] = row.network_notes or fields.get("network_notes") or ""
    return fields


async def _insert_new_sites(
    session: AsyncSession,
    fresh: dict[str, list[DirectoryRow]],
    engineers: dict[str, EngineerRow],
    now: datetime,
) -> int:
    """Sites the database does not know yet: plain multi-row INSERTs (a first import of a
    large directory would otherwise be thousands of single-row round trips)."""
    sites = [
        {"site_code": code, "updated_at": now, **_site_fields(rows, {})}
        for code, rows in fresh.items()
    ]
    await session.execute(insert(_table(SiteRow)), sites)
    result = await session.execute(
        select(SiteRow.site_code, SiteRow.id).where(SiteRow.site_code.in_(list(fresh)))
    )
    ids = {code: site_id for code, site_id in result.all()}
    new = _NewSiteRows()
    for code, rows in fresh.items():
        new.add(ids[code], rows, engineers)
    for table, values in (
        (_table(ContactRow), new.contacts),
        (_table(EquipmentRow), new.equipment),
        (_table(ContractRow), new.contracts),
        (_table(SiteEngineerRow), new.links),
        (_table(SpecialPeriodRow), new.periods),
    ):
        if values:
            await session.execute(insert(table), values)
    return len(new.contacts)


@dataclass
class _NewSiteRows:
    """The rows of new sites' contacts, equipment, contracts, engineers and guard
    windows, ready for multi-row INSERTs."""

    contacts: list[dict[str, Any]] = field(default_factory=list)
    equipment: list[dict[str, Any]] = field(default_factory=list)
    contracts: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    periods: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self, site_id: int, rows: Sequence[DirectoryRow], engineers: dict[str, EngineerRow]
    ) -> None:
        numbers: set[str] = set()
        serials: dict[str, dict[str, Any]] = {}
        linked: list[int] = []
        windows: set[tuple[datetime, datetime]] = set()
        for row in rows:
            if row.contact_normalised not in numbers:
                numbers.add(row.contact_normalised)
                self.contacts.append(
                    {
                        "site_id": site_id,
                        "name": row.contact_name,
                        "phone": row.contact_phone,
                        "normalised": row.contact_normalised,
                        "line_kind": row.contact_kind.value,
                    }
                )
            for item in row.equipment:
                serials[item.serial] = {
                    "site_id": site_id,
                    "kind": item.kind,
                    "model": item.model,
                    "serial": item.serial,
                    "warranty_end": item.warranty_end,
                }
            engineer = engineers.get(row.engineer) if row.engineer else None
            if engineer is not None and engineer.id not in linked:
                self.links.append(
                    {"site_id": site_id, "engineer_id": engineer.id, "position": len(linked)}
                )
                linked.append(engineer.id)
            for window in row.guard_windows:
                if (window.starts_at, window.ends_at) not in windows:
                    windows.add((window.starts_at, window.ends_at))
                    self.periods.append(
                        {
                            "site_id": site_id,
                            "kind": "guard",
                            "label": window.label,
                            "starts_at": window.starts_at,
                            "ends_at": window.ends_at,
                        }
                    )
        self.equipment.extend(serials.values())
        contract_rows = [r for r in rows if r.contract_tier or r.warranty_end]
        if contract_rows:
            tier = next((r.contract_tier for r in reversed(contract_rows) if r.contract_tier), "")
            end = next((r.warranty_end for r in reversed(contract_rows) if r.warranty_end), None)
            self.contracts.append({"site_id": site_id, "tier": tier, "warranty_end": end})


def _apply_site(
    site: SiteRow, rows: Sequence[DirectoryRow], engineers: dict[str, EngineerRow], now: datetime
) -> int:
    """Merge the rows of one site into its ORM object; returns contacts added."""
    known = {name: getattr(site, name) for name in SITE_FIELDS}
    for name, value in _site_fields(rows, known).items():
        setattr(site, name, value)
    site.updated_at = now
    added = 0
    by_number = {c.normalised: c for c in site.contacts}
    for row in rows:
        contact = by_number.get(row.contact_normalised)
        if contact is None:
            contact = ContactRow(
                name=row.contact_name,
                phone=row.contact_phone,
                normalised=row.contact_normalised,
                line_kind=row.contact_kind.value,
            )
            site.contacts.append(contact)
            by_number[row.contact_normalised] = contact
            added += 1
        else:
            contact.phone = row.contact_phone
            contact.name = row.contact_name or contact.name
    by_serial = {e.serial: e for e in site.equipment}
    for row in rows:
        for item in row.equipment:
            equipment = by_serial.get(item.serial)
            if equipment is None:
                equipment = EquipmentRow(kind=item.kind, model=item.model, serial=item.serial)
                site.equipment.append(equipment)
                by_serial[item.serial] = equipment
            equipment.kind, equipment.model = item.kind, item.model
            equipment.warranty_end = item.warranty_end
    contract_rows = [r for r in rows if r.contract_tier or r.warranty_end]
    if contract_rows:
        last = contract_rows[-1]
        if site.contract is None:
            site.contract = ContractRow(tier=last.contract_tier, warranty_end=last.warranty_end)
        else:
            site.contract.tier = last.contract_tier or site.contract.tier
            site.contract.warranty_end = last.warranty_end or site.contract.warranty_end
    linked = {link.engineer_id for link in site.engineer_links}
    for row in rows:
        engineer = engineers.get(row.engineer) if row.engineer else None
        if engineer is not None and engineer.id not in linked:
            site.engineer_links.append(
                SiteEngineerRow(engineer_id=engineer.id, position=len(site.engineer_links))
            )
            linked.add(engineer.id)
    windows = {(p.starts_at, p.ends_at) for p in site.special_periods}
    for row in rows:
        for window in row.guard_windows:
            key = (window.starts_at, window.ends_at)
            if key not in windows:
                site.special_periods.append(
                    SpecialPeriodRow(
                        kind="guard",
                        label=window.label,
                        starts_at=window.starts_at,
                        ends_at=window.ends_at,
                    )
                )
                windows.add(key)
    return added
