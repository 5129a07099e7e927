"""`kill -9` of `hotline serve` with live calls: after the restart every call has one
record with its end and outcome, and the live list equals the PBX's channels.

A real controller process, the PBX stand-in writing its CDR into the hotline database
(as cdr_pgsql does), PostgreSQL. Ten callers wait in the queue and ten talk to agents
when the controller is killed; all of them hang up while nobody watches, and the
controller comes back five minutes later (the PBX's simulated clock, 20x). Two more
calls talk on through the whole outage. The restarted controller logs in,
resynchronises, and closes every record left open with the CDR's end time (to its
one-second precision) and outcome (the waiting ones as abandoned, with a callback
ticket); the two calls still up are the live list, as they are the PBX's channels.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from chaos_test_harness import (
    PASSWORD,
    Controller,
    controller_env,
    free_port,
    prepare_database,
    until,
)
from sqlalchemy import text

from pbx import CallerScript, PbxStandIn, SimCall
from storage.calls import CallRepository
from storage.database import Database
from storage.tickets import TicketRepository

# Whole-system scenarios run one after another on one test worker (scripts/test): two at
# once would share two cores among a dozen processes.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("scenarios")]

SPEED = 20.0
# Simulated seconds a caller talks or waits: long enough to outlive the crash (20 s real).
LINGER = 400.0
AGENTS = tuple((f"agent{n}", f"PJSIP/{1100 + n}") for n in range(12))
# Two calls that talk on through the outage (simulated seconds).
MARATHON = 6000.0
DOWNTIME = 300.0  # simulated seconds between the kill and the restart


async def cdr_ends(db: Database, call_ids: list[str]) -> dict[str, datetime]:
    """Each call's end as the PBX's CDR has it: its rows' latest start + duration."""
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT linkedid, calldate, duration FROM pbx_cdr WHERE linkedid = ANY(:ids)"),
                {"ids": call_ids},
            )
        ).all()
    ends: dict[str, datetime] = {}
    for linkedid, calldate, duration in rows:
        end = calldate + timedelta(seconds=duration)
        ends[linkedid] = max(ends.get(linkedid, end), end)
    return ends


async def record_counts(db: Database, call_ids: list[str]) -> dict[str, int]:
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT call_id, count(*) FROM calls WHERE call_id = ANY(:ids) GROUP BY call_id"
                ),
                {"ids": call_ids},
            )
        ).all()
    return {call_id: count for call_id, count in rows}


