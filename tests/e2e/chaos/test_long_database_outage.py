"""A long database outage with calls throughout, and a crash in the middle of it.

`hotline serve` (a real process) reaches PostgreSQL through a proxy that black-holes it
(a hung database, the worst kind), the PBX stand-in carries calls before, during and
after. The outage lasts OUTAGE real seconds: many rounds of the tickets stage's retry
(its back-off tops out at 10 s and it never gives up) while events pile up in the
on-disk spool; half-way the controller is SIGKILLed and restarted, still without a
database. (Twenty minutes of real outage would prove nothing more: nothing in the
pipeline counts time any more; the spool's bound is size, tested on its own.) The health
watch switches to emergency mode as it should (a restart without the database is only
allowed in emergency mode), so most calls of the outage are answered by the pool.

Afterwards every call has exactly one record and one ticket, each record complete (queue
join, answer or abandon, end, outcome), and each call's events applied in its order
(times in sequence; an abandoned call's ticket waiting for the callback). Callers share
sites, so a call's one ticket is its own or the open ticket of its site it joined as a
repeat call (its record names it, the ticket's history names the call).
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from chaos_test_harness import (
    SESSION_SECRET,
    BlackHoleProxy,
    Controller,
    controller_env,
    free_port,
    prepare_database,
    until,
)
from sqlalchemy.engine import make_url

from pbx import CallerScript, PbxStandIn, SimCall

# Whole-system scenarios run one after another on one test worker (scripts/test): two at
# once would share two cores among a dozen processes.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.xdist_group("scenarios"),
]

SPEED = 20.0
OUTAGE = 40.0  # real seconds of black-holed database
AGENTS = tuple((f"agent{n}", f"PJSIP/{1200 + n}") for n in range(4))
POOL = ("PJSIP/1951", "PJSIP/1952", "PJSIP/1953", "PJSIP/1954")


def rows_of(url: str, ids: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Call records and tickets of `ids` (the calls' own, and those their records name,
    with the repeat calls' history entries), straight from PostgreSQL (not through the
    proxy)."""
    with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(False)) as c:
        cur = c.cursor(row_factory=psycopg.rows.dict_row)
        calls = cur.execute(
            "SELECT call_id, queued_at, answered_at, ended_at, outcome, ticket_number"
            " FROM calls WHERE call_id = ANY(%s)",
            (ids,),
        ).fetchall()
        named = [c["ticket_number"] for c in calls if c["ticket_number"]]
        tickets = cur.execute(
            "SELECT id, number, call_id, status, created_at FROM tickets"
            " WHERE call_id = ANY(%s) OR number = ANY(%s) ORDER BY id",
            (ids, named),
        ).fetchall()
        entries = cur.execute(
            "SELECT ticket_id, field, new FROM ticket_history"
            " WHERE field IN ('repeat_call', 'repeat_callback') AND new = ANY(%s)",
            (ids,),
        ).fetchall()
    by_id = {t["id"]: t for t in tickets}
    for t in tickets:
        t["repeats"], t["callbacks"] = set(), set()
    for e in entries:
        if e["ticket_id"] in by_id:
            key = "repeats" if e["field"] == "repeat_call" else "callbacks"
            by_id[e["ticket_id"]][key].add(e["new"])
    return calls, tickets


