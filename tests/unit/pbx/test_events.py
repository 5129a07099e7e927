"""Event header blocks in Asterisk's order (checked against the recordings' field lists)."""

from __future__ import annotations

from pbx.domain.events import (
    ChannelSnapshot,
    ChannelState,
    DeviceStatus,
    MemberSnapshot,
    channel_event,
    list_complete,
    list_start,
    member_event,
    queue_member_item,
    response,
)

CALLER = ChannelSnapshot(
    name="PJSIP/trunk-00000000",
    state=ChannelState.UP,
    caller_num="13800138000",
    caller_name="Site caller",
    connected_num="",
    connected_name="",
    context="hotline-in",
    exten="4000",
    priority=9,
    uniqueid="1795303935.0",
    linkedid="1795303935.0",
)
MEMBER = MemberSnapshot(
    queue="hotline-main",
    name="Agent 1001",
    interface="PJSIP/1001",
    state_interface="PJSIP/1001",
    penalty=0,
    calls_taken=1,
    last_call=1795303951,
    last_pause=0,
    login_time=1795303935,
    in_call=False,
    status=DeviceStatus.NOT_INUSE,
    paused=False,
    paused_reason="",
)


def test_channel_event_matches_the_recorded_queue_caller_join() -> None:
    recorded = (
        "Event: QueueCallerJoin|Privilege: agent,all|Channel: PJSIP/trunk-00000000|"
        "ChannelState: 6|ChannelStateDesc: Up|CallerIDNum: 13800138000|"
        "CallerIDName: Site caller|ConnectedLineNum: <unknown>|ConnectedLineName: <unknown>|"
        "Language: en|AccountCode: |Context: hotline-in|Exten: 4000|Priority: 9|"
        "Uniqueid: 1795303935.0|Linkedid: 1795303935.0|Queue: hotline-main|Position: 1|Count: 1"
    )
    event = channel_event(
        "QueueCallerJoin",
        "agent,all",
        CALLER,
        ("Queue", "hotline-main"),
        ("Position", "1"),
        ("Count", "1"),
    )
    assert "|".join(f"{k}: {v}" for k, v in event) == recorded


def test_member_event_matches_the_recorded_queue_member_status() -> None:
    recorded = (
        "Event: QueueMemberStatus|Privilege: agent,all|Queue: hotline-main|"
        "MemberName: Agent 1001|Interface: PJSIP/1001|StateInterface: PJSIP/1001|"
        "Membership: dynamic|Penalty: 0|CallsTaken: 1|LastCall: 1795303951|LastPause: 0|"
        "LoginTime: 1795303935|InCall: 0|Status: 1|Paused: 0|PausedReason: |Ringinuse: 0|"
        "Wrapuptime: 0"
    )
    assert "|".join(f"{k}: {v}" for k, v in member_event("QueueMemberStatus", MEMBER)) == recorded


def test_queue_member_list_item_uses_name_location_and_ends_with_action_id() -> None:
    keys = [k for k, _ in queue_member_item(MEMBER, "a-1")]
    assert keys[:4] == ["Event", "Queue", "Name", "Location"]
    assert keys[-1] == "ActionID" and "Ringinuse" not in keys
    assert [k for k, _ in queue_member_item(MEMBER, None)][-1] == "Wrapuptime"


def test_response_and_list_framing() -> None:
    assert response("Success", "1", message="Variable Set") == [
        ("Response", "Success"),
        ("ActionID", "1"),
        ("Message", "Variable Set"),
    ]
    assert response("Success", None, ("Ping", "Pong")) == [
        ("Response", "Success"),
        ("Ping", "Pong"),
    ]
    assert list_start("9", "Result will follow") == [
        ("Response", "Success"),
        ("ActionID", "9"),
        ("EventList", "start"),
        ("Message", "Result will follow"),
    ]
    assert list_complete("StatusComplete", "9", 2, ("Items", "2")) == [
        ("Event", "StatusComplete"),
        ("ActionID", "9"),
        ("EventList", "Complete"),
        ("ListItems", "2"),
        ("Items", "2"),
    ]
