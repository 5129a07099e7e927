"""A drill with the database up: the paper written for each emergency call reaches the
ticket that call got automatically, whichever order the duty lead works in.

The supervisor flips to emergency mode while the seat system is healthy (a drill, or a
console-only outage). Each emergency call gets a paper number and, because the database
answers, its ticket as usual. The leader's reconciliation pass links those tickets; the
backfill screen says the papers still need typing in; each paper goes into its call's
ticket (once); the backfill closes only when every paper is entered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from pbx import CallerScript
from routing.domain.levels import FaultLevel
from supervision.domain.escalation import Action, ActionKind, ChannelKind
from supervision.records import NoticeDraft

from .conftest import EMERGENCY_DESK, System, running_system


@pytest_asyncio.fixture(loop_scope="session")
async def drill_system(sqlite_url: str, tmp_path: Path) -> AsyncIterator[System]:
    async with running_system(
        sqlite_url,
        tmp_path,
        emergency_desks=(EMERGENCY_DESK,),
        backfill_reconcile_interval=0.2,
        # The seat-system probe writes a row every round by design: keep it from writing
        # during the read-only comparison (its first round runs at start).
        health_interval=3600,
    ) as s:
        yield s


async def backfill(s: System, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    listed = await s.http.get("/api/backfill", headers=headers)
    assert listed.status_code == 200
    return {item["call_id"]: item for item in listed.json()["items"]}


async def test_paper_content_reaches_the_automatic_tickets(drill_system: System) -> None:
    s = drill_system
    sue = {"Authorization": f"Bearer {await s.login('sue')}"}
    alice = {"Authorization": f"Bearer {await s.login('alice')}"}
    flip = await s.http.post(
        "/api/emergency", headers=sue, json={"active": True, "reason": "drill"}
    )
    assert flip.status_code == 200 and flip.json()["active"]

    calls = [
        await s.pbx.place_call(number, name, script=CallerScript(("2",)), talk_time=5.0)
        for number, name in (("010-12345678", "Wang Li"), ("13911112222", "Chen Jie"))
    ]
    results = await asyncio.wait_for(asyncio.gather(*(c.finished for c in calls)), 60)
    assert [r.agent_interface for r in results] == [EMERGENCY_DESK, EMERGENCY_DESK], results
    await s.pipeline.drain(15)
    automatic = {r.linkedid: (await s.ticket_of(r.linkedid)).number for r in results}
    first, second = (r.linkedid for r in results)

    # The leader's pass links the automatic tickets; the screen says the paper is missing.
    async with asyncio.timeout(10):
        while True:
            items = await backfill(s, sue)
            if all(items.get(c, {}).get("ticket_number") for c in automatic):
                break
            await asyncio.sleep(0.1)
    for call_id, number in automatic.items():
        assert items[call_id]["ticket_number"] == number
        assert items[call_id]["state"] == "ticket_only" and not items[call_id]["accounted_for"]
    papers = {call_id: items[call_id]["paper_number"] for call_id in automatic}

    # First paper: the list was read before the paper is typed in (the order of the bug).
    entered = await s.http.post(
        f"/api/backfill/{papers[first]}",
        headers=alice,
        json={"level": 1, "description": "whole video platform down since 08:10"},
    )
    assert entered.status_code == 200, entered.text
    assert entered.json() == {"ticket_number": automatic[first]}

    back = await s.http.post(
        "/api/emergency", headers=sue, json={"active": False, "reason": "drill over"}
    )
    assert back.json()["state"] == "recovering"
    rec = (await s.http.get("/api/backfill/reconciliation", headers=sue)).json()
    assert not rec["done"]
    assert [i["paper_number"] for i in rec["awaiting_paper"]] == [papers[second]]
    refused = await s.http.post("/api/emergency/close-backfill", headers=sue)
    assert refused.status_code == 409

    # Second paper: typed in straight away, nobody read the list since the exit.
    entered = await s.http.post(
        f"/api/backfill/{papers[second]}",
        headers=alice,
        json={"level": 3, "description": "camera 3 no picture"},
    )
    assert entered.status_code == 200 and entered.json() == {"ticket_number": automatic[second]}
    again = await s.http.post(
        f"/api/backfill/{papers[second]}",
        headers=sue,
        json={"level": 3, "description": "typed twice"},
    )
    assert again.status_code == 409
    assert automatic[second] in again.text and "alice" in again.text

    for call_id, text in ((first, "whole video platform down"), (second, "camera 3")):
        ticket = (await s.http.get(f"/api/tickets/{automatic[call_id]}", headers=alice)).json()
        assert text in ticket["description"]
        assert any(
            h["by"] == "alice" and papers[call_id] in h.get("note", "") for h in ticket["history"]
        ), ticket["history"]
    level_one = (await s.http.get(f"/api/tickets/{automatic[first]}", headers=alice)).json()
    assert level_one["level"] == 1  # the paper said the whole system was down

    rec = (await s.http.get("/api/backfill/reconciliation", headers=sue)).json()
    assert rec["done"] and rec["calls_without_ticket"] == [] and rec["awaiting_paper"] == []
    closed = await s.http.post("/api/emergency/close-backfill", headers=sue)
    assert closed.status_code == 200 and closed.json()["state"] == "normal"
    listed = await s.http.get("/api/tickets", params={"call_id": first}, headers=sue)
    assert len(listed.json()["items"]) == 1  # never a second ticket


def database_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    import sqlite3

    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}


def journal_files(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


async def settled(s: System, *, still: int = 3, within: float = 30.0) -> None:
    """Return once the database and the journal stayed the same over `still` looks half
    a second apart."""
    last, same = None, 0
    async with asyncio.timeout(within):
        while same < still:
            now = (database_rows(s.db_url), journal_files(s.settings.journal_dir))
            same = same + 1 if now == last else 0
            last = now
            await asyncio.sleep(0.5)


async def test_no_get_route_changes_any_state(drill_system: System) -> None:
    s = drill_system
    sue = {"Authorization": f"Bearer {await s.login('sue')}"}
    alice = {"Authorization": f"Bearer {await s.login('alice')}"}
    await s.http.post("/api/emergency", headers=sue, json={"active": True, "reason": "drill"})
    call = await s.pbx.place_call(
        "010-12345678", "Wang Li", script=CallerScript(("2",)), talk_time=3.0
    )
    result = await asyncio.wait_for(call.finished, 60)
    await s.pipeline.drain(15)
    ticket = await s.ticket_of(result.linkedid)
    await s.http.post("/api/emergency", headers=sue, json={"active": False, "reason": "drill over"})
    # An escalation notice, so that its acknowledgement link has something to change.
    action = Action(
        f"{ticket.number}/esc/1/0",
        ActionKind.ESCALATION,
        ticket.number,
        FaultLevel.P1,
        ("duty_engineer",),
        ticket.created_at,
        "open 15 min",
        0,
    )
    draft = NoticeDraft("duty", "wecom", ChannelKind.IM, "P1", "body", "AckE2e1")
    await s.service.path.supervision.service.store.record_steps(
        [(action, [draft])], ticket.created_at
    )
    # Quiet the background: wait until the reconciliation links and the end of the call
    # have written (on a busy machine that can take seconds), so that what follows is read
    # against a database nothing else changes.
    await settled(s)
    values = {
        "number": ticket.number,
        "site_code": ticket.site_code or "4401001",
        "code": "AckE2e1",
        "month": "2026-11",
        "name": "calls.csv",
        "call_id": result.linkedid,
        "language": "en",
    }
    schema = (await s.http.get("/openapi.json")).json()
    db_before = database_rows(s.db_url)
    journal_before = journal_files(s.settings.journal_dir)
    visited = []
    for path, operations in schema["paths"].items():
        if "get" not in operations:
            continue
        params = [p["name"] for p in operations["get"].get("parameters", []) if p["in"] == "path"]
        assert set(params) <= set(values), f"{path}: give the test a value for {params}"
        url = path.format(**{k: values[k] for k in params})
        for headers in (alice, sue):
            response = await s.http.get(url, headers=headers)
            assert response.status_code < 500, (url, response.status_code, response.text[:200])
        visited.append(path)
    assert "/api/backfill" in visited and "/api/backfill/reconciliation" in visited
    assert "/ack/{code}" in visited and "/api/tickets/{number}" in visited
    assert "/api/calls/{call_id}/recording" in visited
    assert database_rows(s.db_url) == db_before
    assert journal_files(s.settings.journal_dir) == journal_before
