"""Cut, frozen, slow, concurrent and hostile AMI clients."""

from __future__ import annotations

import asyncio

from pbx.agi_client import CallerScript
from pbx.standin import PbxStandIn

from .conftest import AmiTestClient, Msg, ScriptedIvr, get
from .transcript import ami_messages


def keys(msg: Msg) -> list[str]:
    return [k for k, _ in msg]


async def _queue_agent(ami: AmiTestClient, interface: str) -> None:
    reply = await ami.action(
        "QueueAdd",
        Queue="hotline-main",
        Interface=interface,
        MemberName=f"Agent {interface[-4:]}",
        StateInterface=interface,
        Penalty="0",
        Paused="false",
    )
    assert get(reply, "Response") == "Success"


async def test_cut_while_ringing_then_resync_like_asterisk(
    pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient
) -> None:
    """g-ami-reconnect-midcall.txt: RST while the agent rings, the agent answers while no
    client is connected, a new login sees the call only through the list actions."""
    pbx.add_agent("PJSIP/1001", answer_after=3.0, member_name="Agent 1001")
    await _queue_agent(ami, "PJSIP/1001")
    call = await pbx.place_call(
        "13700137000", "Site caller", script=CallerScript(inputs=("234567#", "1")), talk_time=20
    )
    await ami.wait_event("AgentCalled", Linkedid=call.linkedid)
    await pbx.cut_ami_clients()
    await asyncio.wait_for(ami.closed.wait(), 5)
    assert ami.reset  # TCP RST, not a clean close
    while pbx.sim.bridges == {}:
        await asyncio.sleep(0.01)
    assert not call.finished.done()

    fresh = await AmiTestClient.connect(pbx.ami_port)
    try:
        recorded = ami_messages("g-ami-reconnect-midcall.txt", "ami2")

        def replies(aid: str, msgs: list[Msg]) -> list[list[str]]:
            return [keys(m) for m in msgs if get(m, "ActionID") == aid]

        for ours, theirs, action, complete in [
            ("c", "ami2-2", "CoreShowChannels", "CoreShowChannelsComplete"),
            ("s", "ami2-3", "Status", "StatusComplete"),
            ("q", "ami2-4", "QueueStatus", "QueueStatusComplete"),
            ("b", "ami2-5", "BridgeList", "BridgeListComplete"),
        ]:
            fresh.send(action, action_id=ours)
            await fresh.wait_event(complete, ActionID=ours)
            assert replies(ours, fresh.messages) == replies(theirs, recorded), action
        channels = [m for m in fresh.messages if get(m, "Event") == "CoreShowChannel"]
        bridge = get(channels[0], "BridgeId")
        assert bridge and {get(m, "BridgeId") for m in channels} == {bridge}
        assert {get(m, "Linkedid") for m in channels} == {call.linkedid}
        assert [get(m, "Application") for m in channels] == ["Queue", "AppQueue"]
        member = next(m for m in fresh.messages if get(m, "Event") == "QueueMember")
        assert (get(member, "InCall"), get(member, "Status")) == ("1", "2")
        assert not [m for m in fresh.messages if get(m, "Event") == "QueueEntry"]
        # nothing is replayed, the rest of the call arrives live
        assert not [m for m in fresh.messages if get(m, "Event") == "AgentConnect"]
        await fresh.wait_event("AgentComplete", Linkedid=call.linkedid, timeout=10)
        result = await asyncio.wait_for(call.finished, 10)
        assert result.outcome == "answered"
    finally:
        await fresh.close()


async def test_frozen_peer_answers_nothing_until_thawed(
    pbx: PbxStandIn, ami: AmiTestClient
) -> None:
    pbx.freeze_ami(True)
    aid = ami.send("Ping")
    pbx.sim.emit([("Event", "UserEvent"), ("Privilege", "user,all"), ("UserEvent", "Frozen")])
    await asyncio.sleep(0.3)
    assert not [m for m in ami.messages if get(m, "ActionID") == aid]
    assert not ami.closed.is_set()
    pbx.freeze_ami(False)
    reply = await ami.wait_for(lambda m: get(m, "ActionID") == aid)
    assert get(reply, "Ping") == "Pong"
    await ami.wait_event("UserEvent", UserEvent="Frozen")


