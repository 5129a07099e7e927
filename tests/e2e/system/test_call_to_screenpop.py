"""End to end: a call through the stand-in PBX, the IVR and the queue becomes a
ticket with the right site, level and SLA deadlines, and the answering agent (only that
agent) gets the screen-pop with the full site record on the console websocket.

Runs over a scratch SQLite file and a scratch PostgreSQL database (`system` fixture).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calls import CallQueued
from pbx import CallerScript
from routing.domain.deadlines import deadlines_for
from routing.domain.levels import FaultLevel, SlaPolicy

from .conftest import FARAWAY, HILLTOP, RIVERSIDE, SWITCHBOARD_B, ConsoleSocket, System

pytestmark = pytest.mark.slow


async def settle(system: System, sock: ConsoleSocket) -> None:
    """Everything published to `sock`'s user so far has reached the client (bus FIFO)."""
    marker = f"settle-{len(sock.messages)}-{id(sock)}"
    await system.bus.publish(f"user:{sock.username}", {"type": "test_marker", "m": marker})
    async with asyncio.timeout(10):
        while not any(m.get("m") == marker for m in sock.messages):
            await asyncio.sleep(0.01)


def expected_deadlines(created_at: datetime, response: timedelta, onsite: timedelta | None):
    return created_at + response, None if onsite is None else created_at + onsite


