"""Tickets, calls and sites through the API on the real storage (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import console_test_harness as h
import httpx
import pytest

from bus.topics import TICKET_LEVELS
from calls import CallOutcome, CallState
from testkit.call_snapshots import call_snapshot


@pytest.fixture
async def pg_client(any_world: h.World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=any_world.app(), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as c:
        yield c


async def test_a_level_change_is_said_on_the_bus(
    any_world: h.World, pg_client: httpx.AsyncClient
) -> None:
    ticket = await h.open_call_ticket(any_world, "1700000001.8", description="one camera")
    token = await h.token_for(pg_client, "alice")
    levels = await any_world.bus.subscribe(TICKET_LEVELS)
    for change in ({"description": "one camera, no picture"}, {"level": 1}):
        response = await pg_client.patch(
            f"/api/tickets/{ticket.number}", json=change, headers=h.bearer(token)
        )
        assert response.status_code == 200, response.text
    said = await asyncio.wait_for(anext(aiter(levels)), 1.0)
    # Only the level change is said (the on-call pager wakes on it), once.
    assert said == {"type": "ticket_level", "ticket_number": ticket.number, "level": 1}
    assert levels.queue.empty()
    await levels.close()


async def test_patch_lands_in_history_and_database(
    any_world: h.World, pg_client: httpx.AsyncClient
) -> None:
    ticket = await h.open_call_ticket(any_world, "1700000001.7", description="no picture")
    token = await h.token_for(pg_client, "alice")
    response = await pg_client.patch(
        f"/api/tickets/{ticket.number}",
        json={
            "level": 1,
            "description": "whole MCU down",
            "status": "in_progress",
            "contact_email": "ops@example.org",
            "rma_quantity": 2,
            "spare_sent_on": "2026-05-02",
            "expected_resolution": "2026-05-03T10:00:00+08:00",
            "note": "caller says all sites cut off",
            "service_entry": {"symptom": "MCU dark", "action": "power cycle", "result": "no"},
            "progress_note": "engineer Zhao dispatched",
        },
        headers=h.bearer(token),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["level"] == 1 and body["status"] == "in_progress"
    # The level change recomputed the response deadline from the opening time (P1: 30 min).
    created = datetime.fromisoformat(body["created_at"])
    assert datetime.fromisoformat(body["response_due"]) - created == timedelta(minutes=30)
    fields = {c["field"]: c for c in body["history"] if c["by"] == "alice"}
    assert fields["level"]["old"] == "2" and fields["level"]["new"] == "1"
    assert fields["description"]["old"] == "no picture"
    assert fields["description"]["note"] == "caller says all sites cut off"
    assert body["service_log"][-1]["action"] == "power cycle"
    assert body["progress_log"][-1]["text"] == "engineer Zhao dispatched"

    stored = await any_world.tickets.get(ticket.number)
    assert stored is not None
    assert stored.description == "whole MCU down"
    assert stored.rma_quantity == 2
    assert stored.contact_email == "ops@example.org"
    assert any(c.field == "status" and c.new == "in_progress" for c in stored.history)

    again = await pg_client.get(f"/api/tickets/{ticket.number}", headers=h.bearer(token))
    assert again.json()["history"] == body["history"]


async def test_list_filters_and_paging(any_world: h.World, pg_client: httpx.AsyncClient) -> None:
    numbers = []
    for i in range(5):
        t = await h.open_call_ticket(
            any_world, f"1700000100.{i}", site="4401001" if i % 2 else None
        )
        numbers.append(t.number)
    token = await h.token_for(pg_client, "alice")
    auth = h.bearer(token)

    first = (await pg_client.get("/api/tickets?limit=2", headers=auth)).json()
    assert [t["number"] for t in first["items"]] == numbers[::-1][:2]  # newest first
    second = (
        await pg_client.get(f"/api/tickets?limit=2&before={first['next_before']}", headers=auth)
    ).json()
    assert [t["number"] for t in second["items"]] == numbers[::-1][2:4]

    by_site = (await pg_client.get("/api/tickets?site=4401001", headers=auth)).json()
    assert {t["number"] for t in by_site["items"]} == {numbers[1], numbers[3]}
    by_call = (await pg_client.get("/api/tickets?call_id=1700000100.2", headers=auth)).json()
    assert [t["number"] for t in by_call["items"]] == [numbers[2]]
    by_level = (await pg_client.get("/api/tickets?level=1", headers=auth)).json()
    assert by_level["items"] == []
    by_status = (await pg_client.get("/api/tickets?status=open", headers=auth)).json()
    assert len(by_status["items"]) == 5


async def test_sql_metacharacters_are_just_text(
    any_world: h.World, pg_client: httpx.AsyncClient
) -> None:
    ticket = await h.open_call_ticket(any_world, "1700000200.1")
    token = await h.token_for(pg_client, "alice")
    evil = "'; DROP TABLE tickets; -- %_ \\"
    response = await pg_client.patch(
        f"/api/tickets/{ticket.number}", json={"description": evil}, headers=h.bearer(token)
    )
    assert response.status_code == 200
    found = await pg_client.get("/api/tickets", params={"q": "DROP TABLE"}, headers=h.bearer(token))
    assert [t["number"] for t in found.json()["items"]] == [ticket.number]
    nothing = await pg_client.get("/api/tickets", params={"q": "%"}, headers=h.bearer(token))
    assert [t["description"] for t in nothing.json()["items"]] == [evil]
    sites = await pg_client.get("/api/sites", params={"q": "' OR 1=1 --"}, headers=h.bearer(token))
    assert sites.status_code == 200 and sites.json()["items"] == []


async def test_calls_list(any_world: h.World, pg_client: httpx.AsyncClient) -> None:
    at = h.now()
    for i, outcome in enumerate((CallOutcome.ANSWERED, CallOutcome.ABANDONED, None)):
        snap = call_snapshot(
            f"1700000300.{i}",
            at,
            channel=f"PJSIP/trunk-{i}",
            caller_number="01012345678",
            caller_name="Wang",
            state=CallState.ENDED if outcome else CallState.QUEUED,
            ended_at=at if outcome else None,
            outcome=outcome,
            site_code="4401001",
            level=2,
        )
        await any_world.calls.upsert(snap)
    token = await h.token_for(pg_client, "alice")
    auth = h.bearer(token)
    everything = (await pg_client.get("/api/calls", headers=auth)).json()["items"]
    assert len(everything) == 3
    abandoned = (await pg_client.get("/api/calls?outcome=abandoned", headers=auth)).json()
    assert [c["call_id"] for c in abandoned["items"]] == ["1700000300.1"]
    live = (await pg_client.get("/api/calls?active=true", headers=auth)).json()
    assert [c["call_id"] for c in live["items"]] == ["1700000300.2"]
    assert (await pg_client.get("/api/calls?outcome=bogus", headers=auth)).status_code == 422


async def test_site_search_and_record(world: h.World, client: httpx.AsyncClient) -> None:
    token = await h.token_for(client, "alice")
    found = (await client.get("/api/sites?q=Riverside", headers=h.bearer(token))).json()
    assert [s["site_code"] for s in found["items"]] == ["4401001"]
    record = (await client.get("/api/sites/4401001", headers=h.bearer(token))).json()
    assert record["organisation"] == "Provincial Water Resources Bureau"
    assert {e["serial"]: e["in_warranty"] for e in record["equipment"]} == {
        "MCU-0001": False,
        "CAM-0042": True,
    }
    assert record["engineers"][0]["name"] == "Zhao Gang"
    missing = await client.get("/api/sites/999", headers=h.bearer(token))
    assert missing.status_code == 404
    bad = await client.get("/api/sites/12ab", headers=h.bearer(token))
    assert bad.status_code == 422


async def test_open_a_ticket_by_hand(world: h.World, client: httpx.AsyncClient) -> None:
    token = await h.token_for(client, "alice")
    response = await client.post(
        "/api/tickets",
        json={
            "level": 1,
            "site_code": "4401001",
            "description": "e-mail: MCU alarm",
            "caller_number": "+86 10 1234 5678",
            "caller_name": "Wang Li",
        },
        headers=h.bearer(token),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["source"] == "manual" and body["level"] == 1
    assert body["organisation"] == "Provincial Water Resources Bureau"
    created = datetime.fromisoformat(body["created_at"])
    # Level 1: respond within 30 min; on site within 2 h (73.5 km band is 12 h: stricter wins).
    assert datetime.fromisoformat(body["response_due"]) - created == timedelta(minutes=30)
    assert datetime.fromisoformat(body["onsite_due"]) - created == timedelta(hours=2)
    stored = await world.tickets.get(body["number"])
    assert stored is not None and stored.description == "e-mail: MCU alarm"

    unknown = await client.post(
        "/api/tickets",
        json={"level": 3, "site_code": "999", "description": "x"},
        headers=h.bearer(token),
    )
    assert unknown.status_code == 422 and "site_code" in unknown.text
    for bad in (
        {"level": 3, "description": ""},
        {"level": 5, "description": "x"},
        {"level": 3, "description": "x", "caller_number": "1\r\nAction: Originate"},
        {"level": 3, "description": "x", "source": "call"},
    ):
        refused = await client.post("/api/tickets", json=bad, headers=h.bearer(token))
        assert refused.status_code == 422, bad
