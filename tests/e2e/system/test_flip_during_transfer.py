"""The supervisor flips to emergency mode while an agent is transferring a caller.

A blind transfer back to the queue (Setvar HOTLINE_QUEUE + Redirect of the talking
caller into `hotline-requeue`, as a desk phone's transfer key does) races the switch.
Whatever order the PBX sees them in, nobody is dropped: the transferred caller and the
caller already waiting both end up with the emergency desk, each keeps exactly one
ticket, and both are in the emergency journal with a paper number.
"""

from __future__ import annotations

import asyncio
import json

from calls import CallState
from pbx import CallerScript

from .conftest import EMERGENCY_DESK, HILLTOP, RIVERSIDE, System


async def test_flip_while_an_agent_transfers_a_caller(system_with_pool: System) -> None:
    s = system_with_pool
    await s.agent_on_duty("alice")
    sue = {"Authorization": f"Bearer {await s.login('sue')}"}

    talking = await s.pbx.place_call(
        "010-12345678", "Wang Li", script=CallerScript(("2",)), talk_time=40.0, patience=600.0
    )
    await s.until(
        lambda: any(
            c.call_id == talking.linkedid and c.state is CallState.CONNECTED
            for c in s.tracker.calls.values()
        )
    )
    waiting = await s.pbx.place_call(
        "13911112222", "Chen Jie", script=CallerScript(("3",)), talk_time=5.0, patience=600.0
    )
    await s.until(
        lambda: any(
            c.call_id == waiting.linkedid and c.state is CallState.QUEUED
            for c in s.tracker.calls.values()
        )
    )
    first_ticket = await s.ticket_of(talking.linkedid)

    channel = s.tracker.calls[talking.linkedid].channel

    async def transfer() -> None:
        await s.ami.setvar("HOTLINE_QUEUE", "hotline-main", channel=channel)
        await s.ami.redirect(channel, "hotline-requeue", "s")

    async def flip() -> int:
        response = await s.http.post(
            "/api/emergency", headers=sue, json={"active": True, "reason": "consoles frozen"}
        )
        return response.status_code

    _, status = await asyncio.gather(transfer(), flip())
    assert status == 200

    results = await asyncio.wait_for(asyncio.gather(talking.finished, waiting.finished), 60)
    for result in results:
        assert result.outcome in ("answered", "transferred"), result
    # The transferred caller was answered again, by the emergency desk.
    await s.until(lambda: s.tracker.ended_call(talking.linkedid) is not None, 30)
    assert results[0].agent_interface == EMERGENCY_DESK, results[0]
    assert results[1].agent_interface == EMERGENCY_DESK, results[1]
    await s.pipeline.drain(15)

    for result, site in zip(results, (RIVERSIDE, HILLTOP), strict=True):
        listed = await s.http.get("/api/tickets", params={"call_id": result.linkedid}, headers=sue)
        items = listed.json()["items"]
        assert len(items) == 1, f"call {result.linkedid} has {len(items)} tickets"
        assert items[0]["site_code"] == site
    assert (await s.ticket_of(talking.linkedid)).number == first_ticket.number

    journal = s.service.settings.journal_dir
    records = [
        json.loads(line)
        for path in journal.glob("*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    papers = {
        r["call_id"]: r["fields"]["paper_number"]
        for r in records
        if r.get("kind") == "call" and r.get("fields", {}).get("paper_number")
    }
    for result in results:
        assert papers.get(result.linkedid), f"call {result.linkedid} has no paper number"
    assert len(set(papers.values())) == len(papers), "a paper number was given twice"
