"""Queue behaviour of the simulation: priorities, strategies, pauses, emergency switching,
the survey after the agent hangs up, and an unreachable IVR."""

from __future__ import annotations

import asyncio

from pbx.agi_client import CallerScript
from pbx.standin import PbxStandIn

from .conftest import AmiTestClient, Msg, ScriptedIvr, get


def events(msgs: list[Msg], name: str) -> list[Msg]:
    return [m for m in msgs if get(m, "Event") == name]


async def queue_add(
    ami: AmiTestClient, interface: str, *, queue: str = "hotline-main", paused: bool = False
) -> None:
    reply = await ami.action(
        "QueueAdd",
        Queue=queue,
        Interface=interface,
        MemberName=f"Agent {interface}",
        Paused="true" if paused else "false",
    )
    assert get(reply, "Response") == "Success", reply


async def test_higher_priority_caller_is_queued_and_served_first(
    pbx: PbxStandIn, ami: AmiTestClient
) -> None:
    pbx.add_agent("PJSIP/1001", answer_after=0.5)
    low = await pbx.place_call("1001", script=CallerScript(inputs=("234567#", "3")), talk_time=1)
    await ami.wait_event("QueueCallerJoin", Linkedid=low.linkedid)
    high = await pbx.place_call("1002", script=CallerScript(inputs=("234567#", "1")), talk_time=1)
    join = await ami.wait_event("QueueCallerJoin", Linkedid=high.linkedid)
    assert (get(join, "Position"), get(join, "Count")) == ("1", "2")
    listing = await ami.list_action("QueueStatus", "QueueStatusComplete", Queue="hotline-main")
    entries = events(listing, "QueueEntry")
    assert [(get(e, "Uniqueid"), get(e, "Priority")) for e in entries] == [
        (high.linkedid, "10"),
        (low.linkedid, "6"),
    ]
    await queue_add(ami, "PJSIP/1001")
    first = await ami.wait_event("AgentConnect")
    assert get(first, "Linkedid") == high.linkedid
    results = await asyncio.wait_for(asyncio.gather(high.finished, low.finished), 20)
    assert [r.outcome for r in results] == ["answered", "answered"]
    assert results[0].answered_at is not None and results[1].answered_at is not None
    assert results[0].answered_at < results[1].answered_at


async def test_emergency_mode_ringall_pool(
    pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient
) -> None:
    ivr.plan.queue = "hotline-emergency"
    pbx.add_agent("PJSIP/1003", answer_after=None)
    pbx.add_agent("Local/13800138000@emergency-out", answer_after=1.0)
    reply = await ami.action("DBPut", Family="hotline", Key="mode", Val="emergency")
    assert get(reply, "Response") == "Success"
    assert pbx.astdb["hotline/mode"] == "emergency"
    await queue_add(ami, "PJSIP/1003", queue="hotline-emergency")
    await queue_add(ami, "Local/13800138000@emergency-out", queue="hotline-emergency")
    call = await pbx.place_call("13800138000", "Site caller", talk_time=1)
    result = await asyncio.wait_for(call.finished, 20)
    msgs = ami.events_for(result.linkedid)
    set_queue = [
        get(m, "AppData")
        for m in events(msgs, "Newexten")
        if (get(m, "AppData") or "").startswith("HOTLINE_QUEUE=")
    ]
    assert set_queue == ["HOTLINE_QUEUE=hotline-emergency"]
    called = {get(m, "Interface") for m in events(msgs, "AgentCalled")}
    assert called == {"PJSIP/1003", "Local/13800138000@emergency-out"}  # ringall
    assert result.queue == "hotline-emergency"
    assert result.agent_interface == "Local/13800138000@emergency-out"
    cancelled = [
        get(m, "DestChannel") for m in events(msgs, "DialEnd") if get(m, "DialStatus") == "CANCEL"
    ]
    assert cancelled and all((c or "").startswith("PJSIP/1003-") for c in cancelled)


async def test_paused_member_is_not_rung_until_unpaused(
    pbx: PbxStandIn, ami: AmiTestClient
) -> None:
    pbx.add_agent("PJSIP/1001", answer_after=0.5)
    await queue_add(ami, "PJSIP/1001", paused=True)
    call = await pbx.place_call("1001", talk_time=1)
    await ami.wait_event("QueueCallerJoin", Linkedid=call.linkedid)
    await asyncio.sleep(0.2)  # 8 simulated seconds: nobody may ring
    assert not events(ami.messages, "AgentCalled")
    reply = await ami.action("QueuePause", Interface="PJSIP/1001", Paused="false")
    assert get(reply, "Message") == "Interface unpaused successfully"
    result = await asyncio.wait_for(call.finished, 20)
    assert result.outcome == "answered"


