from __future__ import annotations

from datetime import date

import pytest

from routing.numbers import normalise
from routing.records import SiteTier
from routing.site_rows import DirectoryFileError, parse_directory
from testkit.demo_directory import generate

HEADER = "site_code,organisation,site_name,contact_phone,tier,distance_km,warranty_end,extra\n"


def test_bom_header_and_line_numbers() -> None:
    text = (
        HEADER
        + "100001,湖北省水利厅,视频会议中心,027-87654321,province,8.5,2027-01-31,x\n"
        + "ABC,Org,Site,010-12345678,city,,,\n"  # line 3: bad code
        + "\n"  # line 4: blank, skipped
        + '100002,"Org, with comma","Site\nspanning lines",not-a-phone,city,,,\n'  # line 5
        + "100003,Org,Site,13800138000,galaxy,,,\n"  # line 7: bad tier
        + "100004,Org,Site,13800138000,city,-3,,\n"  # line 8: bad distance
        + "100005,Org,Site,13800138000,city,,2027-13-01,\n"  # line 9: bad date
        + "100006,,Site,13800138000,city,,,\n"  # line 10: missing organisation
        + "100007,Org,Site,13900139000,township,12,,\n"  # line 11: fine
    )
    parsed = parse_directory(("\ufeff" + text).encode("utf-8"))
    assert [(e.line, e.field) for e in parsed.errors] == [
        (3, "site_code"),
        (5, "site_name"),
        (7, "tier"),
        (8, "distance_km"),
        (9, "warranty_end"),
        (10, "organisation"),
    ]
    assert [r.line for r in parsed.rows] == [2, 11]
    first = parsed.rows[0]
    assert first.organisation == "湖北省水利厅" and first.tier is SiteTier.PROVINCE
    assert first.contact_normalised == "+862787654321" and first.warranty_end == date(2027, 1, 31)
    assert parsed.rows_read == 8


def test_oversized_and_injected_fields_are_row_errors() -> None:
    text = (
        HEADER
        + f"100001,{'x' * 201},Site,13800138000,city,,,\n"
        + "100002,Org,Site,13800138000,city,,,\n"
    )
    parsed = parse_directory(text.encode())
    assert [(e.line, e.field) for e in parsed.errors] == [(2, "organisation")]
    assert "at most 200" in parsed.errors[0].message
    assert len(parsed.rows) == 1


def test_file_level_errors() -> None:
    with pytest.raises(DirectoryFileError, match="contact_phone"):
        parse_directory(b"site_code,organisation,site_name\n1,a,b\n")
    with pytest.raises(DirectoryFileError, match="UTF-8"):
        parse_directory("site_code,organisation\n".encode("gbk") + "水利".encode("gbk"))


def test_demo_directory_shape() -> None:
    rows = generate(7, 2000)
    sites = {r["site_code"] for r in rows}
    assert len(sites) == 2000 and len(rows) >= 6000
    assert {r["tier"] for r in rows} == {"province", "city", "county", "township"}
    keys = [normalise(r["contact_phone"]) for r in rows]
    assert all(k.valid for k in keys)
    raw = [r["contact_phone"] for r in rows]
    assert any(p.startswith("+86") for p in raw) and any(p.startswith("0") for p in raw)
    assert any(p.startswith("1") for p in raw)  # bare mobiles
    assert {k.kind.value for k in keys} >= {"fixed", "mobile"}
    assert generate(7, 50) == generate(7, 50)  # deterministic per seed
    parsed = parse_directory(_as_csv(rows).encode())
    assert parsed.errors == [] and len(parsed.rows) == len(rows)


def _as_csv(rows: list[dict[str, str]]) -> str:
    import csv
    import io

    from routing.site_rows import COLUMNS

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_malformed_records_are_row_errors_and_reading_goes_on() -> None:
    text = (
        "site_code,organisation,site_name,contact_phone\n"
        "100001,Org,Site,13800138000\n"
        f"100002,{'x' * 200_000},Site,13800138000\n"  # line 3: beyond the csv field limit
        '100003,"bad"quote,Site,13800138000\n'  # line 4: stray quote
        "100004,Org,Site,13900139000\n"
    )
    parsed = parse_directory(text.encode())
    assert [(e.line, e.field) for e in parsed.errors] == [(3, "row"), (4, "row")]
    assert [r.site_code for r in parsed.rows] == ["100001", "100004"]
    assert [r.line for r in parsed.rows] == [2, 5]
