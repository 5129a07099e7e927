"""The stand-in runs asterisk-conf/extensions.conf step for step: every Newexten it reports
for a hotline call names the application that the shipped dialplan has at that context and
priority, whichever way the call goes (preferred engineer answers, does not answer, queue,
survey). The AMI events of the preferred-engineer Dial() are app_dial's.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pbx.agi_client import CallerScript
from pbx.dialplan import application, parse_dialplan
from pbx.simulation import CallResult
from pbx.standin import PbxStandIn

from .conftest import AmiTestClient, Msg, ScriptedIvr, get

CONF = Path(__file__).resolve().parents[3] / "asterisk-conf" / "extensions.conf"
DIALPLAN, _ = parse_dialplan(CONF.read_text(encoding="utf-8"))


def steps_run(messages: list[Msg], uniqueid: str) -> list[tuple[str, str, int, str]]:
    return [
        (
            get(m, "Context") or "",
            get(m, "Exten") or "",
            int(get(m, "Priority") or 0),
            get(m, "Application") or "",
        )
        for m in messages
        if get(m, "Event") == "Newexten" and get(m, "Uniqueid") == uniqueid
    ]


def conf_application(context: str, exten: str, priority: int) -> str:
    extens = DIALPLAN[context]
    # The stand-in dials 4000: [hotline-in] matches it with `_X.`.
    steps = extens.get(exten) or extens["_X." if exten.isdigit() else exten]
    return next(application(app) for p, _label, app in steps if p == priority)


async def call_through(
    pbx: PbxStandIn, ami: AmiTestClient, *, talk_time: float = 4.0
) -> CallResult:
    call = await pbx.place_call(
        "13800138000",
        "Site caller",
        script=CallerScript(
            ("234567#", "1"),
        ),
        talk_time=talk_time,
    )
    result = await asyncio.wait_for(call.finished, 20)
    await ami.wait_event("Hangup", Uniqueid=result.linkedid)
    return result


def assert_follows_the_conf(ami: AmiTestClient, result: CallResult) -> list[tuple[str, int, str]]:
    ran = steps_run(ami.messages, result.linkedid)
    assert ran
    for context, exten, priority, app in ran:
        assert conf_application(context, exten, priority) == app, (context, priority, app)
    return [(c, p, a) for c, _e, p, a in ran]


def dial_events(ami: AmiTestClient, linkedid: str) -> list[tuple[str, str]]:
    return [
        (get(m, "Event") or "", get(m, "DialStatus") or "")
        for m in ami.messages
        if get(m, "Event") in ("DialBegin", "DialState", "DialEnd")
        and get(m, "Uniqueid") == linkedid
    ]


async def add_member(ami: AmiTestClient, interface: str) -> None:
    reply = await ami.action(
        "QueueAdd", Queue="hotline-main", Interface=interface, MemberName=interface, Penalty="0"
    )
    assert get(reply, "Response") == "Success"


async def test_queue_call_and_survey(pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient) -> None:
    pbx.add_agent("PJSIP/1001", answer_after=1.0, talk_time=2.0)  # the agent hangs up first
    await add_member(ami, "PJSIP/1001")
    result = await call_through(pbx, ami)
    ran = assert_follows_the_conf(ami, result)
    apps = [a for _c, _p, a in ran]
    # no preference; the recording starts before the queue
    assert apps[apps.index("Set", 6) :][:4] == ["Set", "MixMonitor", "GotoIf", "Queue"]
    assert ("hotline-survey", 2, "AGI") in ran  # Queue option c, then the GotoIf
    assert result.variables["QUEUESTATUS"] == "CONTINUE"
    assert result.survey is not None


async def test_preferred_engineer_answers(
    pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient
) -> None:
    ivr.plan.preferred = "PJSIP/1002"
    pbx.add_agent("PJSIP/1001", answer_after=1.0)
    pbx.add_agent("PJSIP/1002", answer_after=2.0, talk_time=3.0)
    await add_member(ami, "PJSIP/1001")
    await add_member(ami, "PJSIP/1002")
    result = await call_through(pbx, ami)
    ran = assert_follows_the_conf(ami, result)
    assert [a for c, _p, a in ran if c == "hotline-in"][-2:] == ["Dial", "GotoIf"]
    assert ("hotline-survey", 2, "AGI") in ran  # Dial option g, then the GotoIf
    assert not any(a == "Queue" for _c, _p, a in ran)
    assert result.outcome == "answered" and result.agent_interface == "PJSIP/1002"
    assert result.queue is None and result.variables["DIALSTATUS"] == "ANSWER"
    assert dial_events(ami, result.linkedid) == [
        ("DialBegin", ""),
        ("DialState", "RINGING"),
        ("DialEnd", "ANSWER"),
    ]
    # No queue ever offered the call: no Agent* events for it.
    assert not [
        m
        for m in ami.messages
        if (get(m, "Event") or "").startswith("Agent") and get(m, "Linkedid") == result.linkedid
    ]
    # The engineer was busy while talking: the member status said so.
    statuses = [
        get(m, "Status")
        for m in ami.messages
        if get(m, "Event") == "QueueMemberStatus" and get(m, "Interface") == "PJSIP/1002"
    ]
    assert "6" in statuses and "2" in statuses  # ringing, in use


@pytest.mark.parametrize(
    ("engineer", "status"),
    [("silent", "NOANSWER"), ("busy", "BUSY"), ("unknown", "CHANUNAVAIL")],
)
async def test_preferred_engineer_not_answering_leads_to_the_queue(
    pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient, engineer: str, status: str
) -> None:
    ivr.plan.preferred = "PJSIP/1002" if engineer != "unknown" else "PJSIP/1999"
    ivr.plan.preferred_timeout = "3"
    pbx.add_agent("PJSIP/1001", answer_after=1.0)
    pbx.add_agent("PJSIP/1002", answer_after=None)
    await add_member(ami, "PJSIP/1001")
    if engineer == "busy":
        pbx.sim.agents["PJSIP/1002"].in_call = True
    result = await call_through(pbx, ami)
    ran = assert_follows_the_conf(ami, result)
    apps = [a for c, _p, a in ran if c == "hotline-in"]
    # the caller hangs up talking to the agent: Queue() is the last step run
    assert apps[apps.index("Dial") :] == ["Dial", "GotoIf", "Queue"]
    assert apps[apps.index("MixMonitor") + 1 :][:2] == ["GotoIf", "Dial"]
    assert result.variables["DIALSTATUS"] == status
    assert result.outcome == "answered" and result.agent_interface == "PJSIP/1001"
    assert result.queue == "hotline-main"
    legs = [e for e in dial_events(ami, result.linkedid) if e[1] != "RINGING"]
    if engineer == "unknown":
        assert legs[:2] == [("DialBegin", ""), ("DialEnd", "ANSWER")]  # the queue leg only
    else:
        assert legs[:2] == [("DialBegin", ""), ("DialEnd", status)]


async def test_caller_hangs_up_while_the_engineer_rings(
    pbx: PbxStandIn, ivr: ScriptedIvr, ami: AmiTestClient
) -> None:
    ivr.plan.preferred = "PJSIP/1002"
    pbx.add_agent("PJSIP/1002", answer_after=None)
    call = await pbx.place_call(
        "13800138000", "Site caller", script=CallerScript(("234567#", "1")), patience=2.0
    )
    result = await asyncio.wait_for(call.finished, 20)
    await ami.wait_event("Hangup", Uniqueid=result.linkedid)
    assert result.outcome == "abandoned" and result.hangup_by == "caller"
    assert dial_events(ami, result.linkedid)[-1] == ("DialEnd", "CANCEL")
    assert pbx.sim.agents["PJSIP/1002"].ringing == 0
    ran = assert_follows_the_conf(ami, result)
    assert ran[-1][2] == "Dial"