async def test_redirect_moves_a_waiting_caller_to_the_emergency_queue(
    pbx: PbxStandIn, ami: AmiTestClient
) -> None:
    pbx.add_agent("PJSIP/1003", answer_after=1.0)
    await queue_add(ami, "PJSIP/1003", queue="hotline-emergency")
    call = await pbx.place_call("13800138000", "Müller", talk_time=1)
    join = await ami.wait_event("QueueCallerJoin", Linkedid=call.linkedid)
    caller = get(join, "Channel") or ""
    reply = await ami.action(
        "Setvar", Channel=caller, Variable="HOTLINE_QUEUE", Value="hotline-emergency"
    )
    assert get(reply, "Response") == "Success"
    reply = await ami.action(
        "Redirect", Channel=caller, Context="hotline-requeue", Exten="s", Priority="1"
    )
    assert get(reply, "Message") == "Redirect successful"
    result = await asyncio.wait_for(call.finished, 20)
    msgs = ami.events_for(call.linkedid)
    moves = [
        (get(m, "Event"), get(m, "Queue"))
        for m in msgs
        if get(m, "Event") in ("QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon")
    ]
    assert moves == [
        ("QueueCallerJoin", "hotline-main"),
        ("QueueCallerLeave", "hotline-main"),
        ("QueueCallerJoin", "hotline-emergency"),
        ("QueueCallerLeave", "hotline-emergency"),
    ]
    assert {get(m, "Channel") for m in events(msgs, "QueueCallerJoin")} == {caller}
    assert result.outcome == "answered" and result.queue == "hotline-emergency"
    assert get(events(msgs, "Newchannel")[0], "CallerIDName") == "Müller"


async def test_agent_hangs_up_first_and_the_caller_takes_the_survey(
    pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient
) -> None:
    pbx.add_agent("PJSIP/1001", answer_after=0.5, talk_time=2.0)
    await queue_add(ami, "PJSIP/1001")
    call = await pbx.place_call(
        "13800138000",
        "张伟",
        script=CallerScript(inputs=("234567#", "2")),
        survey=CallerScript(inputs=("4",)),
        talk_time=30,
    )
    result = await asyncio.wait_for(call.finished, 20)
    assert result.outcome == "answered"
    assert result.hangup_by == "agent"
    assert result.survey is not None
    assert result.variables["HOTLINE_SURVEY_SCORE"] == "4"
    msgs = ami.events_for(result.linkedid)
    assert get(events(msgs, "AgentComplete")[0], "Reason") == "agent"
    assert [get(m, "AppData") for m in events(msgs, "Newexten") if get(m, "Application") == "AGI"][
        -1
    ].endswith("/survey")
    assert [e["agi_network_script"] for e in ivr.envs] == ["ivr", "survey"]
    assert ivr.envs[0]["agi_calleridname"] == "张伟"
    assert ivr.envs[0]["agi_uniqueid"] == result.linkedid


async def test_unreachable_ivr_queues_the_caller_unidentified(
    pbx: PbxStandIn, ami: AmiTestClient
) -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    dead_port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    pbx.set_agi_target("127.0.0.1", dead_port)
    pbx.add_agent("PJSIP/1001", answer_after=0.5)
    await queue_add(ami, "PJSIP/1001")
    call = await pbx.place_call("13800138000", talk_time=1)
    result = await asyncio.wait_for(call.finished, 20)
    assert result.outcome == "answered"
    assert result.variables["AGISTATUS"] == "FAILURE"
    assert result.variables["QUEUE_PRIO"] == "1"
    assert "HOTLINE_SITE" not in result.variables


async def test_ami_hangup_of_a_waiting_caller_is_an_abandon(
    pbx: PbxStandIn, ami: AmiTestClient
) -> None:
    call = await pbx.place_call("13800138000", talk_time=1)
    join = await ami.wait_event("QueueCallerJoin", Linkedid=call.linkedid)
    reply = await ami.action("Hangup", Channel=get(join, "Channel") or "", Cause="16")
    assert get(reply, "Message") == "Channel Hungup"
    result = await asyncio.wait_for(call.finished, 20)
    assert result.outcome == "abandoned"
    assert pbx.channels() == []
    listing = await ami.list_action("QueueStatus", "QueueStatusComplete", Queue="hotline-main")
    params = events(listing, "QueueParams")[0]
    assert (get(params, "Calls"), get(params, "Abandoned")) == ("0", "1")


