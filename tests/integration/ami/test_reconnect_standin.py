"""Reconnect against the PBX stand-in over real TCP: the link is cut (TCP RST) while
calls are ringing and talking; the controller reconnects with back-off, resyncs, and
every call still ends with exactly one complete call record."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter

from ami.client import AmiClient
from ami.tracker import CallTracker
from calls import CallEnded, CallOutcome, DomainCallEvent
from pbx.standin import PbxStandIn


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_cut_mid_call_every_call_ends_exactly_once() -> None:
    # No IVR listening: the dialplan queues callers unidentified (never drops them).
    pbx = PbxStandIn(speed=20, agi_port=closed_port(), prompt_seconds=0, auth_failure_delay=0)
    # Staggered answers: some phone is always ringing when we cut, and is answered
    # while we are away.
    for i, n in enumerate(range(1001, 1005)):
        pbx.add_agent(
            f"PJSIP/{n}", answer_after=2.0 + 4 * i, talk_time=20.0, member_name=f"Agent {n}"
        )
    await pbx.start()
    tracker = CallTracker()
    events: list[DomainCallEvent] = []
    tracker.subscribe(events.append)
    client = AmiClient(
        port=pbx.ami_port,
        username="hotline",
        secret="hotline-secret",
        tracker=tracker,
        ping_interval=1.0,
        backoff_initial=0.5,
    )
    client.start()
    try:
        await client.wait_connected(5)
        for n in range(1001, 1005):
            await client.queue_add("hotline-main", f"PJSIP/{n}", member_name=f"Agent {n}")
        calls = [
            await pbx.place_call(
                f"1380013{8000 + i}", f"Caller {i}", talk_time=20.0, patience=120.0
            )
            for i in range(8)
        ]
        # Wait until some are talking and some are ringing/waiting, then cut. The
        # back-off keeps us away for 5-10 simulated seconds: agents answer meanwhile.
        # Cut while a phone rings: it is answered (2 simulated s) while we are away.
        while not any(c.state == "agent_ringing" for c in tracker.calls.values()):
            await asyncio.sleep(0.005)
        await pbx.cut_ami_clients()
        while client.connections < 2:
            await asyncio.sleep(0.01)
        await client.wait_connected(5)
        results = [await asyncio.wait_for(c.finished, 60) for c in calls]
        await asyncio.sleep(0.2)
    finally:
        await client.stop()
        await pbx.stop()

    ended = [e for e in events if isinstance(e, CallEnded)]
    per_call = Counter(e.call_id for e in ended)
    assert set(per_call) == {r.linkedid for r in results}, "every call has a record"
    assert all(n == 1 for n in per_call.values()), "no call recorded twice"
    by_id = {e.call_id: e.call for e in ended}
    for r in results:
        call = by_id[r.linkedid]
        assert call.caller_number == r.caller_number
        if r.outcome == "answered":
            assert call.outcome is CallOutcome.ANSWERED
            assert call.agent_interface == r.agent_interface
    assert not tracker.calls
    assert any(e.call.resynced for e in ended), "the resync path was exercised"


async def test_a_call_recorded_before_we_connected_keeps_its_recording(tmp_path) -> None:
    """The controller connects while a call is already talking: the MixMonitor events went
    by unseen, the resync reads MIXMONITOR_FILENAME from the caller channel."""
    pbx = PbxStandIn(
        speed=20,
        agi_port=closed_port(),
        prompt_seconds=0,
        auth_failure_delay=0,
        recordings_dir=tmp_path,
    )
    pbx.add_agent("PJSIP/1001", answer_after=1.0, talk_time=None)
    await pbx.start()
    tracker = CallTracker()
    events: list[DomainCallEvent] = []
    tracker.subscribe(events.append)
    client = AmiClient(
        port=pbx.ami_port, username="hotline", secret="hotline-secret", tracker=tracker
    )
    try:
        pbx.sim.queue_add("hotline-main", "PJSIP/1001", member_name="Agent 1001")
        call = await pbx.place_call("13800138000", "Caller", talk_time=600.0)
        async with asyncio.timeout(10):
            while pbx.sim.find_call(call.linkedid).answered_at is None:  # type: ignore[union-attr]
                await asyncio.sleep(0.01)
        client.start()
        await client.wait_connected(5)
        assert tracker.calls[call.linkedid].recording == f"{call.linkedid}.wav"
        pbx.sim.request_hangup(pbx.sim.find_call(call.linkedid).channel.name)  # type: ignore[union-attr]
        await asyncio.wait_for(call.finished, 20)
        async with asyncio.timeout(5):
            while not any(isinstance(e, CallEnded) for e in events):
                await asyncio.sleep(0.01)
    finally:
        await client.stop()
        await pbx.stop()
    [ended] = [e for e in events if isinstance(e, CallEnded)]
    assert ended.call.resynced and ended.call.recording == f"{call.linkedid}.wav"
