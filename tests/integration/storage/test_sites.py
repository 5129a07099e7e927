from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from routing.records import MatchKind, NewTicket, TicketStatus
from routing.site_rows import DirectoryFileError
from storage.database import Database
from storage.site_import import import_sites
from storage.sites import SiteRepository
from storage.tickets import TicketRepository
from testkit.demo_directory import generate, write_csv

HEADER = (
    "site_code,organisation,site_name,contact_phone,contact_name,customer_id,tier,address,"
    "distance_km,engineer,engineer_interface,contract_tier,warranty_end,sector,equipment,"
    "guard_windows\n"
)
AT = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)  # inside flood season


def write(tmp_path: Path, body: str, bom: bool = False) -> Path:
    path = tmp_path / "sites.csv"
    path.write_text(("\ufeff" if bom else "") + HEADER + body, encoding="utf-8")
    return path


BODY = (
    # line 2-3: one site, two contacts; same switchboard as site 200002 (ambiguous)
    "200001,湖北省水利厅,视频会议中心,+86 27 8765 4321,值班室,C-HB-01,province,武汉市中南路,"
    '8.5,王工,PJSIP/1001,gold,2027-06-30,water_resources,"MCU|Huawei RM8000|SN001|2027-01-01;'
    'UPS|APC SRT3K|SN002|2025-01-01",2026-07-01T08:00:00+08:00/2026-07-01T20:00:00+08:00/防汛会商\n'
    "200001,湖北省水利厅,视频会议中心,13800138000,张伟,,,,,李工,,,,,,\n"
    "200002,湖北省水利厅,数据机房,027-87654321-8001,总机,C-HB-01,province,,,,,,,,,\n"
    "20000X,Bad,Row,13800138000,x,,,,,,,,,,,\n"  # line 5: rejected
    "200003,宜昌市应急管理局,视频会议室,0717-6123456,值班室,C-HB-03,city,,220,,,,,,,\n"
)


async def test_import_and_screen_pop_record(db: Database, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    report = await import_sites(
        db, write(tmp_path, BODY, bom=True), progress=lambda d, t: seen.append((d, t))
    )
    assert [(e.line, e.field) for e in report.errors] == [(5, "site_code")]
    assert (report.rows_read, report.rows_imported) == (5, 4)
    assert (report.sites_created, report.sites_updated, report.contacts_added) == (3, 0, 4)
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)

    tickets = TicketRepository(db)
    t0 = AT - timedelta(days=1)
    for i, status in enumerate(["resolved", "open"]):
        opened = await tickets.open_for_call(
            NewTicket(
                level=2,
                caller_number="13800138000",
                created_at=t0 + timedelta(hours=i),
                response_due=t0 + timedelta(hours=i + 2),
                onsite_due=None,
                call_id=f"call-{i}",
                site_code="200001",
                description=f"symptom {i}",
            )
        )
        await tickets.update(opened.ticket.number, {"status": status, "resolution": "fixed"}, "a")

    sites = SiteRepository(db)
    record = await sites.site_record("200001", at=AT)
    assert record is not None
    assert (record.organisation, record.site_name, record.tier) == (
        "湖北省水利厅",
        "视频会议中心",
        "province",
    )
    assert record.distance_km == 8.5 and record.customer_id == "C-HB-01"
    assert [c.normalised for c in record.contacts] == ["+862787654321", "+8613800138000"]
    assert [(e.kind, e.in_warranty) for e in record.equipment] == [("MCU", True), ("UPS", False)]
    assert record.contract is not None and record.contract.warranty_end == date(2027, 6, 30)
    assert [(e.name, e.interface) for e in record.engineers] == [
        ("王工", "PJSIP/1001"),
        ("李工", None),
    ]
    assert {p.kind for p in record.special_periods} == {"guard", "flood_season"}
    assert [t.symptom for t in record.open_tickets] == ["symptom 1"]
    assert [t.symptom for t in record.recent_tickets] == ["symptom 1", "symptom 0"]
    assert record.recent_tickets[1].status is TicketStatus.RESOLVED
    assert record.recent_tickets[1].resolution == "fixed"
    assert await sites.site_record("999999") is None

    # What routing reads, without the ticket queries: the stored windows (flood season is
    # the routing rules' to add), the engineers' phones.
    profile = await sites.site_profile("200001")
    assert profile is not None and profile.sector == record.sector
    assert [(e.name, e.interface) for e in profile.engineers] == [
        ("王工", "PJSIP/1001"),
        ("李工", None),
    ]
    assert {p.kind for p in profile.special_periods} == {"guard"}
    assert profile.open_tickets == () and profile.recent_tickets == ()
    assert await sites.site_profile("999999") is None


