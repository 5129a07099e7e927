"""The site directory's warm cache (SQLite and PostgreSQL): every site loaded at start,
then only what an import changed, by whichever process imported it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bus.redis import RedisBus
from hotline.admin_commands import announce_sites_changed
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
        assert keeper.warm.is_set()  # the start-up heap may settle now
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


async def test_callers_are_matched_from_memory_once_every_site_is_loaded(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await imported(
        db,
        tmp_path,
        "500001,甲单位,一号会议室,0717-6100001,1\n"
        "500002,乙单位,二号会议室,0717-6100002,2\n"
        "500003,丙单位,三号会议室,0717-6100002,3\n",
    )
    sites = SiteRepository(db, cache_seconds=0)
    numbers = ["07176100001", "+86 717 6100002", "07176100003"]
    read = [await sites.match_caller(n) for n in numbers]  # not loaded yet: from the database
    assert [m.kind for m in read] == ["unique", "ambiguous", "none"]
    assert await sites.load_changed() == 3

    def no_database() -> None:
        raise StoreUnavailable("database unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(db, "reads", no_database)
        assert [await sites.match_caller(n) for n in numbers] == read
    await imported(db, tmp_path, "500001,甲单位,一号会议室,0717-6100005,1\n")  # a new contact
    assert await sites.load_changed() == 1
    monkeypatch.setattr(db, "reads", no_database)
    found = await sites.match_caller("07176100005")
    assert (found.kind, found.site_code) == ("unique", "500001")


@pytest.mark.redis
async def test_an_import_announced_on_the_bus_reaches_the_cache_at_once(
    db: Database, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    await imported(db, tmp_path, "600001,宜昌市应急管理局,视频会议室,0717-6123456,10\n")
    sites = SiteRepository(db, cache_seconds=3600)
    bus = RedisBus(redis_url, prefix=redis_prefix)
    keeper = SiteCacheKeeper(sites, interval=3600, bus=bus)  # no poll within the test
    await keeper.start()
    try:
        async with asyncio.timeout(10):
            while keeper.loaded < 1:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # the subscription is in place
        other = Database(db.url)  # `hotline sites import` in its own process
        try:
            await imported(other, tmp_path, "600001,宜昌市应急管理局,三号会议室,0717-6123456,10\n")
            await announce_sites_changed(redis_url, redis_prefix)
        finally:
            await other.dispose()
        async with asyncio.timeout(10):
            while (after := await sites.site_profile("600001")) is None or (
                after.site_name != "三号会议室"
            ):
                await asyncio.sleep(0.01)
    finally:
        await keeper.stop()
        await bus.close()


async def test_a_full_round_keeps_the_objects_of_unchanged_sites(
    db: Database, tmp_path: Path
) -> None:
    """The start-up heap is frozen out of the collector's scans (lifecycle.SettledHeap):
    the periodic full reload must not replace it with new objects, only what changed."""
    await imported(
        db,
        tmp_path,
        "500001,宜昌市应急管理局,视频会议室,0717-6100001,10\n"
        "500002,宜昌市水利局,机房,0717-6100002,20\n",
    )
    sites = SiteRepository(db, cache_seconds=3600)
    await sites.load_changed()
    kept, changed = sites._cache["500001"][1], sites._cache["500002"][1]
    await imported(db, tmp_path, "500002,宜昌市水利局,二号机房,0717-6100002,20\n")
    assert await sites.load_changed(everything=True) == 2
    assert sites._cache["500001"][1] is kept
    assert sites._cache["500002"][1] is not changed
    profile = await sites.site_profile("500002")
    assert profile is not None and profile.site_name == "二号机房"
