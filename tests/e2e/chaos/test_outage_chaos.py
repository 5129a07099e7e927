"""200 calls through a database outage and a controller crash.

`hotline serve` (a real process) runs against a scratch PostgreSQL reached through a proxy
that can black-hole it, and against the PBX stand-in with four main agents in
`hotline-main` and a four-desk emergency pool. Calls arrive as Poisson traffic (levels
1-4, operator, unknown numbers typing their site code, impatient callers who abandon).
Mid-run the database hangs: the controller switches to emergency mode by itself, moves the
callers waiting in `hotline-main` to `hotline-emergency`, and the pool answers the rest,
each call getting a paper number. During the outage the controller is SIGKILLed and
started again on the same journal. The database comes back, the supervisor switches back
and the paper tickets are typed in through the HTTP API. At the end every one of the 200
calls has exactly one ticket, and the journal, the calls table and the tickets agree.
Callers share sites, so a call's one ticket is its own or the open ticket of its site it
joined as a repeat call: its record names it, and the ticket's history names the call.

No new call arrives during the few seconds the controller is down (it is restarting): a
call that begins and ends while no controller listens leaves no trace on AMI, so no AMI
controller can ticket it (that would take the PBX's CDR/CEL). Calls already in progress
keep going through the crash: those that end while it is down are known from the journal,
those still live are adopted by the new controller's resync.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from chaos_test_harness import (
    PASSWORD,
    SESSION_SECRET,
    BlackHoleProxy,
    Controller,
    controller_env,
    free_port,
    journal_records,
    prepare_database,
    until,
)
from sqlalchemy.engine import make_url

from fallback.domain import backfill as bf
from pbx import DemoCaller, PbxStandIn, SimCall, TrafficMix
from pbx.domain.traffic import plan_call
from pbx.traffic import place_planned_call

# Whole-system scenarios run one after another on one test worker (scripts/test): two at
# once would share two cores among a dozen processes.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.xdist_group("scenarios"),
]

MAIN, EMER = "hotline-main", "hotline-emergency"
SPEED = 20.0  # simulated seconds per real second
CALLS = 200
MEAN_GAP = 0.25  # real seconds between arrivals (5 simulated seconds)
AGENTS = (
    ("alice", "PJSIP/1001"),
    ("bob", "PJSIP/1002"),
    ("carol", "PJSIP/1003"),
    ("dave", "PJSIP/1004"),
)
POOL = ("PJSIP/1901", "PJSIP/1902", "PJSIP/1903", "PJSIP/1904")
MIX = TrafficMix(
    talk=(10.0, 40.0),
    patience=(150.0, 300.0),
    short_patience=(5.0, 20.0),
    impatient=0.12,
    ivr_hangup=0.0,  # a caller who never reaches a queue has no ticket by design
    join_outage=0.0,
    takes_survey=0.5,
)


def callers_from(rows: list[dict[str, str]], rng: random.Random) -> list[DemoCaller]:
    known = [
        DemoCaller(r["contact_phone"], r.get("contact_name") or "", r["site_code"]) for r in rows
    ]
    callers = rng.sample(known, min(120, len(known)))
    for r in rng.sample(rows, 30):  # numbers the directory does not know: they type the code
        callers.append(DemoCaller(f"139{rng.randrange(10**8):08d}", "", r["site_code"], False))
    return callers


async def login(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await http.post("/api/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def login_when_database_answers(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    async with asyncio.timeout(60):
        while True:
            try:
                response = await http.post(
                    "/api/login", json={"username": username, "password": PASSWORD}
                )
                if response.status_code == 200:
                    return {"Authorization": f"Bearer {response.json()['token']}"}
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)


def database_rows(url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Tickets (with the calls that joined each as repeat calls) and calls, read straight
    from PostgreSQL (not through the proxy)."""
    with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(False)) as c:
        cur = c.cursor(row_factory=psycopg.rows.dict_row)
        tickets = cur.execute(
            "SELECT t.number, t.call_id, t.source, t.paper_number, t.level, t.status,"
            " array_remove(array_agg(h.new), NULL) AS repeats FROM tickets t"
            " LEFT JOIN ticket_history h ON h.ticket_id = t.id AND h.field = 'repeat_call'"
            " GROUP BY t.id"
        ).fetchall()
        calls = cur.execute(
            "SELECT call_id, queue, outcome, ticket_number, paper_number, agent FROM calls"
        ).fetchall()
    return tickets, calls