async def test_originate_to_an_agent_phone(pbx: PbxStandIn, ami: AmiTestClient) -> None:
    pbx.add_agent("PJSIP/1001", answer_after=0.5)
    reply = await ami.action(
        "Originate",
        Channel="PJSIP/1001",
        Application="Wait",
        Data="2",
        Async="true",
        CallerID='"Callback" <4000>',
    )
    assert get(reply, "Message") == "Originate successfully queued"
    aid = get(reply, "ActionID")
    response = await ami.wait_event("OriginateResponse", ActionID=aid or "")
    assert get(response, "Response") == "Success" and get(response, "Reason") == "4"
    assert pbx.sim.agents["PJSIP/1001"].in_call
    await ami.wait_event("Hangup", Uniqueid=get(response, "Uniqueid") or "")
    assert not pbx.sim.agents["PJSIP/1001"].in_call
    reply = await ami.action("Originate", Channel="PJSIP/9999", Exten="s", Context="x")
    assert get(reply, "Message") == "Originate failed"


async def test_redirect_of_a_bridged_caller_is_a_transfer(
    pbx: PbxStandIn, ami: AmiTestClient
) -> None:
    pbx.add_agent("PJSIP/1001", answer_after=0.5)
    await queue_add(ami, "PJSIP/1001")
    reply = await ami.action("QueueAdd", Queue="hotline-emergency", Interface="PJSIP/1002")
    assert get(reply, "Response") == "Success"
    pbx.add_agent("PJSIP/1002", answer_after=0.5)
    call = await pbx.place_call("13800138000", talk_time=30)
    connect = await ami.wait_event("AgentConnect", Linkedid=call.linkedid)
    caller = get(connect, "Channel") or ""
    await ami.action("Setvar", Channel=caller, Variable="HOTLINE_QUEUE", Value="hotline-emergency")
    await ami.action("Redirect", Channel=caller, Context="hotline-requeue", Exten="s", Priority="1")
    complete = await ami.wait_event("AgentComplete", Linkedid=call.linkedid)
    assert get(complete, "Reason") == "transfer"
    second = await ami.wait_event("AgentConnect", Linkedid=call.linkedid, Interface="PJSIP/1002")
    assert get(second, "Queue") == "hotline-emergency"
    result = await asyncio.wait_for(call.finished, 20)
    assert result.agent_interface == "PJSIP/1002"


async def test_member_without_a_phone_is_unavailable_and_never_rung(
    pbx: PbxStandIn, ami: AmiTestClient
) -> None:
    await queue_add(ami, "PJSIP/1009")
    added = await ami.wait_event("QueueMemberAdded", Interface="PJSIP/1009")
    assert get(added, "Status") == "5"
    call = await pbx.place_call("13800138000", patience=20, talk_time=1)
    result = await asyncio.wait_for(call.finished, 20)
    assert result.outcome == "abandoned"
    assert not events(ami.messages, "AgentCalled")


async def test_queue_timeout_leaves_the_queue_without_an_agent(ivr: ScriptedIvr) -> None:
    fast = PbxStandIn(agi_port=ivr.port, speed=1000.0, prompt_seconds=0.0)
    await fast.start()
    client = await AmiTestClient.connect(fast.ami_port)
    try:
        call = await fast.place_call("13800138000", patience=10_000)
        result = await asyncio.wait_for(call.finished, 20)
        assert result.outcome == "no_agent"
        assert result.variables["QUEUESTATUS"] == "TIMEOUT"
        await client.wait_event("Hangup", Uniqueid=result.linkedid)
        msgs = client.events_for(result.linkedid)
        assert not events(msgs, "QueueCallerAbandon")
        assert [get(m, "Event") for m in msgs].count("QueueCallerLeave") == 1
        assert get(events(msgs, "Hangup")[-1], "Cause") == "16"
    finally:
        await client.close()
        await fast.stop()


async def test_ami_hangup_during_the_ivr_ends_the_call(
    pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient
) -> None:
    pbx.sim.prompt_seconds = 100.0  # long prompts: the IVR is still talking when we hang up
    call = await pbx.place_call("13800138000", script=CallerScript(("234567#", "1")))
    start = await ami.wait_event("AGIExecStart", Linkedid=call.linkedid)
    reply = await ami.action("Hangup", Channel=get(start, "Channel") or "")
    assert get(reply, "Response") == "Success"
    result = await asyncio.wait_for(call.finished, 10)
    assert result.outcome == "ivr_hangup"
    assert result.queued_at is None
    await ami.wait_event("Hangup", Uniqueid=result.linkedid)
    statuses = [
        get(m, "Value")
        for m in events(ami.events_for(result.linkedid), "VarSet")
        if get(m, "Variable") == "AGISTATUS"
    ]
    assert statuses == ["HANGUP"]
    assert pbx.channels() == []