async def test_kill_with_live_calls_then_restart_closes_every_call(
    scratch_pg: str, tmp_path: Path
) -> None:
    users: list[tuple[str, str, str | None]] = [(n, "agent", i) for n, i in AGENTS]
    users += [("sue", "supervisor", None)]
    rows = await prepare_database(scratch_pg, tmp_path, users, sites=20)
    numbers = [r["contact_phone"] for r in rows][:22]
    agi_port, http_port = free_port(), free_port()
    pbx = PbxStandIn(speed=SPEED, agi_port=agi_port, auth_failure_delay=0, cdr_db_url=scratch_pg)
    for username, interface in AGENTS:
        # The callers hang up first (their own talk time): the agents never do.
        pbx.add_agent(interface, answer_after=1.0, talk_time=None, member_name=username)
        pbx.add_static_member("hotline-main", interface, member_name=username)
    await pbx.start()
    controller = Controller(
        env=controller_env(
            ami_host="127.0.0.1",
            ami_port=str(pbx.ami_port),
            ami_user="hotline",
            ami_secret="hotline-secret",
            ami_ping_interval="1",
            agi_host="127.0.0.1",
            agi_port=str(agi_port),
            http_host="127.0.0.1",
            http_port=str(http_port),
            db_url=scratch_pg,
            journal_dir=str(tmp_path / "journal"),
            sounds_dir=str(tmp_path / "sounds"),
            cdr_sweep_interval="0",  # the closing at log-in is what is under test
        ),
        cwd=tmp_path,
        http_port=http_port,
        log_path=tmp_path / "controller.log",
    )
    db = Database(scratch_pg)
    calls: list[SimCall] = []
    marathons: list[SimCall] = []
    try:
        controller.start()
        await controller.wait_ready()
        records = CallRepository(db)
        for number in numbers[20:]:
            marathons.append(
                await pbx.place_call(
                    number,
                    "Caller",
                    script=CallerScript(("2",)),
                    patience=MARATHON,
                    talk_time=MARATHON,
                )
            )

        async def marathons_answered() -> bool:
            got = [await records.get(c.linkedid) for c in marathons]
            return all(r is not None and r.answered_at is not None for r in got)

        async with asyncio.timeout(60):
            while not await marathons_answered():
                await asyncio.sleep(0.2)
        for number in numbers[:20]:
            calls.append(
                await pbx.place_call(
                    number,
                    "Caller",
                    script=CallerScript(("2",)),
                    patience=LINGER,
                    talk_time=LINGER,
                )
            )
        await until(
            lambda: len(pbx.queue_entries("hotline-main")) == 10,
            60,
            "ten talking and ten waiting",
        )

        async def all_recorded() -> bool:
            # Every call's record knows it queued, and ten know they were answered.
            got = [await records.get(c.linkedid) for c in calls]
            if any(r is None or r.queued_at is None for r in got):
                return False
            return sum(1 for r in got if r is not None and r.answered_at is not None) == 10

        async with asyncio.timeout(60):
            while not await all_recorded():
                await asyncio.sleep(0.2)
        controller.kill()  # a crash: nothing is closed cleanly
        killed_at = pbx.clock.now()
        # Everybody hangs up (or gives up waiting) while no controller watches ...
        await asyncio.wait_for(asyncio.gather(*(c.finished for c in calls)), 90)
        # ... and the controller is back five (simulated) minutes after the crash, and at
        # least a minute after the last of them hung up.
        back_at = max(killed_at + DOWNTIME, pbx.clock.now() + 60)
        await asyncio.sleep(pbx.clock.real_seconds(back_at - pbx.clock.now()))
        restarted_at = datetime.fromtimestamp(pbx.clock.now(), UTC)
        assert pbx.clock.now() - killed_at >= DOWNTIME
        assert not any(c.finished.done() for c in marathons)
        assert pbx.cdr is not None
        await pbx.cdr.flush()
        for call in calls:
            record = await records.get(call.linkedid)
            assert record is not None and record.ended_at is None  # left open by the crash

        controller.start()
        await controller.wait_ready()
        async with asyncio.timeout(60):
            while any([(await records.get(c.linkedid)).ended_at is None for c in calls]):  # type: ignore[union-attr]
                await asyncio.sleep(0.2)
        tickets = TicketRepository(db)
        outcomes: dict[str, int] = {}
        ids = [c.linkedid for c in calls]
        ends = await cdr_ends(db, ids)
        assert await record_counts(db, ids) == dict.fromkeys(ids, 1)  # one record each
        for call in calls:
            record = await records.get(call.linkedid)
            assert record is not None and record.ended_at is not None
            # The true end, to the CDR's precision (whole seconds), not the restart time.
            assert abs((record.ended_at - ends[call.linkedid]).total_seconds()) <= 1.0
            assert record.ended_at <= restarted_at - timedelta(seconds=60)
            outcomes[record.outcome or "?"] = outcomes.get(record.outcome or "?", 0) + 1
            if record.outcome == "abandoned":
                # Its own ticket, or the one of its site it joined as a repeat call (some
                # callers share a site): the record names it, and it waits for a callback.
                assert record.ticket_number is not None
                ticket = await tickets.get(record.ticket_number)
                assert ticket is not None and ticket.status.value == "callback_due"
                assert ticket.call_id == call.linkedid or any(
                    h.field == "repeat_callback" and h.new == call.linkedid for h in ticket.history
                )
        assert outcomes == {"answered": 10, "abandoned": 10}, outcomes
        async with httpx.AsyncClient(base_url=controller.url, timeout=10) as http:
            answer = await http.post("/api/login", json={"username": "sue", "password": PASSWORD})
            token = answer.json()["token"]
            health = await http.get("/healthz", headers={"Authorization": f"Bearer {token}"})
            on_pbx = {ch.linkedid for ch in pbx.sim.channels.values()}
            assert on_pbx == {c.linkedid for c in marathons}
            assert health.json()["calls"]["live"] == len(on_pbx)
            live = await http.get(
                "/api/calls",
                params={"active": "true", "limit": 200},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert {c["call_id"] for c in live.json()["items"]} == on_pbx
            everything = await http.get(
                "/api/calls", params={"limit": 50}, headers={"Authorization": f"Bearer {token}"}
            )
            assert all(
                c["ended_at"] for c in everything.json()["items"] if c["call_id"] not in on_pbx
            )
        assert await controller.stop() == 0
    except BaseException:
        print(controller.tail(80))
        raise
    finally:
        if controller.process is not None:
            controller.kill()
        await db.dispose()
        await pbx.stop()
