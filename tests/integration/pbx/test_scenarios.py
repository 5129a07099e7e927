"""The stand-in's event stream for whole calls, compared with the real Asterisk recordings.

For each recorded scenario we run the same call through the stand-in and compare the
call's events as (Event, header names in order), after dropping what a media-less
simulation does not produce (RTCP, DeviceStateChange, RTP QoS VarSets) and what depends on
the IVR under test (AGI commands, DTMF, HOTLINE_* VarSets).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter

import pytest

from pbx.agi_client import CallerScript
from pbx.simulation import CallResult
from pbx.standin import PbxStandIn

from .conftest import AmiTestClient, Msg, ScriptedIvr, get
from .transcript import UNORDERED_EVENTS, ami_messages, call_shape, first_linkedid

SCENARIOS = {
    "b": ("b-inbound-call-answered.txt", ["PJSIP/1001"]),
    "c": ("c-queue-abandon.txt", ["PJSIP/1003"]),
    "d": ("d-ringnoanswer-then-answer.txt", ["PJSIP/1003", "PJSIP/1002"]),
    "h": ("h-local-channel-agent.txt", ["Local/1001@agents-local"]),
    "i": ("i-hangup-during-ivr.txt", ["PJSIP/1001"]),
}


def ordered(shape: list[tuple[str, tuple[str, ...]]]) -> list[tuple[str, tuple[str, ...]]]:
    return [item for item in shape if item[0] not in UNORDERED_EVENTS]


def unordered(shape: list[tuple[str, tuple[str, ...]]]) -> Counter[tuple[str, tuple[str, ...]]]:
    return Counter(item for item in shape if item[0] in UNORDERED_EVENTS)


async def run_scenario(
    pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient, scenario: str
) -> CallResult:
    ivr.plan.survey = False  # the recordings have no survey step
    pbx.add_agent("PJSIP/1001", answer_after=1.0, member_name="Agent 1001")
    pbx.add_agent("PJSIP/1002", answer_after=1.0, member_name="Agent 1002")
    pbx.add_agent("PJSIP/1003", answer_after=None, member_name="Agent 1003")
    pbx.add_agent("Local/1001@agents-local", answer_after=2.0, member_name="Local agent 1001")
    for interface in SCENARIOS[scenario][1]:
        reply = await ami.action(
            "QueueAdd",
            Queue="hotline-main",
            Interface=interface,
            MemberName=pbx.sim.agents[interface].member_name or interface,
            StateInterface=interface,
            Penalty="0",
            Paused="false",
        )
        assert get(reply, "Response") == "Success"
    script = CallerScript(inputs=("234567#", "1"))
    kwargs: dict[str, float] = {"talk_time": 8.0}
    if scenario == "c":
        kwargs = {"patience": 3.0}
    elif scenario == "d":
        kwargs = {"talk_time": 15.0}
    elif scenario == "i":
        script = CallerScript(inputs=("234567#", "1"), hangup_after_commands=3)
    call = await pbx.place_call("13800138000", "Site caller", script=script, **kwargs)
    result = await asyncio.wait_for(call.finished, 20)
    await ami.wait_event("Hangup", Uniqueid=result.linkedid)
    # the member's final QueueMemberStatus follows the hang-ups
    if scenario != "i":
        await ami.wait_for(
            lambda m: get(m, "Event") == "QueueMemberStatus" and get(m, "Status") == "1"
        )
    return result


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_call_events_match_the_recording(
    pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient, scenario: str
) -> None:
    result = await run_scenario(pbx, ivr, ami, scenario)
    recorded = ami_messages(SCENARIOS[scenario][0])
    want = call_shape(recorded, first_linkedid(recorded))
    got = call_shape(ami.messages, result.linkedid)
    assert ordered(got) == ordered(want)
    assert unordered(got) == unordered(want)


def events(msgs: list[Msg], name: str) -> list[Msg]:
    return [m for m in msgs if get(m, "Event") == name]


async def test_answered_call_values(pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient) -> None:
    result = await run_scenario(pbx, ivr, ami, "b")
    assert result.outcome == "answered"
    assert result.agent_interface == "PJSIP/1001"
    assert result.hangup_by == "caller"
    assert result.variables["HOTLINE_SITE"] == "234567"
    assert result.variables["HOTLINE_LEVEL"] == "1"
    assert result.variables["QUEUE_PRIO"] == "10"
    msgs = ami.events_for(result.linkedid)
    newchannels = events(msgs, "Newchannel")
    assert re.fullmatch(r"PJSIP/trunk-[0-9a-f]{8}", get(newchannels[0], "Channel") or "")
    assert re.fullmatch(r"PJSIP/1001-[0-9a-f]{8}", get(newchannels[1], "Channel") or "")
    assert re.fullmatch(r"\d{10}\.\d+", result.linkedid)
    # every channel of the call shares the caller's Linkedid; the agent leg has its own id
    assert {get(m, "Linkedid") for m in newchannels} == {result.linkedid}
    assert get(newchannels[1], "Uniqueid") != result.linkedid
    join = events(msgs, "QueueCallerJoin")[0]
    assert (get(join, "Queue"), get(join, "Position"), get(join, "Count")) == (
        "hotline-main",
        "1",
        "1",
    )
    connect = events(msgs, "AgentConnect")[0]
    assert get(connect, "Interface") == "PJSIP/1001"
    assert get(connect, "MemberName") == "Agent 1001"
    assert get(connect, "RingTime") == "1"
    complete = events(msgs, "AgentComplete")[0]
    assert get(complete, "Reason") == "caller"
    assert get(complete, "TalkTime") == "8"
    names = [get(m, "Event") for m in msgs]
    assert names.index("QueueCallerLeave") < names.index("AgentConnect")
    hangups = events(msgs, "Hangup")
    assert [get(m, "Cause") for m in hangups] == ["16", "16"]
    assert pbx.channels() == []


async def test_ring_no_answer_reports_milliseconds_then_next_member(
    pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient
) -> None:
    result = await run_scenario(pbx, ivr, ami, "d")
    msgs = ami.events_for(result.linkedid)
    rna = events(msgs, "AgentRingNoAnswer")
    assert [(get(m, "Interface"), get(m, "RingTime")) for m in rna] == [("PJSIP/1003", "8000")]
    assert [get(m, "DialStatus") for m in events(msgs, "DialEnd")] == [
        "NOANSWER",
        "CANCEL",
        "ANSWER",
    ]
    assert result.agent_interface == "PJSIP/1002"
    connect = events(msgs, "AgentConnect")[0]
    assert int(get(connect, "HoldTime") or 0) >= 10  # 8 s ringing + 2 s retry


async def test_abandon_while_ringing(pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient) -> None:
    result = await run_scenario(pbx, ivr, ami, "c")
    assert result.outcome == "abandoned"
    msgs = ami.events_for(result.linkedid)
    abandon = events(msgs, "QueueCallerAbandon")[0]
    assert get(abandon, "OriginalPosition") == "1"
    assert not events(msgs, "AgentRingNoAnswer")
    names = [get(m, "Event") for m in msgs]
    assert names.index("QueueCallerAbandon") < names.index("QueueCallerLeave")
    assert pbx.queue_entries("hotline-main") == []


async def test_local_member_gets_channel_less_agent_complete(
    pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient
) -> None:
    result = await run_scenario(pbx, ivr, ami, "h")
    complete = events(ami.messages, "AgentComplete")[-1]
    assert get(complete, "Channel") is None
    assert get(complete, "Interface") == "Local/1001@agents-local"
    names = [get(m, "Event") for m in ami.messages]
    assert names.index("AgentComplete") > names.index("Hangup")
    assert result.agent_interface == "Local/1001@agents-local"


async def test_hangup_during_ivr(pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient) -> None:
    result = await run_scenario(pbx, ivr, ami, "i")
    assert result.outcome == "ivr_hangup"
    assert result.queued_at is None
    assert ivr.replies[0][2] == "200 result=-1"
    msgs = ami.events_for(result.linkedid)
    assert not events(msgs, "QueueCallerJoin")
    agistatus = [
        get(m, "Value") for m in events(msgs, "VarSet") if get(m, "Variable") == "AGISTATUS"
    ]
    assert agistatus == ["HANGUP"]