async def test_calls_throughout_a_long_outage_and_a_crash_all_get_record_and_ticket(
    scratch_pg: str, tmp_path: Path
) -> None:
    rng = random.Random(14)
    users: list[tuple[str, str, str | None]] = [(n, "agent", i) for n, i in AGENTS]
    rows = await prepare_database(scratch_pg, tmp_path, users, sites=30)
    numbers = [r["contact_phone"] for r in rows]
    proxy = BlackHoleProxy()
    proxy_port = await proxy.start()
    agi_port, http_port = free_port(), free_port()
    # The PBX writes its CDR as cdr_pgsql does (its own link to PostgreSQL, not the
    # controller's): calls that end while the controller is down are closed from it.
    pbx = PbxStandIn(speed=SPEED, agi_port=agi_port, auth_failure_delay=0, cdr_db_url=scratch_pg)
    for username, interface in AGENTS:
        pbx.add_agent(interface, answer_after=2.0, talk_time=None, member_name=username)
        pbx.add_static_member("hotline-main", interface, member_name=username)
    for desk in POOL:
        pbx.add_agent(desk, answer_after=2.0, talk_time=None)
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
            db_url=f"postgresql://postgres@127.0.0.1:{proxy_port}/{make_url(scratch_pg).database}",
            journal_dir=str(tmp_path / "journal"),
            sounds_dir=str(tmp_path / "sounds"),
            emergency_members=",".join(POOL),
            health_interval="0.5",
            health_timeout="0.5",
            health_failures="3",
            emergency_hold_down="600",
            cdr_sweep_interval="5",
            session_secret=SESSION_SECRET,
        ),
        cwd=tmp_path,
        http_port=http_port,
        log_path=tmp_path / "controller.log",
    )
    placed: list[SimCall] = []
    stop = asyncio.Event()
    arrivals = asyncio.Event()  # cleared: nobody new calls in
    arrivals.set()

    async def traffic() -> None:
        while not stop.is_set():
            await arrivals.wait()
            placed.append(
                await pbx.place_call(
                    rng.choice(numbers),
                    "Caller",
                    script=CallerScript(("3",)),
                    patience=rng.uniform(20, 200),
                    talk_time=rng.uniform(20, 120),
                )
            )
            await asyncio.sleep(rng.uniform(0.3, 1.2))

    generator: asyncio.Task[None] | None = None
    try:
        controller.start()
        await controller.wait_ready()
        generator = asyncio.create_task(traffic())
        await until(lambda: len(placed) >= 5, 30, "calls before the outage")

        proxy.freeze()
        during_from = len(placed)
        await asyncio.sleep(OUTAGE / 2)
        async with httpx.AsyncClient(base_url=controller.url, timeout=5) as http:
            spooled = (await http.get("/healthz")).json()
        assert spooled["database"]["status"] == "down"
        assert spooled["spool"]["events"] > 0, spooled["spool"]
        # No new call while no controller runs the IVR, nor in the second before the
        # crash: an event is spooled once its write has hung for SPOOL_AFTER (1 s), so a
        # call that began in the last second before a crash is left to the CDR sweep,
        # which cannot see it here (the stand-in's CDR times run 20x ahead of the
        # controller's clock). Calls in progress go on through the crash.
        arrivals.clear()
        await asyncio.sleep(3)
        controller.kill()
        await asyncio.sleep(1)
        # Restarted in the middle of the outage: it serves without the database.
        controller.start()
        await controller.wait_ready(timeout=60)
        arrivals.set()
        await asyncio.sleep(OUTAGE / 2)
        during_to = len(placed)
        assert during_to - during_from >= 20, "calls throughout the outage"
        proxy.thaw()

        await asyncio.sleep(5)  # a few calls after the outage too
        stop.set()
        await generator
        generator = None
        await asyncio.wait_for(asyncio.gather(*(c.finished for c in placed)), 240)
        ids = [c.linkedid for c in placed]

        def complete() -> bool:
            calls, _ = rows_of(scratch_pg, ids)
            return len(calls) == len(ids) and all(
                c["ended_at"] is not None and c["outcome"] and c["ticket_number"] for c in calls
            )

        try:
            await until(complete, 120, "every record and ticket written after the outage")
        except AssertionError:
            calls, tickets = rows_of(scratch_pg, ids)
            print("without ticket:", [c["call_id"] for c in calls if not c["ticket_number"]])
            print("incomplete:", [c for c in calls if c["ended_at"] is None or not c["outcome"]])
            raise
        calls, tickets = rows_of(scratch_pg, ids)
        assert sorted(c["call_id"] for c in calls) == sorted(ids)  # one record each
        # One ticket each: the one its record names, its own or joined as a repeat call;
        # no call opened a second ticket of its own.
        numbered = {t["number"]: t for t in tickets}
        own = [t["call_id"] for t in tickets if t["call_id"] in ids]
        assert len(own) == len(set(own))
        ticket_of = {}
        for record in calls:
            ticket = numbered[record["ticket_number"]]
            call_id = record["call_id"]
            joined = ticket["call_id"] != call_id
            assert (call_id in ticket["repeats"]) == joined, (call_id, ticket)
            assert not joined or call_id not in own, (call_id, ticket)
            ticket_of[call_id] = ticket
        print(f"{len(own)} tickets opened, {len(ids) - len(own)} repeat calls joined one")
        results = {c.linkedid: c.finished.result() for c in placed}
        by_id = {c["call_id"]: c for c in calls}
        for call_id, result in results.items():
            record = by_id[call_id]
            assert record["outcome"] == result.outcome, (call_id, record, result)
            assert record["queued_at"] is not None
            assert (record["answered_at"] is not None) == (result.outcome == "answered")
        # Each call's events applied in its order (calls run concurrently, so tickets of
        # different calls may be opened in any order): the times follow each other and
        # the ticket's state is the one the call's last event leaves.
        answered_on = {ticket_of[i]["number"] for i, r in by_id.items() if r["answered_at"]}
        for call_id, record in by_id.items():
            times = [record["queued_at"], record["answered_at"], record["ended_at"]]
            known = [t for t in times if t is not None]
            assert known == sorted(known), (call_id, record)
            if record["outcome"] != "abandoned":
                continue
            # An abandoned call's ticket waits for the callback, unless a call of its site
            # was answered on that ticket (that may have come later); a repeat call's
            # ticket names the call to call back. (An answered call whose answer only the
            # CDR saw keeps its ticket "open": not checked here.)
            ticket = ticket_of[call_id]
            if ticket["call_id"] != call_id:
                assert call_id in ticket["callbacks"], (call_id, record, ticket)
            if ticket["number"] not in answered_on:
                assert ticket["status"] == "callback_due", (call_id, record, ticket)
        print(
            f"\n{len(ids)} calls, {during_to - during_from} placed during a {OUTAGE:.0f} s "
            f"outage with a SIGKILL half-way; spool held {spooled['spool']['events']} events "
            f"({spooled['spool']['bytes']} bytes) at the kill"
        )
        assert await controller.stop() == 0
    except BaseException:
        print(controller.tail(80))
        raise
    finally:
        if generator is not None:
            generator.cancel()
        if controller.process is not None:
            controller.kill()
        await pbx.stop()
        await proxy.stop()