async def test_drill_originate_to_an_emergency_pool_member(
    pbx: PbxStandIn, ami: AmiTestClient
) -> None:
    """asterisk-conf's [hotline-drill]: Answer, UserEvent(HotlineDrill), Wait(1), Hangup."""
    pbx.add_agent("Local/13800138000@emergency-out", answer_after=2.0)
    pbx.add_agent("Local/13900139000@emergency-out", answer_after=None)
    reply = await ami.action(
        "Originate",
        Channel="Local/13800138000@emergency-out",
        Context="hotline-drill",
        Exten="s",
        Priority="1",
        Timeout="30000",
        Async="true",
    )
    response = await ami.wait_event("OriginateResponse", ActionID=get(reply, "ActionID") or "")
    assert get(response, "Response") == "Success"
    channel = get(response, "Channel") or ""
    assert channel.startswith("Local/13800138000@emergency-out-") and channel.endswith(";1")
    drill = await ami.wait_event("UserEvent", UserEvent="HotlineDrill")
    assert get(drill, "Status") == "answered"
    await ami.wait_event("Hangup", Channel=channel)
    assert pbx.channels() == []
    reply = await ami.action(
        "Originate",
        Channel="Local/13900139000@emergency-out",
        Context="hotline-drill",
        Exten="s",
        Timeout="5000",
        Async="true",
    )
    response = await ami.wait_event("OriginateResponse", ActionID=get(reply, "ActionID") or "")
    assert (get(response, "Response"), get(response, "Reason")) == ("Failure", "3")


async def test_two_free_agents_serve_two_waiting_callers_at_once(ivr: ScriptedIvr) -> None:
    """autofill: the second caller rings the second agent while the first caller's agent is
    still ringing (callers already ringing someone do not hold the others back)."""
    # Slow enough (6 s ringing = 1.2 s real) that the client's round trips can't race it.
    pbx = PbxStandIn(agi_port=ivr.port, speed=5.0, prompt_seconds=0.0)
    pbx.add_agent("PJSIP/1001", answer_after=6.0)
    pbx.add_agent("PJSIP/1002", answer_after=6.0)
    await pbx.start()
    ami = await AmiTestClient.connect(pbx.ami_port)
    try:
        first = await pbx.place_call("1001", talk_time=1)
        await ami.wait_event("QueueCallerJoin", Linkedid=first.linkedid)
        second = await pbx.place_call("1002", talk_time=1)
        await ami.wait_event("QueueCallerJoin", Linkedid=second.linkedid)
        await queue_add(ami, "PJSIP/1001")
        await queue_add(ami, "PJSIP/1002")
        called = [await ami.wait_event("AgentCalled", Linkedid=c.linkedid) for c in (first, second)]
        assert {get(m, "Interface") for m in called} == {"PJSIP/1001", "PJSIP/1002"}
        await asyncio.wait_for(asyncio.gather(first.finished, second.finished), 20)
        order = [get(m, "Event") for m in ami.messages]
        last_called = max(i for i, name in enumerate(order) if name == "AgentCalled")
        assert last_called < order.index("AgentConnect")  # both rang before either answered
    finally:
        await ami.close()
        await pbx.stop()


async def test_a_member_freeing_up_wakes_only_the_caller_whose_turn_it_is(
    ivr: ScriptedIvr,
) -> None:
    """Like app_queue, where a waiting caller only rings when `is_our_turn`: with five
    callers waiting and one member added, only the first caller looks at the queue (the
    others would find it is not their turn and wait again), and the first is served."""
    pbx = PbxStandIn(agi_port=ivr.port, speed=5.0, prompt_seconds=0.0)
    pbx.add_agent("PJSIP/1001", answer_after=1.0)
    await pbx.start()
    ami = await AmiTestClient.connect(pbx.ami_port)
    try:
        calls = []
        for number in ("1001", "1002", "1003", "1004", "1005"):
            call = await pbx.place_call(number, talk_time=1)
            await ami.wait_event("QueueCallerJoin", Linkedid=call.linkedid)
            calls.append(call)
        woken: list[str] = []
        for entry in pbx.sim.queues["hotline-main"].entries:
            wake = entry.channel.wake

            def counted(wake: asyncio.Event = wake, linkedid: str = entry.channel.linkedid) -> None:
                woken.append(linkedid)
                asyncio.Event.set(wake)

            wake.set = counted  # type: ignore[method-assign]
        await queue_add(ami, "PJSIP/1001")
        called = await ami.wait_event("AgentCalled")
        assert get(called, "Linkedid") == calls[0].linkedid
        assert set(woken) == {calls[0].linkedid}
        assert (await asyncio.wait_for(calls[0].finished, 20)).outcome == "answered"
    finally:
        await ami.close()
        await pbx.stop()
