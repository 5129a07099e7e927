"""The site directory's warm cache (SQLite and PostgreSQL): every site loaded at start,
then only what an import changed, by whichever process imported it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from routing.errors import StoreUnavailable
from storage.database import Database
from storage.site_cache import SiteCacheKeeper
from storage.site_import import import_sites
from storage.sites import SiteRepository

HEADER = "site_code,organisation,site_name,contact_phone,distance_km\n"


async def imported(db: Database, tmp_path: Path, body: str) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    await import_sites(db, path)


async def test_a_warm_cache_serves_profiles_without_the_database(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "".join(f"{300000 + n},单位{n},会议室{n},0717-61{n:05d},{n}\n" for n in range(1200))
    await imported(db, tmp_path, rows)
    sites = SiteRepository(db, cache_seconds=0)  # nothing cached on a miss
    assert await sites.load_changed(batch=500) == 1200
    assert await sites.load_changed(batch=500) == 0  # nothing changed: nothing read again

    def no_database() -> None:
        raise StoreUnavailable("database unavailable")

    monkeypatch.setattr(db, "reads", no_database)
    profile = await sites.site_profile("300777")
    assert profile is not None and profile.site_name == "会议室777"
    assert profile.distance_km == 777


async def test_an_import_by_another_process_reaches_the_cache(db: Database, tmp_path: Path) -> None:
    await imported(db, tmp_path, "400001,宜昌市应急管理局,视频会议室,0717-6123456,10\n")
    sites = SiteRepository(db, cache_seconds=3600)
    keeper = SiteCacheKeeper(sites, interval=0.05)
    await keeper.start()
    try:
        async with asyncio.timeout(10):
            while keeper.loaded < 1:
                await asyncio.sleep(0.01)
        before = await sites.site_profile("400001")
        assert before is not None and before.site_name == "视频会议室"
        other = Database(db.url)  # the CLI's import, in its own process
        try:
            await imported(
                other,
                tmp_path,
                "400001,宜昌市应急管理局,三号会议室,0717-6123456,10\n"
                "400002,宜昌市水利局,机房,0717-6999999,20\n",
            )
        finally:
            await other.dispose()
        async with asyncio.timeout(10):
            while (after := await sites.site_profile("400001")) == before:
                await asyncio.sleep(0.01)
        assert after is not None and after.site_name == "三号会议室"
        new = await sites.site_profile("400002")
        assert new is not None and new.site_name == "机房"
    finally:
        await keeper.stop()