async def test_200_calls_through_a_database_outage_and_a_controller_crash(
    scratch_pg: str, tmp_path: Path
) -> None:
    rng = random.Random(2026)
    users: list[tuple[str, str, str | None]] = [(n, "agent", i) for n, i in AGENTS]
    users += [("sue", "supervisor", None)]
    rows = await prepare_database(scratch_pg, tmp_path, users, sites=80)
    callers = callers_from(rows, rng)

    proxy = BlackHoleProxy()
    proxy_port = await proxy.start()
    db_name = make_url(scratch_pg).database
    agi_port, http_port = free_port(), free_port()
    pbx = PbxStandIn(speed=SPEED, agi_port=agi_port, auth_failure_delay=0)
    for username, interface in AGENTS:
        pbx.add_agent(interface, answer_after=2.0, member_name=username)
        pbx.add_static_member(MAIN, interface, member_name=username)
    for desk in POOL:
        pbx.add_agent(desk, answer_after=3.0)
    await pbx.start()
    journal_dir = tmp_path / "journal"
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
            db_url=f"postgresql://postgres@127.0.0.1:{proxy_port}/{db_name}",
            journal_dir=str(journal_dir),
            sounds_dir=str(tmp_path / "sounds"),
            emergency_members=",".join(POOL),
            health_interval="0.25",
            health_failures="3",
            health_timeout="0.5",
            # No automatic switch within 10 minutes of the last one: right after the switch
            # back, the database is still catching up with the outage's backlog (and the
            # test machine may be busy: the backfill has taken over 2 minutes), and a slow
            # probe must not flip the line again before the backfill is closed.
            emergency_hold_down="600",
            session_secret=SESSION_SECRET,
        ),
        cwd=tmp_path,
        http_port=http_port,
        log_path=tmp_path / "controller.log",
    )
    placed: list[SimCall] = []
    arrivals = asyncio.Event()  # cleared: nobody new calls in
    arrivals.set()

    async def traffic() -> None:
        for _ in range(CALLS):
            await arrivals.wait()
            plan = plan_call(rng, rng.choice(callers), MIX)
            placed.append(await place_planned_call(pbx, plan))
            await asyncio.sleep(rng.expovariate(1.0 / MEAN_GAP))

    generator: asyncio.Task[None] | None = None
    http = httpx.AsyncClient(base_url=controller.url, timeout=10.0)
    try:
        controller.start()
        await controller.wait_ready()
        sue = await login(http, "sue")
        alice = await login(http, "alice")
        assert (await http.get("/api/emergency", headers=alice)).json()["active"] is False
        generator = asyncio.create_task(traffic())

        # --- normal operation, then the database hangs ----------------------------------
        await until(
            lambda: len(placed) >= 50 and len(pbx.queue_entries(MAIN)) >= 2,
            timeout=90,
            what="50 calls placed and 2 callers waiting in hotline-main",
        )
        waiting = {e.channel.linkedid for e in pbx.queue_entries(MAIN)}
        failed_at = time.monotonic()
        proxy.freeze()
        await until(lambda: pbx.astdb.get("hotline/mode") == "emergency", 20, "emergency mode")
        routed_at = time.monotonic()
        await until(lambda: not pbx.queue_entries(MAIN), 20, "hotline-main emptied")
        in_emergency = {e.channel.linkedid for e in pbx.queue_entries(EMER)}
        by_id = {c.linkedid: c for c in placed}
        for call_id in waiting:
            call = by_id[call_id]
            # moved, or answered / given up by the caller while the switch ran: never dropped
            assert (
                call_id in in_emergency
                or call.answered_at is not None
                or (call.finished.done() and call.finished.result().outcome == "abandoned")
            ), call_id
        moved = len(waiting & in_emergency)
        assert moved >= 1
        switched_at_call = len(placed)

        # --- emergency mode: the pool answers; then the controller crashes ----------------
        await until(lambda: len(placed) >= 100, 60, "100 calls placed")
        arrivals.clear()
        # Every caller already in has passed the IVR and reached a queue (the IVR dies
        # with the controller; a call in it would continue unidentified, as designed).
        await until(
            lambda: all(c.queued_at is not None or c.finished.done() for c in placed),
            20,
            "callers out of the IVR",
        )
        emergency_queued = {c.linkedid for c in placed if c.queue == EMER}
        await until(
            lambda: (
                emergency_queued
                <= {r["call_id"] for r in journal_records(journal_dir) if r.get("kind") == "call"}
            ),
            20,
            "every emergency call journaled",
        )
        journal_before_crash = journal_records(journal_dir)
        controller.kill()
        assert controller.exit_codes == [-9]
        controller.start()
        await controller.wait_ready(60)
        arrivals.set()
        await until(lambda: len(placed) >= 150, 60, "150 calls placed")
        assert pbx.astdb.get("hotline/mode") == "emergency"  # still, after the restart
        # The restarted controller kept the journal: nothing was rewritten or lost.
        assert journal_records(journal_dir)[: len(journal_before_crash)] == journal_before_crash

        # --- the database comes back; the supervisor switches back --------------------------
        proxy.thaw()
        sue = await login_when_database_answers(http, "sue")
        alice = await login(http, "alice")

        def database_ok(checks: list[dict[str, Any]]) -> bool:
            return any(c["name"] == "database" and c["state"] == "ok" for c in checks)

        async with asyncio.timeout(30):
            while not database_ok(
                (await http.get("/api/emergency/checks", headers=sue)).json()["items"]
            ):
                await asyncio.sleep(0.2)
        # The switch back answers once the journaled calls are linked to the tickets they
        # got meanwhile, one by one: on a busy machine that outlasts the client's 10 s.
        back = await http.post(
            "/api/emergency",
            json={"active": False, "reason": "ticket database answers again"},
            headers=sue,
            timeout=90,
        )
        assert back.status_code == 200, back.text
        assert back.json()["active"] is False and back.json()["by"] == "sue"
        assert pbx.astdb["hotline/mode"] == "normal"
        switched_back_at_call = len(placed)

        # --- the rest of the traffic in normal mode; every call finishes -----------------------
        await asyncio.wait_for(generator, 120)
        results = await asyncio.wait_for(asyncio.gather(*(c.finished for c in placed)), 120)
        assert len(placed) == CALLS
        by_id = {c.linkedid: c for c in placed}
        outcomes = Counter(r.outcome for r in results)
        assert set(outcomes) <= {"answered", "abandoned"}, outcomes  # nobody dropped
        assert all(r.hangup_by != "pbx" for r in results)
        assert outcomes["abandoned"] >= 1
        queues = Counter(c.queue for c in placed)
        assert queues[MAIN] >= 50 and queues[EMER] >= 50, queues
        pool_answered = sum(1 for r in results if r.agent_interface in POOL)
        assert pool_answered >= 30

        async with asyncio.timeout(90):  # the controller catches up with the database
            while (await http.get("/healthz")).json()["calls"]["pipeline_backlog"]:
                await asyncio.sleep(0.25)

        # --- backfill through the API ---------------------------------------------------------
        items = (await http.get("/api/backfill", headers=sue)).json()["items"]
        assert items, "emergency calls must be listed for backfill"
        paper_of_item = {i["call_id"]: i["paper_number"] for i in items}
        assert len(set(paper_of_item.values())) == len(items)  # one paper number per call
        entered = 0
        for item in items:
            if item["waived"]:
                continue
            # Every paper is typed in: into a new ticket, or into the one the call got
            # automatically once the database was back (linked or not yet).
            call = by_id[item["call_id"]]
            body: dict[str, Any] = {
                "level": rng.randint(1, 4),
                "description": f"paper ticket {item['paper_number']}: caller reported a fault",
            }
            if entered % 2:  # what the desk wrote down; else the journal's number stands
                body["caller_number"] = "".join(ch for ch in call.caller_number if ch.isdigit())
            response = await http.post(
                f"/api/backfill/{item['paper_number']}", json=body, headers=alice
            )
            assert response.status_code == 200, response.text
            if item["ticket_number"] is not None:
                assert response.json()["ticket_number"] == item["ticket_number"]
            entered += 1
        again = (await http.get("/api/backfill", headers=sue)).json()["items"]
        assert all(i["ticket_number"] and i["state"] == "entered" for i in again), [
            i for i in again if i["state"] != "entered"
        ]
        closed = await http.post("/api/emergency/close-backfill", headers=sue)
        assert closed.status_code == 200, closed.text
        assert closed.json()["active"] is False

        # --- every call has exactly one ticket; journal, calls and tickets agree -----------
        tickets, calls = await asyncio.to_thread(database_rows, scratch_pg)
        numbered = {t["number"]: t for t in tickets}
        row_of = {r["call_id"]: r for r in calls}
        per_call = Counter(t["call_id"] for t in tickets if t["call_id"])  # tickets opened
        call_ids = [c.linkedid for c in placed]
        assert len(set(call_ids)) == CALLS
        missing = [c for c in call_ids if not (row_of.get(c) or {}).get("ticket_number")]
        assert not missing, f"{len(missing)} calls without a ticket: {missing[:5]}"
        assert all(per_call[c] <= 1 for c in call_ids)
        assert set(per_call) <= set(call_ids)  # no ticket for a call that never was
        # A call's ticket is the one its record names: its own, or one it joined.
        ticket_of = {c: numbered[row_of[c]["ticket_number"]] for c in call_ids}
        for call_id, ticket in ticket_of.items():
            joined = call_id in ticket["repeats"]
            assert (ticket["call_id"] == call_id) != joined, (call_id, ticket)
            assert not joined or per_call[call_id] == 0, (call_id, ticket)
        repeat_calls = sum(1 for c, t in ticket_of.items() if t["call_id"] != c)

        records = journal_records(journal_dir)
        ledger = bf.fold(records)
        journaled = ledger.calls
        assert set(journaled) == set(paper_of_item)
        # Journaled: the calls of the emergency queue, and the calls the switch caught (taken
        # in hotline-main after the last healthy check, their tickets possibly lost).
        caught = {
            r["call_id"]
            for r in records
            if r.get("kind") == "call" and r.get("fields", {}).get("caught_by_switch")
        }
        assert caught and all(by_id[c].queue == MAIN for c in caught)
        assert set(journaled) <= set(by_id)
        # Every call the live controller saw join the emergency queue got a paper number.
        assert emergency_queued <= set(journaled)
        papers = [c.paper_number for c in journaled.values()]
        assert len(set(papers)) == len(papers)
        for call_id, jcall in journaled.items():
            ticket = ticket_of[call_id]
            assert ledger.tickets[jcall.paper_number] == ticket["number"], call_id
            if ticket["source"] == "backfill" and ticket["call_id"] == call_id:
                assert ticket["paper_number"] == jcall.paper_number
        backfilled = sum(1 for t in tickets if t["source"] == "backfill" and t["call_id"])
        assert 0 < backfilled <= entered == len(journaled)

        for call_id in journaled:
            assert row_of[call_id]["paper_number"] == journaled[call_id].paper_number, call_id
        assert set(row_of) == set(call_ids)

        print(
            f"\nchaos: {CALLS} calls ({dict(outcomes)}), {queues[MAIN]} via {MAIN}, "
            f"{queues[EMER]} via {EMER} ({pool_answered} answered by the pool); "
            f"switch at call {switched_at_call}, back at call {switched_back_at_call}; "
            f"detection-to-routing {routed_at - failed_at:.2f} s; {moved} waiting callers "
            f"moved; {len(journaled)} journaled ({len(caught)} caught by the switch in "
            f"{MAIN}), {backfilled} backfilled through the API, "
            f"{len(journaled) - backfilled} linked to automatic tickets; "
            f"{repeat_calls} repeat calls joined their site's open ticket"
        )
        assert await controller.stop() == 0
    except BaseException:
        print(controller.tail(120))
        raise
    finally:
        if generator is not None:
            generator.cancel()
        if controller.process is not None:
            controller.kill()
        await http.aclose()
        await pbx.stop()
        await proxy.stop()