async def test_concurrent_clients_all_get_every_event(pbx: PbxStandIn, ami: AmiTestClient) -> None:
    pbx.add_agent("PJSIP/1001", answer_after=1.0, member_name="Agent 1001")
    others = [await AmiTestClient.connect(pbx.ami_port) for _ in range(3)]
    # a client that logs in and then never reads must not hold anything up
    sleeper = await AmiTestClient.connect(pbx.ami_port)
    assert sleeper._task is not None
    sleeper._task.cancel()
    try:
        await _queue_agent(ami, "PJSIP/1001")
        calls = [
            await pbx.place_call(f"1380013800{n}", "Site caller", talk_time=2.0) for n in range(3)
        ]
        results = await asyncio.wait_for(asyncio.gather(*(c.finished for c in calls)), 30)
        assert [r.outcome for r in results] == ["answered"] * 3
        for result in results:
            for client in (ami, *others):
                await client.wait_event("Hangup", Uniqueid=result.linkedid)
        for result in results:
            want = ami.events_for(result.linkedid)
            assert len(want) > 50
            for client in others:
                assert client.events_for(result.linkedid) == want
    finally:
        for client in (*others, sleeper):
            await client.close()


async def test_hostile_bytes_do_not_hurt_the_server(pbx: PbxStandIn, ami: AmiTestClient) -> None:
    hostile = await AmiTestClient.connect(pbx.ami_port)
    try:
        hostile.send_raw(b"\x00\xff\xfe garbage \x1b[31m\r\n\r\n")
        hostile.send_raw(b"X" * 200_000)  # one line far beyond Asterisk's 1024-byte buffer
        hostile.send_raw(b"\r\n\r\n")
        hostile.send_raw(b"Action: Ping\r\nActionID: after-junk\r\n\r\n")
        pong = await hostile.wait_for(lambda m: get(m, "ActionID") == "after-junk")
        assert get(pong, "Ping") == "Pong"
        # a bare LF inside a value must not become a header anywhere
        hostile.send_raw(
            b"Action: UserEvent\r\nActionID: inj\r\nUserEvent: Evil\nEvent: Forged\r\n\r\n"
        )
        refused = await hostile.wait_for(lambda m: get(m, "ActionID") == "inj")
        assert get(refused, "Response") == "Error"
        hostile.send_raw(
            b"Action: Setvar\r\nActionID: inj2\r\nVariable: X\r\nValue: a\rEvent: Forged\r\n\r\n"
        )
        refused = await hostile.wait_for(lambda m: get(m, "ActionID") == "inj2")
        assert get(refused, "Response") == "Error"
        assert "X" not in pbx.sim.globals
        hostile.send_raw(b"Action: Ping\r\n" + b"H: v\r\n" * 5000 + b"\r\n")
        many = await hostile.wait_for(
            lambda m: get(m, "Ping") == "Pong" and get(m, "ActionID") is None
        )
        assert get(many, "Response") == "Success"
        hostile.send_raw(b"\r\n\r\n\r\n:\r\n: \r\nno colon here\r\n\r\n")
        reply = await hostile.action("Ping")
        assert get(reply, "Ping") == "Pong"
    finally:
        await hostile.close()
    raw = b"".join(ami.raw)
    assert b"\r\nEvent: Forged" not in raw and not raw.startswith(b"Event: Forged")
    assert all(get(m, "Event") != "Forged" for m in ami.messages)
    # the server still serves everyone
    reply = await ami.action("Ping")
    assert get(reply, "Ping") == "Pong"
    late = await AmiTestClient.connect(pbx.ami_port)
    await late.close()