async def test_reimport_is_idempotent(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, BODY)
    await import_sites(db, path)
    again = await import_sites(db, path)
    assert (again.sites_created, again.sites_updated, again.contacts_added) == (0, 3, 0)
    record = await SiteRepository(db).site_record("200001", at=AT)
    assert record is not None
    assert len(record.contacts) == 2 and len(record.equipment) == 2
    assert len(record.engineers) == 2
    assert len([p for p in record.special_periods if p.kind == "guard"]) == 1
    # An update changes what the file says and keeps what it does not mention.
    path.write_text(
        HEADER + "200001,湖北省水利厅,视频会议中心(新),13800138000,张伟,,,,9.0,,,,,,,\n"
    )
    await import_sites(db, path)
    updated = await SiteRepository(db).site_record("200001", at=AT)
    assert updated is not None and updated.site_name == "视频会议中心(新)"
    assert updated.distance_km == 9.0 and updated.address == "武汉市中南路"
    assert len(updated.contacts) == 2


async def test_caller_matching(db: Database, tmp_path: Path) -> None:
    await import_sites(db, write(tmp_path, BODY))
    sites = SiteRepository(db)
    for raw in ("13800138000", "+8613800138000", "008613800138000", "86 138 0013 8000"):
        match = await sites.match_caller(raw)
        assert (match.kind, match.site_code) == (MatchKind.UNIQUE, "200001"), raw
    shared = await sites.match_caller("02787654321")
    assert shared.kind is MatchKind.AMBIGUOUS and shared.site_codes == ("200001", "200002")
    assert shared.site_code is None
    assert shared.site_names == ("视频会议中心", "数据机房")
    assert (await sites.match_caller("+86 717 612 3456")).site_code == "200003"
    assert (await sites.match_caller("13999999999")).kind is MatchKind.NONE
    assert (await sites.match_caller("anonymous")).kind is MatchKind.NONE
    assert await sites.site_exists("200003")
    assert not await sites.site_exists("200009")
    assert not await sites.site_exists("1' OR '1'='1")


async def test_search_treats_input_literally(db: Database, tmp_path: Path) -> None:
    await import_sites(db, write(tmp_path, BODY))
    sites = SiteRepository(db)
    assert [s.site_code for s in await sites.search("水利厅")] == ["200001", "200002"]
    assert [s.site_code for s in await sites.search("0717 612 3456")] == ["200003"]
    assert [s.site_code for s in await sites.search("宜昌")] == ["200003"]
    assert await sites.search("%") == []
    assert await sites.search("_") == []
    assert await sites.search("' OR 1=1 --") == []
    assert await sites.search("   ") == []


async def test_unreadable_file(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"site_code;organisation\n1;2\n")
    with pytest.raises(DirectoryFileError):
        await import_sites(db, path)


async def test_demo_directory_imports(db: Database, tmp_path: Path) -> None:
    rows = generate(3, 300)
    path = tmp_path / "demo.csv"
    write_csv(rows, path)
    report = await import_sites(db, path)
    assert report.errors == () and report.sites_created == 300
    demo = await SiteRepository(db).site_record("234567")
    assert demo is not None and demo.organisation == "湖北省水利厅"
    assert (await SiteRepository(db).match_caller("13800138000")).site_code == "234567"


async def test_static_part_is_cached_tickets_are_not(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, BODY)
    await import_sites(db, path)
    clock = [0.0]
    sites = SiteRepository(db, cache_seconds=30, monotonic=lambda: clock[0])
    first = await sites.site_record("200003", at=AT)
    assert first is not None and first.open_tickets == ()
    path.write_text(HEADER + "200003,宜昌市应急管理局,新会议室,0717-6123456,,,,,,,,,,,,\n")
    await import_sites(db, path)
    await TicketRepository(db).create(
        NewTicket(
            level=3,
            caller_number="x",
            created_at=AT,
            response_due=AT,
            onsite_due=None,
            site_code="200003",
            description="fresh",
        )
    )
    cached = await sites.site_record("200003", at=AT)
    assert cached is not None and cached.site_name == "视频会议室"  # static part cached
    assert [t.symptom for t in cached.open_tickets] == ["fresh"]  # tickets always fresh
    clock[0] = 31.0
    expired = await sites.site_record("200003", at=AT)
    assert expired is not None and expired.site_name == "新会议室"
    path.write_text(HEADER + "200003,宜昌市应急管理局,三号会议室,0717-6123456,,,,,,,,,,,,\n")
    await import_sites(db, path)
    sites.forget("200003")
    assert (await sites.site_record("200003", at=AT)).site_name == "三号会议室"  # type: ignore[union-attr]
