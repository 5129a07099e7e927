"""End to end: a customer with an assigned engineer who is logged in and
free has that engineer's phone rung first (Dial() before Queue() in the dialplan), and the
call never waits on the preference: no answer, and it goes on to the queue.

The Lakeside site's assigned engineer is bob (PJSIP/1002); alice (PJSIP/1001) is the
first agent the queue would ring (rrmemory, added first). Over the stand-in PBX and the
whole `HotlineService`, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio

import pytest

from calls import AgentRinging, CallAbandoned, CallAnswered, CallQueued
from pbx import CallerScript

from .conftest import LAKESIDE, SQLITE_ONLY, System

pytestmark = pytest.mark.slow

LAKESIDE_CALLER = "13722223333"


def events_of(system: System, call_id: str, kind: type) -> list:
    return [e for e in system.events if isinstance(e, kind) and e.call_id == call_id]


async def test_assigned_engineer_is_rung_first_and_gets_the_pop(system: System) -> None:
    alice = await system.agent_on_duty("alice")
    bob = await system.agent_on_duty("bob")

    call = await system.pbx.place_call(
        LAKESIDE_CALLER, "Sun Mei", script=CallerScript(("1",)), talk_time=5
    )
    call_id = call.linkedid
    ringing = await bob.wait_for("ringing", call_id)
    assert ringing["site_code"] == LAKESIDE and ringing["queue"] is None
    pop = await bob.wait_for("screen_pop", call_id)
    ticket = await system.ticket_of(call_id)
    assert pop["ticket_number"] == ticket.number
    assert ticket.site_code == LAKESIDE and ticket.level == 1
    assert pop["site"]["engineers"][0]["name"] == "Bob Engineer"
    assert pop["ticket"]["duty_agent"] == "bob" and pop["ticket"]["status"] == "in_progress"

    result = await asyncio.wait_for(call.finished, 30)
    assert result.outcome == "answered" and result.agent_interface == "PJSIP/1002"
    assert result.queue is None  # answered before the queue: nobody else was offered it
    assert result.variables["DIALSTATUS"] == "ANSWER"
    # Neither the queue nor alice ever saw the call.
    assert events_of(system, call_id, CallQueued) == []
    assert [e.interface for e in events_of(system, call_id, AgentRinging)] == ["PJSIP/1002"]
    ended = await bob.wait_for("call_ended", call_id)
    assert ended["outcome"] == "answered"
    assert alice.about(call_id) == []

    await system.pipeline.drain(10)
    record = await system.calls.get(call_id)
    assert record is not None
    assert record.outcome == "answered" and record.agent == "bob"
    assert record.ticket_number == ticket.number and record.site_code == LAKESIDE
    assert record.queued_at is not None and record.answered_at is not None


@SQLITE_ONLY
async def test_engineer_not_answering_sends_the_call_to_the_queue(system: System) -> None:
    alice = await system.agent_on_duty("alice")
    bob = await system.agent_on_duty("bob")
    system.pbx.sim.agents["PJSIP/1002"].answer_after = None  # bob lets it ring

    call = await system.pbx.place_call(
        LAKESIDE_CALLER, "Sun Mei", script=CallerScript(("2",)), talk_time=3
    )
    call_id = call.linkedid
    await bob.wait_for("ringing", call_id)
    cancelled = await bob.wait_for("ring_cancelled", call_id, timeout=20)
    assert cancelled["reason"] == "no_answer"
    pop = await alice.wait_for("screen_pop", call_id, timeout=20)
    ticket = await system.ticket_of(call_id)
    assert pop["ticket_number"] == ticket.number and ticket.level == 2

    result = await asyncio.wait_for(call.finished, 30)
    assert result.outcome == "answered" and result.agent_interface == "PJSIP/1001"
    assert result.queue == "hotline-main"
    assert result.variables["DIALSTATUS"] == "NOANSWER"
    # One ticket, opened while bob's phone rang, kept through the queue.
    queued = events_of(system, call_id, CallQueued)
    assert len(queued) == 1 and queued[0].call.queued_at is not None
    answered = events_of(system, call_id, CallAnswered)
    assert [e.interface for e in answered] == ["PJSIP/1001"]
    await system.pipeline.drain(10)
    assert (await system.tickets.get_by_call(call_id)) == await system.tickets.get(ticket.number)
    assert bob.about(call_id)[-1]["type"] in ("ring_cancelled", "call_ended")
    assert not [m for m in bob.about(call_id) if m["type"] == "screen_pop"]


@SQLITE_ONLY
async def test_busy_engineer_is_skipped(system: System) -> None:
    """bob is in another call: the IVR does not offer him, the queue takes the call."""
    bob = await system.agent_on_duty("bob")
    other = await system.pbx.place_call(
        "13911112222", "Chen Jie", script=CallerScript(("3",)), talk_time=20
    )
    await bob.wait_for("screen_pop", other.linkedid, timeout=20)
    alice = await system.agent_on_duty("alice")

    call = await system.pbx.place_call(
        LAKESIDE_CALLER, "Sun Mei", script=CallerScript(("1",)), talk_time=3
    )
    pop = await alice.wait_for("screen_pop", call.linkedid, timeout=20)
    assert pop["site"]["site_code"] == LAKESIDE
    result = await asyncio.wait_for(call.finished, 30)
    assert result.agent_interface == "PJSIP/1001" and "DIALSTATUS" not in result.variables
    assert result.variables.get("HOTLINE_PREFERRED", "") == ""
    assert bob.about(call.linkedid) == []
    assert (await asyncio.wait_for(other.finished, 30)).agent_interface == "PJSIP/1002"


@SQLITE_ONLY
async def test_caller_hanging_up_while_the_engineer_rings_gets_a_callback(
    system: System,
) -> None:
    bob = await system.agent_on_duty("bob")
    system.pbx.sim.agents["PJSIP/1002"].answer_after = None

    call = await system.pbx.place_call(
        LAKESIDE_CALLER, "Sun Mei", script=CallerScript(("1",)), patience=5
    )
    call_id = call.linkedid
    await bob.wait_for("ringing", call_id)
    result = await asyncio.wait_for(call.finished, 30)
    assert result.outcome == "abandoned" and result.variables["DIALSTATUS"] == "CANCEL"
    await system.until(lambda: bool(events_of(system, call_id, CallAbandoned)))
    await bob.wait_for("ring_cancelled", call_id)
    await system.pipeline.drain(10)
    ticket = await system.ticket_of(call_id)
    assert ticket.status.value == "callback_due" and ticket.site_code == LAKESIDE
    record = await system.calls.get(call_id)
    assert record is not None and record.outcome == "abandoned"
    assert record.ticket_number == ticket.number