async def api_get(system: System, token: str, path: str, **params: Any) -> Any:
    response = await system.http.get(
        path, params=params, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_known_caller_ticket_and_pop_only_to_the_answering_agent(system: System) -> None:
    started = datetime.now(UTC)
    alice = await system.agent_on_duty("alice")
    bob = await system.agent_on_duty("bob")
    members = {m.interface: m for m in system.pbx.queue_members("hotline-main")}
    assert members["PJSIP/1001"].name == "alice" and not members["PJSIP/1001"].paused
    assert members["PJSIP/1002"].name == "bob"

    # rrmemory rings alice (added first); she answers after 2 simulated seconds.
    call = await system.pbx.place_call(
        "010-12345678", "Wang Li", script=CallerScript(("1",)), talk_time=5
    )
    call_id = call.linkedid
    ringing = await alice.wait_for("ringing", call_id)
    assert ringing["caller_number"] == "01012345678"
    assert ringing["site_code"] == RIVERSIDE and ringing["level"] == 1
    pop = await alice.wait_for("screen_pop", call_id)

    # The ticket: site from the caller's number, level 1 from the IVR, deadlines from the
    # SLA tables: response 30 min; on-site the stricter of 2 h (level 1) and 12 h (80 km).
    ticket = await system.ticket_of(call_id)
    assert ticket.site_code == RIVERSIDE and ticket.level == 1
    assert ticket.source.value == "call" and ticket.call_id == call_id
    assert ticket.caller_number == "01012345678"
    assert ticket.organisation == "Provincial Water Resources Bureau"
    assert ticket.contact_name == "Wang Li"
    assert started - timedelta(seconds=1) <= ticket.created_at <= datetime.now(UTC)
    response_due, onsite_due = expected_deadlines(
        ticket.created_at, timedelta(minutes=30), timedelta(hours=2)
    )
    assert ticket.response_due == response_due and ticket.onsite_due == onsite_due
    table = deadlines_for(SlaPolicy(), FaultLevel.P1, ticket.created_at, 80.0)
    assert (table.response_due, table.onsite_due) == (response_due, onsite_due)

    # The pop: the ticket and the full site record.
    assert pop["ticket_number"] == ticket.number
    assert pop["ticket"]["number"] == ticket.number and pop["ticket"]["level"] == 1
    # What the agent edits is the ticket as answered, not as it was while the phone rang.
    assert pop["ticket"]["status"] == "in_progress" and pop["ticket"]["duty_agent"] == "alice"
    site = pop["site"]
    assert site["site_code"] == RIVERSIDE
    assert site["site_name"] == "Riverside Pump Station"
    assert site["organisation"] == "Provincial Water Resources Bureau"
    assert site["customer_id"] == "C-100" and site["tier"] == "county"
    assert site["address"] == "12 Dyke Road" and site["distance_km"] == 80
    assert {c["phone"] for c in site["contacts"]} == {"010-12345678", "13800001234"}
    assert {c["name"] for c in site["contacts"]} == {"Wang Li", "Li Na"}
    warranty = {e["serial"]: e["in_warranty"] for e in site["equipment"]}
    assert warranty == {"SN-RIV-1": False, "SN-RIV-2": True}
    assert site["contract"]["tier"] == "gold"
    assert [e["name"] for e in site["engineers"]] == ["Zhao Gang"]
    assert pop["call"]["agent_interface"] == "PJSIP/1001"

    result = await asyncio.wait_for(call.finished, 30)
    assert result.outcome == "answered"
    ended = await alice.wait_for("call_ended", call_id)
    assert ended["outcome"] == "answered"

    # Bob was ready in the same queue and hears nothing of this call.
    await settle(system, bob)
    assert bob.about(call_id) == []
    kinds = [m["type"] for m in alice.about(call_id)]
    # The site's open tickets come with the pop, or (the record still being read when
    # the agent answered) in one `screen_pop_site` right after it.
    assert kinds in (
        ["ringing", "screen_pop", "call_ended"],
        ["ringing", "screen_pop", "screen_pop_site", "call_ended"],
    )
    full = [m["site"] for m in alice.about(call_id) if m["type"] == "screen_pop_site"] or [site]
    assert full[0]["site_code"] == RIVERSIDE
    assert ticket.number in [t["number"] for t in full[0]["open_tickets"]]

    # The answer is on the ticket and the call record, as the API shows them.
    token = await system.login("alice")
    await system.pipeline.drain(10)
    shown = await api_get(system, token, f"/api/tickets/{ticket.number}")
    assert shown["status"] == "in_progress" and shown["duty_agent"] == "alice"
    assert any(h["field"] == "status" and h["by"] == "system" for h in shown["history"])
    calls = (await api_get(system, token, "/api/calls", call_id=call_id))["items"]
    assert len(calls) == 1
    assert calls[0]["outcome"] == "answered" and calls[0]["agent"] == "alice"
    assert calls[0]["ticket_number"] == ticket.number and calls[0]["site_code"] == RIVERSIDE


async def test_unknown_caller_enters_the_site_code(system: System) -> None:
    alice = await system.agent_on_duty("alice")
    call = await system.pbx.place_call(
        "13512345678", "", script=CallerScript((f"{FARAWAY}#", "2")), talk_time=3
    )
    pop = await alice.wait_for("screen_pop", call.linkedid)
    ticket = await system.ticket_of(call.linkedid)
    assert ticket.site_code == FARAWAY and ticket.level == 2
    # Level 2: response 2 h; on-site the stricter of 12 h (level) and 3 days (450 km).
    assert ticket.response_due == ticket.created_at + timedelta(hours=2)
    assert ticket.onsite_due == ticket.created_at + timedelta(hours=12)
    assert pop["ticket_number"] == ticket.number
    assert pop["site"]["site_name"] == "Summit Relay" and pop["site"]["distance_km"] == 450
    assert (await asyncio.wait_for(call.finished, 30)).outcome == "answered"


async def test_shared_switchboard_caller_is_asked_for_the_site(system: System) -> None:
    alice = await system.agent_on_duty("alice")
    call = await system.pbx.place_call(
        "027-88880000", "", script=CallerScript((f"{SWITCHBOARD_B}#", "3")), talk_time=3
    )
    pop = await alice.wait_for("screen_pop", call.linkedid)
    ticket = await system.ticket_of(call.linkedid)
    assert ticket.site_code == SWITCHBOARD_B and ticket.level == 3
    # Level 3: response 2 h; on-site the stricter of 24 h (level) and 5 h (25 km).
    assert ticket.response_due == ticket.created_at + timedelta(hours=2)
    assert ticket.onsite_due == ticket.created_at + timedelta(hours=5)
    assert pop["site"]["site_name"] == "West Gate Station"
    assert (await asyncio.wait_for(call.finished, 30)).outcome == "answered"


async def test_abandoned_call_becomes_a_callback_ticket(system: System) -> None:
    # Alice is logged in but not ready: nobody takes the call, the caller gives up.
    token = await system.login("alice")
    alice = await system.open_socket("alice", token)
    call = await system.pbx.place_call(
        "13911112222", "Chen Jie", script=CallerScript(("3",)), patience=4
    )
    result = await asyncio.wait_for(call.finished, 30)
    assert result.outcome == "abandoned"
    await system.pipeline.drain(10)
    ticket = await system.ticket_of(call.linkedid)
    assert ticket.site_code == HILLTOP and ticket.level == 3
    assert ticket.status.value == "callback_due"
    # The SLA clock keeps running from the queue join: 2 h response, 5 h on site (30 km).
    assert ticket.response_due == ticket.created_at + timedelta(hours=2)
    assert ticket.onsite_due == ticket.created_at + timedelta(hours=5)
    calls = (await api_get(system, token, "/api/calls", call_id=call.linkedid))["items"]
    assert calls[0]["outcome"] == "abandoned" and calls[0]["ticket_number"] == ticket.number
    listed = (await api_get(system, token, "/api/tickets", status="callback_due"))["items"]
    assert [t["number"] for t in listed] == [ticket.number]
    await settle(system, alice)
    assert alice.about(call.linkedid) == []


async def test_resync_and_replay_never_make_a_second_ticket(system: System) -> None:
    token = await system.login("alice")
    alice = await system.open_socket("alice", token)
    call = await system.pbx.place_call(
        "010-12345678", "Wang Li", script=CallerScript(("2",)), talk_time=20, patience=120
    )
    call_id = call.linkedid
    ticket = await system.ticket_of(call_id)  # queued: the ticket is open, nobody ready

    # The AMI link drops while the caller waits; the controller reconnects and resyncs.
    connections = system.ami.connections
    await system.pbx.cut_ami_clients()
    await system.until(lambda: system.ami.connections > connections)
    await system.ami.wait_connected(10)

    # Alice gets ready now; the call is answered after the resync and pops her ticket.
    await system.set_state(token, "ready")
    pop = await alice.wait_for("screen_pop", call_id, timeout=30)
    assert pop["ticket_number"] == ticket.number

    # Cut again while the call is connected.
    connections = system.ami.connections
    await system.pbx.cut_ami_clients()
    await system.until(lambda: system.ami.connections > connections)
    assert (await asyncio.wait_for(call.finished, 30)).outcome == "answered"
    await system.until(lambda: system.tracker.calls.get(call_id) is None, timeout=30)
    await system.pipeline.drain(10)

    # Replay every event the tracker published for this call, straight into the ticket
    # service and again through the pipeline: still one ticket.
    replay = [e for e in system.events if e.call_id == call_id]
    assert any(isinstance(e, CallQueued) for e in replay)
    for event in replay:
        await system.call_tickets.handle(event)
    for event in replay:
        system.pipeline.submit(event)
    await system.pipeline.drain(10)

    tickets = (await api_get(system, token, "/api/tickets", call_id=call_id))["items"]
    assert [t["number"] for t in tickets] == [ticket.number]
    everything = (await api_get(system, token, "/api/tickets", limit=100))["items"]
    assert len(everything) == 1
    stored = await system.tickets.get(ticket.number)
    assert stored is not None and stored.level == 2 and stored.duty_agent == "alice"
    assert stored.created_at == ticket.created_at
    assert stored.response_due == ticket.response_due
    calls = (await api_get(system, token, "/api/calls", call_id=call_id))["items"]
    assert len(calls) == 1 and calls[0]["outcome"] == "answered"
