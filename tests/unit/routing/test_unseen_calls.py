"""Calls rebuilt from the PBX's CDR rows (routing.domain.unseen_calls)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from calls import CallOutcome
from routing.domain.unseen_calls import CdrEntry, caller_name_of, rebuild_call, unseen_calls

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
CALL = "1795304030.13"
CALLER = "PJSIP/trunk-00000009"


def row(**kw: object) -> CdrEntry:
    values: dict[str, object] = dict(
        linkedid=CALL,
        uniqueid=CALL,
        calldate=T0,
        clid='"Sun Mei" <13722223333>',
        src="13722223333",
        dcontext="hotline-in",
        channel=CALLER,
        dstchannel="",
        lastapp="Queue",
        lastdata="hotline-main,c,,,300",
        duration=40,
        billsec=40,
        disposition="ANSWERED",
    )
    values.update(kw)
    return CdrEntry(**values)  # type: ignore[arg-type]


def test_answered_by_a_queue_agent_then_the_survey() -> None:
    bridged = row(dstchannel="PJSIP/1001-0000000c", duration=100, billsec=70)
    survey = row(
        calldate=T0 + timedelta(seconds=100),
        dcontext="hotline-survey",
        lastapp="AGI",
        lastdata="agi://127.0.0.1:4573/survey",
        duration=12,
        billsec=12,
    )
    call = rebuild_call([survey, bridged])
    assert call is not None
    assert call.outcome is CallOutcome.ANSWERED
    assert call.agent_interface == "PJSIP/1001"
    assert call.answered_at == T0 + timedelta(seconds=30)  # billsec counts from the answer
    assert call.started_at == T0 and call.ended_at == T0 + timedelta(seconds=112)
    assert call.queue == "hotline-main" and call.waited_for_agent
    assert (call.caller_number, call.caller_name) == ("13722223333", "Sun Mei")


def test_answered_by_the_preferred_engineer() -> None:
    call = rebuild_call(
        [row(lastapp="Dial", lastdata="PJSIP/1002,15,g", dstchannel="PJSIP/1002-0000000a")]
    )
    assert call is not None
    assert call.outcome is CallOutcome.ANSWERED and call.agent_interface == "PJSIP/1002"
    assert call.queue is None


def test_local_channel_member_maps_to_its_interface() -> None:
    call = rebuild_call([row(dstchannel="Local/1001@agents-local-00000002;1")])
    assert call is not None and call.agent_interface == "Local/1001@agents-local"


def test_gave_up_in_the_queue_is_a_callback() -> None:
    call = rebuild_call([row()])  # Queue, nobody bridged
    assert call is not None
    assert call.outcome is CallOutcome.ABANDONED and call.answered_at is None
    # A rung-but-unanswered agent may be party B with NO ANSWER: still not answered.
    rung = rebuild_call([row(dstchannel="PJSIP/1003-00000004", disposition="NO ANSWER")])
    assert rung is not None and rung.outcome is CallOutcome.ABANDONED


def test_hung_up_in_the_ivr() -> None:
    call = rebuild_call([row(lastapp="AGI", lastdata="agi://127.0.0.1:4573/ivr", duration=9)])
    assert call is not None
    assert call.outcome is CallOutcome.IVR_HANGUP and not call.waited_for_agent


def test_not_hotline_calls() -> None:
    drill = row(dcontext="hotline-drill", channel="Local/90000001@hotline-drill-0000;2")
    assert rebuild_call([drill]) is None
    # Only the agent's side of the call (no row of the caller channel itself).
    assert rebuild_call([row(uniqueid="1795304031.14", channel="PJSIP/1001-0000000c")]) is None


def test_known_and_recent_calls_are_left_alone() -> None:
    older = row(linkedid="1.1", uniqueid="1.1")
    known = row(linkedid="2.2", uniqueid="2.2")
    recent = row(linkedid="3.3", uniqueid="3.3", calldate=T0 + timedelta(minutes=10))
    calls = unseen_calls(
        [recent, known, older], known={"2.2"}, ended_before=T0 + timedelta(minutes=5)
    )
    assert [c.call_id for c in calls] == ["1.1"]


def test_caller_names() -> None:
    assert caller_name_of('"Wang Li" <01012345678>') == "Wang Li"
    assert caller_name_of("01012345678") == ""
    assert caller_name_of('"" <01012345678>') == ""
