"""Site directory CSV (INTERFACE.md): reading and validating rows, before any database work.

UTF-8 with or without BOM, a header row, one row per contact; rows sharing a `site_code`
describe one site. A bad row is reported with its file line number (header = line 1) and
skipped; the other rows are kept.

Columns beyond the contract (all optional, ignored by older readers): `sector`
(e.g. `water_resources`), `network_notes`, `engineer_phone`, `engineer_interface`,
`equipment` (`kind|model|serial|warranty_end` items separated by `;`) and `guard_windows`
(`start/end/label` items separated by `;`, ISO 8601 times with offsets).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from routing.errors import InvalidInput
from routing.numbers import LineKind, normalise
from routing.records import SiteTier

REQUIRED_COLUMNS = ("site_code", "organisation", "site_name", "contact_phone")
OPTIONAL_COLUMNS = (
    "customer_id",
    "tier",
    "address",
    "distance_km",
    "contact_name",
    "engineer",
    "contract_tier",
    "warranty_end",
    "sector",
    "network_notes",
    "engineer_phone",
    "engineer_interface",
    "equipment",
    "guard_windows",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

_LIMITS = {
    "site_code": 32,
    "organisation": 200,
    "site_name": 200,
    "contact_phone": 64,
    "customer_id": 64,
    "tier": 16,
    "address": 400,
    "distance_km": 16,
    "contact_name": 100,
    "engineer": 100,
    "contract_tier": 32,
    "warranty_end": 10,
    "sector": 32,
    "network_notes": 4000,
    "engineer_phone": 64,
    "engineer_interface": 100,
    "equipment": 4000,
    "guard_windows": 4000,
}
_SITE_CODE = re.compile(r"^[0-9]{1,32}$")
_INTERFACE = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9._@+#*-]{1,90}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_FILE_BYTES = 200 * 1024 * 1024


class DirectoryFileError(InvalidInput):
    """The file as a whole cannot be read (encoding, header)."""

    def __init__(self, message: str) -> None:
        super().__init__("file", message)


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class EquipmentItem:
    kind: str
    model: str
    serial: str
    warranty_end: date | None


@dataclass(frozen=True, slots=True)
class GuardWindow:
    starts_at: datetime
    ends_at: datetime
    label: str


@dataclass(frozen=True, slots=True)
class DirectoryRow:
    """One valid CSV row: a contact of a site, plus whatever site data the row carries."""

    line: int
    site_code: str
    organisation: str
    site_name: str
    contact_phone: str
    contact_normalised: str
    contact_kind: LineKind
    contact_name: str = ""
    customer_id: str = ""
    tier: SiteTier | None = None
    address: str = ""
    distance_km: float | None = None
    engineer: str = ""
    engineer_phone: str = ""
    engineer_interface: str | None = None
    contract_tier: str = ""
    warranty_end: date | None = None
    sector: str = ""
    network_notes: str = ""
    equipment: tuple[EquipmentItem, ...] = ()
    guard_windows: tuple[GuardWindow, ...] = ()


@dataclass(slots=True)
class ParsedDirectory:
    rows: list[DirectoryRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows_read: int = 0


def _clean(name: str, raw: str | None) -> str:
    value = (raw or "").strip()
    if len(value) > _LIMITS[name]:
        raise InvalidInput(name, f"is {len(value)} characters long; at most {_LIMITS[name]}")
    if _CONTROL.search(value) or (name != "network_notes" and ("\r" in value or "\n" in value)):
        raise InvalidInput(name, "contains control characters or line breaks")
    return value


def _date(name: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(name, f"not an ISO date (YYYY-MM-DD): {text!r}") from exc


def _equipment(text: str) -> tuple[EquipmentItem, ...]:
    items: list[EquipmentItem] = []
    for chunk in filter(None, (c.strip() for c in text.split(";"))):
        parts = [p.strip() for p in chunk.split("|")]
        if len(parts) != 4 or not parts[0] or not parts[2]:
            raise InvalidInput("equipment", f"expected kind|model|serial|warranty_end: {chunk!r}")
        if max(len(p) for p in parts) > 100:
            raise InvalidInput("equipment", "an item part is longer than 100 characters")
        items.append(EquipmentItem(parts[0], parts[1], parts[2], _date("equipment", parts[3])))
    return tuple(items)


def _guard_windows(text: str) -> tuple[GuardWindow, ...]:
    windows: list[GuardWindow] = []
    for chunk in filter(None, (c.strip() for c in text.split(";"))):
        parts = chunk.split("/", 2)
        if len(parts) < 2:
            raise InvalidInput("guard_windows", f"expected start/end/label: {chunk!r}")
        try:
            start = datetime.fromisoformat(parts[0].strip())
            end = datetime.fromisoformat(parts[1].strip())
        except ValueError as exc:
            raise InvalidInput("guard_windows", f"not ISO 8601 times: {chunk!r}") from exc
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidInput("guard_windows", "times need a UTC offset")
        if end <= start:
            raise InvalidInput("guard_windows", "ends before it starts")
        label = parts[2].strip() if len(parts) > 2 else "important meeting"
        windows.append(GuardWindow(start, end, label[:200]))
    return tuple(windows)


def parse_row(line: int, raw: Mapping[str, str | None]) -> DirectoryRow:
    """One row, validated; raises InvalidInput naming the field."""
    v = {name: _clean(name, raw.get(name)) for name in COLUMNS}
    for name in REQUIRED_COLUMNS:
        if not v[name]:
            raise InvalidInput(name, "is required")
    if not _SITE_CODE.match(v["site_code"]):
        raise InvalidInput("site_code", f"must be digits: {v['site_code']!r}")
    phone = normalise(v["contact_phone"])
    tier: SiteTier | None = None
    if v["tier"]:
        try:
            tier = SiteTier(v["tier"].lower())
        except ValueError as exc:
            raise InvalidInput("tier", "must be province, city, county or township") from exc
    distance: float | None = None
    if v["distance_km"]:
        try:
            distance = float(v["distance_km"])
        except ValueError as exc:
            raise InvalidInput("distance_km", f"not a number: {v['distance_km']!r}") from exc
        if not 0 <= distance <= 20000:
            raise InvalidInput("distance_km", "must be between 0 and 20000")
    interface = v["engineer_interface"] or None
    if interface is not None and not _INTERFACE.match(interface):
        raise InvalidInput("engineer_interface", "must look like PJSIP/1001")
    if (v["engineer_phone"] or interface) and not v["engineer"]:
        raise InvalidInput("engineer", "is required with engineer_phone/engineer_interface")
    return DirectoryRow(
        line=line,
        site_code=v["site_code"],
        organisation=v["organisation"],
        site_name=v["site_name"],
        contact_phone=v["contact_phone"],
        contact_normalised=phone.key,
        contact_kind=phone.kind,
        contact_name=v["contact_name"],
        customer_id=v["customer_id"],
        tier=tier,
        address=v["address"],
        distance_km=distance,
        engineer=v["engineer"],
        engineer_phone=v["engineer_phone"],
        engineer_interface=interface,
        contract_tier=v["contract_tier"],
        warranty_end=_date("warranty_end", v["warranty_end"]),
        sector=v["sector"].lower(),
        network_notes=v["network_notes"],
        equipment=_equipment(v["equipment"]),
        guard_windows=_guard_windows(v["guard_windows"]),
    )


def _records(text: str) -> Iterator[tuple[int, dict[str, str | None] | RowError]]:
    """(first line of the record, column → value, or the CSV error of that record).

    Quoted fields may span lines. A malformed record (stray quote, oversized field) is
    reported with its line and the reader carries on with the next one.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as exc:
        raise DirectoryFileError(f"line 1: unreadable header: {exc}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise DirectoryFileError(f"line 1: missing required column(s): {', '.join(missing)}")
    line = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, RowError(line, "row", f"malformed CSV: {exc}")
        else:
            if values:
                yield line, {name: value for name, value in zip(header, values, strict=False)}
        line = reader.line_num + 1


def parse_directory(data: bytes) -> ParsedDirectory:
    """Validate a whole file. Raises DirectoryFileError if it cannot be read at all."""
    if len(data) > MAX_FILE_BYTES:
        raise DirectoryFileError(f"file larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DirectoryFileError(f"not UTF-8 (byte {exc.start})") from exc
    parsed = ParsedDirectory()
    for line, record in _records(text):
        if isinstance(record, RowError):
            parsed.rows_read += 1
            parsed.errors.append(record)
            continue
        if not any((value or "").strip() for value in record.values()):
            continue  # blank line
        parsed.rows_read += 1
        try:
            parsed.rows.append(parse_row(line, record))
        except InvalidInput as exc:
            parsed.errors.append(RowError(line, exc.field, exc.message))
    return parsed
