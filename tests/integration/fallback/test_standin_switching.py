"""Emergency switching end to end over real AMI: the PBX stand-in, the lead's AMI client and
call tracker, and the emergency service with a real journal directory."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from ami.client import AmiClient
from ami.tracker import CallTracker
from fallback.domain.mode import EmergencyPolicy
from fallback.journal import EmergencyJournal
from fallback.paper import PaperNumberAllocator
from fallback.ports import BackfillOutcome, BackfillTicket
from fallback.service import EmergencyService, emergency_journal_stage
from fallback.switching import PbxSwitch
from pbx.standin import PbxStandIn
from pipeline import CallPipeline

MAIN, EMER = "hotline-main", "hotline-emergency"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sink:
    def __init__(self) -> None:
        self.by_call: dict[str, str] = {}

    async def ticket_for_call(self, call_id: str) -> str | None:
        return self.by_call.get(call_id)

    async def backfill(self, ticket: BackfillTicket) -> BackfillOutcome:
        key = ticket.call_id or ticket.paper_number
        if key in self.by_call:
            return BackfillOutcome(self.by_call[key], False)
        self.by_call[key] = f"T{len(self.by_call) + 1:04d}"
        return BackfillOutcome(self.by_call[key], True)


@dataclass
class Rig:
    pbx: PbxStandIn
    client: AmiClient
    tracker: CallTracker
    service: EmergencyService
    pipeline: CallPipeline


async def until(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


@pytest.fixture
async def rig(tmp_path) -> AsyncIterator[Rig]:
    # No IVR listening: callers are queued unidentified with the dialplan defaults.
    pbx = PbxStandIn(speed=60, agi_port=closed_port(), prompt_seconds=0, auth_failure_delay=0)
    pbx.add_agent("PJSIP/1003", answer_after=None)  # emergency desk, busy with paper for now
    pbx.add_agent("PJSIP/1004", answer_after=0.5, talk_time=5.0, member_name="backup-desk")
    pbx.add_agent("PJSIP/1005", answer_after=0.5, talk_time=3600.0, member_name="long-talker")
    await pbx.start()
    tracker = CallTracker()
    client = AmiClient(
        port=pbx.ami_port,
        username="hotline",
        secret="hotline-secret",
        tracker=tracker,
        ping_interval=2.0,
    )
    service = EmergencyService(
        control=client,
        switch=PbxSwitch(client, pool=["PJSIP/1003"], retry_delay=0.05),
        journal=EmergencyJournal(tmp_path),
        paper=PaperNumberAllocator(tmp_path),
        sink=Sink(),
        clock=lambda: datetime.now(UTC),
        policy=EmergencyPolicy(),
    )
    await service.start()
    pipeline = CallPipeline([emergency_journal_stage(service)])
    tracker.subscribe(pipeline.submit)

    async def on_connected(_client: AmiClient) -> None:
        await service.on_ami_connected()

    client.on_connected.append(on_connected)
    client.start()
    try:
        await client.wait_connected(5)
        await until(lambda: service.pbx_in_sync)
        yield Rig(pbx, client, tracker, service, pipeline)
    finally:
        await client.stop()
        await service.stop()
        await pbx.stop()


def channels(pbx: PbxStandIn, queue: str) -> list[str]:
    return [e.channel.name for e in pbx.queue_entries(queue)]


async def test_entry_moves_waiting_callers_in_order_and_routes_new_calls(rig: Rig) -> None:
    pbx, service = rig.pbx, rig.service
    # Start-up already restored the pool and wrote the (normal) mode.
    assert pbx.astdb["hotline/mode"] == "normal"
    assert [m.interface for m in pbx.queue_members(EMER)] == ["PJSIP/1003"]

    calls = [await pbx.place_call(f"1390000{i:04d}", f"Caller {i}", patience=600) for i in range(6)]
    await until(lambda: len(channels(pbx, MAIN)) == 6)
    before = channels(pbx, MAIN)

    status = await service.set_active(True, reason="ticket database down", by="lead")
    assert status.active and service.pbx_in_sync
    assert pbx.astdb["hotline/mode"] == "emergency"
    assert service.last_switch is not None and service.last_switch.moved == 6
    await until(lambda: len(channels(pbx, EMER)) == 6)
    assert channels(pbx, EMER) == before  # same callers, same order
    assert channels(pbx, MAIN) == []
    assert not any(c.finished.done() for c in calls)  # nobody dropped

    late = await pbx.place_call("13900009999", "Late caller", patience=600)
    await until(lambda: len(channels(pbx, EMER)) == 7)
    assert channels(pbx, MAIN) == []

    # Every emergency call got its own paper number, journaled.
    await until(lambda: len(service.calls.paper_by_call) == 7)
    await rig.pipeline.settled("emergency-journal", 10)
    numbers = sorted(service.calls.paper_by_call.values())
    assert numbers == [f"E{n:06d}" for n in range(1, 8)]
    journaled = service.ledger().calls
    assert {c.caller_number for c in journaled.values()} == {
        f"1390000{i:04d}" for i in range(6)
    } | {"13900009999"}
    assert all(c.moved_from == MAIN for c in journaled.values() if c.caller_number != "13900009999")

    # A pool desk that answers takes the calls; the journal records who and how long.
    await rig.client.queue_add(EMER, "PJSIP/1004", member_name="backup-desk")
    first = await asyncio.wait_for(calls[0].finished, 30)
    assert first.outcome == "answered"
    await rig.pipeline.settled("emergency-journal", 10)
    answered = service.ledger().calls[first.linkedid]
    assert answered.agent == "backup-desk" and answered.agent_interface == "PJSIP/1004"
    await until(lambda: service.ledger().calls[first.linkedid].ended_at is not None)
    assert late.finished.done() is False or (await late.finished).outcome == "answered"


async def test_exit_leaves_talkers_and_waiting_callers_alone(rig: Rig) -> None:
    pbx, service = rig.pbx, rig.service
    await service.set_active(True, reason="drill of the switch", by="lead")
    await rig.client.queue_add(EMER, "PJSIP/1005", member_name="long-talker")
    calls = [await pbx.place_call(f"1370000{i:04d}", patience=600, talk_time=600) for i in range(3)]
    await until(lambda: any(c.state == "connected" for c in rig.tracker.calls.values()))
    await until(lambda: len(channels(pbx, EMER)) == 2)
    waiting = channels(pbx, EMER)
    await until(lambda: len(service.calls.paper_by_call) == 3)

    await service.set_active(False, reason="database back", by="lead")
    assert pbx.astdb["hotline/mode"] == "normal"
    assert service.status().state == "recovering"
    assert channels(pbx, EMER) == waiting  # not moved back (default)
    assert any(c.state == "connected" for c in rig.tracker.calls.values())
    assert not any(c.finished.done() for c in calls)
    new = await pbx.place_call("13700009999", patience=600)
    await until(lambda: len(channels(pbx, MAIN)) == 1)
    assert new.finished.done() is False


async def test_reconnect_restores_the_pool_and_the_mode(rig: Rig) -> None:
    pbx, service = rig.pbx, rig.service
    await service.set_active(True, reason="db down", by="lead")
    # Someone cleans the PBX behind our back; then the AMI link drops and comes back.
    pbx.sim.queues[EMER].members.clear()
    pbx.astdb["hotline/mode"] = "normal"
    connections = rig.client.connections
    await pbx.cut_ami_clients()
    await until(lambda: rig.client.connections > connections)
    await until(lambda: pbx.astdb.get("hotline/mode") == "emergency")
    await until(lambda: [m.interface for m in pbx.queue_members(EMER)] == ["PJSIP/1003"])
    assert service.pbx_in_sync
