"""The assembled `HotlineService` (real emergency service, real AMI to the stand-in, real
HTTP): who may flip the mode, double flips, the drill wiring, and starting up while the
database hangs. The console's own tests cover the routes with a fake desk; these run the
real thing end to end."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from chaos_test_harness import PASSWORD, BlackHoleProxy, free_port, journal_records, until
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from hotline.runtime import HotlineService
from hotline.settings import ConfigError, Settings
from pbx import PbxStandIn
from storage.database import Database
from storage.migrate import upgrade
from testkit.console_users import add_console_users
from testkit.scratch_db import scratch_sqlite_url

MAIN, EMER = "hotline-main", "hotline-emergency"
# Simulated seconds (5 s real): long enough to watch, short enough that shutdown, which
# lets live calls finish, does not wait long.
PATIENCE = 100


@dataclass
class Running:
    pbx: PbxStandIn
    service: HotlineService
    http: httpx.AsyncClient
    journal_dir: Path

    async def token(self, username: str) -> dict[str, str]:
        response = await self.http.post(
            "/api/login", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    def mode_records(self) -> list[dict[str, Any]]:
        return [r for r in journal_records(self.journal_dir) if r.get("kind") == "mode"]


async def migrated_sqlite(tmp_path: Path) -> str:
    url = scratch_sqlite_url(tmp_path)
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        users = [("alice", "agent", "PJSIP/1001"), ("sue", "supervisor", None)]
        await add_console_users(db, users, PASSWORD)
    finally:
        await db.dispose()
    return url


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, *, desk_answers: bool = False, **settings: Any
) -> AsyncIterator[Running]:
    url = await migrated_sqlite(tmp_path)
    pbx = PbxStandIn(speed=20, agi_port=free_port(), auth_failure_delay=0)
    # Phones that ring and are never picked up: callers stay waiting where the test sees them.
    pbx.add_agent("PJSIP/1001", answer_after=None, member_name="alice")
    pbx.add_static_member(MAIN, "PJSIP/1001", member_name="alice")
    pbx.add_agent("PJSIP/1901", answer_after=1.0 if desk_answers else None)
    await pbx.start()
    values: dict[str, Any] = {
        "ami_port": pbx.ami_port,
        "ami_user": "hotline",
        "ami_secret": SecretStr("hotline-secret"),
        "agi_port": 0,
        "http_port": 0,
        "db_url": url,
        "journal_dir": tmp_path / "journal",
        "sounds_dir": tmp_path / "sounds",
        "emergency_members": ["PJSIP/1901"],
        "health_interval": 0.2,
        "emergency_hold_down": 0,
    }
    values.update(settings)
    service = HotlineService.build(Settings(**values), check_schema=True)
    try:
        await service.start()
        await service.edges.ami.client.wait_connected(10)
        pbx.set_agi_target("127.0.0.1", service.path.ivr.server.port or 0)
        async with httpx.AsyncClient(base_url=service.console_url, timeout=10) as http:
            yield Running(pbx, service, http, tmp_path / "journal")
        # Let the callers give up while the controller still listens: it then records
        # their end instead of waiting for it at shutdown.
        with contextlib.suppress(TimeoutError, AssertionError):
            await until(lambda: all(c.finished.done() for c in pbx.sim.calls), 15)
            await service.path.pipeline.pipeline.drain(5)
    finally:
        await service.stop()
        await pbx.stop()


async def test_an_agent_cannot_flip_the_mode_and_nothing_moves(tmp_path: Path) -> None:
    async with running(tmp_path) as r:
        await until(lambda: r.pbx.astdb.get("hotline/mode") == "normal", 10, "mode in AstDB")
        await r.pbx.place_call("13500000001", patience=PATIENCE)
        await until(lambda: len(r.pbx.queue_entries(MAIN)) == 1, 10, "a caller waiting")
        alice = await r.token("alice")
        for active in (True, False):
            refused = await r.http.post(
                "/api/emergency",
                json={"active": active, "reason": "I think it is down"},
                headers=alice,
            )
            assert refused.status_code == 403, refused.text
        async with httpx.AsyncClient(base_url=r.service.console_url) as stranger:  # no cookie
            anonymous = await stranger.post("/api/emergency", json={"active": True, "reason": "x"})
        assert anonymous.status_code == 401
        assert (await r.http.get("/api/emergency", headers=alice)).json()["active"] is False
        assert r.pbx.astdb["hotline/mode"] == "normal"
        assert r.mode_records() == []  # nothing journaled, nobody moved
        assert all(e.channel.name.startswith("PJSIP/trunk") for e in r.pbx.queue_entries(MAIN))
        assert r.pbx.queue_entries(EMER) == []


async def test_double_flips_switch_once_and_are_audited(tmp_path: Path) -> None:
    async with running(tmp_path) as r:
        sue = await r.token("sue")
        await r.pbx.place_call("13500000002", patience=PATIENCE)
        await until(lambda: len(r.pbx.queue_entries(MAIN)) == 1, 10, "a caller waiting")
        waiting = r.pbx.queue_entries(MAIN)[0].channel.name

        async def flip(active: bool, reason: str) -> dict[str, Any]:
            response = await r.http.post(
                "/api/emergency", json={"active": active, "reason": reason}, headers=sue
            )
            assert response.status_code == 200, response.text
            return dict(response.json())

        first = await flip(True, "seat system down")
        second = await flip(True, "seat system down (pressed twice)")
        assert first["active"] and second["active"]
        assert second["since"] == first["since"] and second["reason"] == "seat system down"
        assert r.pbx.astdb["hotline/mode"] == "emergency"
        await until(lambda: len(r.pbx.queue_entries(EMER)) == 1, 10, "the caller moved")
        assert [e.channel.name for e in r.pbx.queue_entries(EMER)] == [waiting]  # moved once
        assert r.pbx.queue_entries(MAIN) == []
        off = await flip(False, "back")
        again = await flip(False, "back (pressed twice)")
        assert not off["active"] and not again["active"] and again["since"] == off["since"]
        assert r.pbx.astdb["hotline/mode"] == "normal"
        assert [e.channel.name for e in r.pbx.queue_entries(EMER)] == [waiting]  # not moved back
        # The health watch, finding the seat system healthy, may also have journaled an
        # exit recommendation meanwhile (health_interval 0.2 s): only sue's flips count.
        by_sue = [m for m in r.mode_records() if m["audit"][0]["by"] == "sue"]
        assert [m["command"] for m in by_sue] == ["enter", None, "exit", None]
        audit = (await r.http.get("/api/emergency/audit", headers=sue)).json()["items"]
        outcomes = [(a["action"], a["outcome"]) for a in reversed(audit) if a["by"] == "sue"]
        assert outcomes == [
            ("enter", "switched"),
            ("enter", "unchanged"),
            ("exit", "switched"),
            ("exit", "unchanged"),
        ]
        assert {a["by"] for a in audit} <= {"sue", "health-watch"}


async def test_the_drill_runs_on_schedule_and_reports_through_the_service(
    tmp_path: Path,
) -> None:
    """drill_interval_hours > 0: the first drill runs at start. The stand-in plays
    asterisk-conf's [hotline-drill] (the drill waits in hotline-emergency), the desk answers,
    and the answer reaches the drill through the service's AMI listener; the drill call is
    neither journaled as an emergency call nor given a ticket."""
    async with running(tmp_path, desk_answers=True, drill_interval_hours=24, drill_timeout=10) as r:
        assert r.service.path.emergency.drill is not None
        drills = r.journal_dir / "drills.jsonl"
        await until(lambda: drills.exists() and drills.read_text().strip(), 10, "first drill")
        first = json.loads(drills.read_text().splitlines()[0])
        assert first["by"] == "schedule" and first["answered"] is True, first
        assert first["member"] == "PJSIP/1901"
        # The drill writes its journal line, then hands the result to the service.
        await until(
            lambda: r.service.path.emergency.service.last_drill is not None, 5, "drill result"
        )
        last = r.service.path.emergency.service.last_drill
        assert last is not None and last.drill_id == first["drill_id"] and last.answered
        await until(lambda: not r.pbx.channels(), 10, "drill channels gone")
        # On demand (what `hotline drill` does), with nobody to answer: a failed drill.
        r.pbx.sim.agents["PJSIP/1901"].answer_after = None
        result = await asyncio.wait_for(r.service.path.emergency.drill.run(by="test"), 15)
        assert not result.answered, result
        assert len(drills.read_text().splitlines()) == 2
        assert not [x for x in journal_records(r.journal_dir) if x.get("kind") == "call"]
        sue = await r.token("sue")
        tickets = (await r.http.get("/api/tickets", headers=sue)).json()["items"]
        assert tickets == []


@pytest.mark.postgres
async def test_start_fails_fast_when_the_database_hangs_in_normal_mode(
    tmp_path: Path, scratch_pg: str
) -> None:
    proxy = BlackHoleProxy(int(make_url(scratch_pg).port or 5432))
    port = await proxy.start()
    proxy.freeze()
    settings = Settings(
        ami_port=free_port(),
        ami_user="hotline",
        ami_secret=SecretStr("hotline-secret"),
        agi_port=0,
        http_port=0,
        db_url=f"postgresql://postgres@127.0.0.1:{port}/{make_url(scratch_pg).database}",
        journal_dir=tmp_path / "journal",
        health_timeout=0.3,
        health_failures=2,
    )
    service = HotlineService.build(settings, check_schema=True)
    try:
        with pytest.raises(ConfigError, match="unreachable"):
            await asyncio.wait_for(service.start(), 10)
    finally:
        await service.edges.store.db.dispose()
        await proxy.stop()
