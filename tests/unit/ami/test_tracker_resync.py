"""Reading CoreShowChannels after a reconnect (`ami.resync`) and the tracker applying it.

The PBX replays nothing after a reconnect: the list of live channels is all there is.
Rows are built as `ResyncChannel`s (what the client reads from each CoreShowChannel).
"""

from __future__ import annotations

from datetime import UTC, datetime

from ami.protocol import AmiMessage
from ami.resync import LiveCall, ResyncChannel, live_calls, queue_of
from ami.tracker import CallTracker
from calls import (
    CallAnswered,
    CallEnded,
    CallQueued,
    CallStarted,
    CallState,
    DomainCallEvent,
)

CALL_ID = "1795400000.1"
CALLER = "PJSIP/trunk-00000001"
AGENT_UID = "1795400000.2"
AGENT = "PJSIP/1001-00000002"
AT = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def row(
    channel: str,
    uniqueid: str,
    linkedid: str = CALL_ID,
    *,
    context: str = "hotline-in",
    application: str = "",
    data: str = "",
    bridge: str = "",
) -> ResyncChannel:
    return ResyncChannel(
        channel, uniqueid, linkedid, "13800138000", "", context, application, data, bridge
    )


def test_live_calls_group_channels_by_call_in_the_order_listed() -> None:
    rows = [
        row(AGENT, AGENT_UID),
        row("PJSIP/9-1", "9.1", "9.1"),
        row("Local/x;1", "7.7", ""),  # no Linkedid: belongs to no call
        row(CALLER, CALL_ID),
    ]
    calls = live_calls(rows)
    assert list(calls) == [CALL_ID, "9.1"]
    assert calls[CALL_ID].channels == (rows[0], rows[3])


def test_a_live_call_reads_its_caller_channel_and_the_channel_bridged_with_it() -> None:
    root = row(CALLER, CALL_ID, application="Queue", data="hotline-main,,,,", bridge="b2")
    other_bridge = row("PJSIP/1009-9", "1.9", application="AppQueue", bridge="b1")
    agent = row(AGENT, AGENT_UID, application="AppQueue", bridge="b2")
    call = LiveCall(CALL_ID, (other_bridge, root, agent))
    assert call.root == root
    assert call.bridged_with(root, "AppQueue") == agent
    assert call.bridged_with(root, "AppDial") is None
    assert LiveCall(CALL_ID, (agent,)).root is None
    assert queue_of(root) == "hotline-main"
    assert queue_of(row(CALLER, CALL_ID, application="Queue")) is None


class Run:
    def __init__(self) -> None:
        self.tracker = CallTracker(clock=lambda: AT)
        self.events: list[DomainCallEvent] = []
        self.tracker.subscribe(self.events.append)

    def feed(self, event: str, channel: str, uniqueid: str, context: str = "hotline-in") -> None:
        headers = {
            "Event": event,
            "Channel": channel,
            "CallerIDNum": "13800138000",
            "Context": context,
            "Uniqueid": uniqueid,
            "Linkedid": CALL_ID,
        }
        self.tracker.handle_message(AmiMessage.from_mapping(headers))

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def test_a_hotline_call_never_seen_is_adopted_and_its_answer_caught_up() -> None:
    run = Run()
    adopted = run.tracker.resync(
        [
            row(CALLER, CALL_ID, application="Queue", data="hotline-main,,", bridge="b2"),
            row("PJSIP/1009-9", "1.9", application="AppQueue", bridge="b1"),
            row(AGENT, AGENT_UID, context="agents", application="AppQueue", bridge="b2"),
        ]
    )
    assert [c.call_id for c in adopted] == [CALL_ID]
    [started] = run.of(CallStarted)
    [answered] = run.of(CallAnswered)
    assert started.call.resynced and answered.call.resynced
    assert answered.interface == "PJSIP/1001" and answered.call.queue == "hotline-main"


def test_calls_of_other_contexts_are_not_adopted() -> None:
    run = Run()
    assert run.tracker.resync([row(CALLER, CALL_ID, context="agents")]) == []
    assert run.events == [] and not run.tracker.calls


def test_an_ended_call_still_listed_is_not_adopted_again() -> None:
    run = Run()
    run.feed("Newchannel", CALLER, CALL_ID)
    run.feed("Hangup", CALLER, CALL_ID)
    assert len(run.of(CallEnded)) == 1
    assert run.tracker.resync([row(CALLER, CALL_ID, application="Queue")]) == []
    assert len(run.of(CallStarted)) == 1 and not run.tracker.calls


def test_a_call_that_reached_the_queue_meanwhile_is_caught_up_as_queued() -> None:
    run = Run()
    run.feed("Newchannel", CALLER, CALL_ID)
    run.tracker.resync([row(CALLER, CALL_ID, application="Queue", data="hotline-main,,")])
    [queued] = run.of(CallQueued)
    assert queued.call.resynced and queued.call.queue == "hotline-main"
    assert queued.call.state is CallState.QUEUED and queued.position == 0


def test_channels_missing_from_the_list_are_forgotten() -> None:
    run = Run()
    run.feed("Newchannel", CALLER, CALL_ID)
    run.feed("Newchannel", AGENT, AGENT_UID, context="agents")
    run.tracker.resync([row(CALLER, CALL_ID)])  # the agent leg hung up meanwhile
    run.feed("Hangup", CALLER, CALL_ID)
    [end] = run.of(CallEnded)
    assert end.call_id == CALL_ID and not run.tracker.calls


def test_a_call_that_started_while_the_list_was_asked_for_stays_live() -> None:
    # The list was taken before the caller's channel existed; its Newchannel came in
    # before the list's end. The call is live by its own events, not vanished.
    run = Run()
    run.feed("Newchannel", CALLER, CALL_ID)
    assert run.tracker.resync([], known_when_asked=set()) == []
    assert run.of(CallEnded) == []
    assert run.tracker.calls[CALL_ID].state is CallState.IN_IVR
    # A call that was known when the list was asked for, and is not in it, did end.
    run.tracker.resync([], known_when_asked={CALL_ID})
    assert [e.call.outcome for e in run.of(CallEnded)] == ["ivr_hangup"]
