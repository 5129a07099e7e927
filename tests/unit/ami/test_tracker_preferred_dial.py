"""The call tracker on the preferred-engineer Dial() that runs before Queue().

app_dial raises no Agent* events; it reports its legs with DialBegin / DialState /
DialEnd whose ``Channel`` is the caller (DialStatus ANSWER, NOANSWER, BUSY, CHANUNAVAIL,
CANCEL). The frames below carry the headers app_dial's events carry (caller channel
snapshot + ``Dest`` snapshot), as wire bytes through the real parser.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ami.events import typed_event
from ami.protocol import AmiFrameParser
from ami.tracker import CallTracker, ResyncChannel
from calls import (
    AgentNoAnswer,
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallOutcome,
    CallQueued,
    CallState,
    DomainCallEvent,
)

CALLER = "PJSIP/trunk-00000009"
CALL_ID = "1795304030.13"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def snapshot(channel: str, uniqueid: str, prefix: str = "", context: str = "hotline-in") -> str:
    fields = [
        ("Channel", channel),
        ("ChannelState", "6"),
        ("ChannelStateDesc", "Up"),
        ("CallerIDNum", "13722223333"),
        ("CallerIDName", "Sun Mei"),
        ("ConnectedLineNum", "<unknown>"),
        ("ConnectedLineName", "<unknown>"),
        ("Language", "en"),
        ("AccountCode", ""),
        ("Context", context),
        ("Exten", "4000"),
        ("Priority", "10"),
        ("Uniqueid", uniqueid),
        ("Linkedid", CALL_ID),
    ]
    return "".join(f"{prefix}{k}: {v}\r\n" for k, v in fields)


def frame(event: str, body: str, extra: str = "") -> bytes:
    return f"Event: {event}\r\nPrivilege: call,all\r\n{body}{extra}\r\n".encode()


def caller(event: str, extra: str = "") -> bytes:
    return frame(event, snapshot(CALLER, CALL_ID), extra)


def dial(event: str, engineer: str, uid: str, status: str | None = None) -> bytes:
    extra = snapshot(engineer, uid, "Dest", context="agents")
    if event == "DialBegin":
        extra += f"DialString: {engineer.split('/', 1)[1].rsplit('-', 1)[0]}\r\n"
    if status is not None:
        extra += f"DialStatus: {status}\r\n"
    return frame(event, snapshot(CALLER, CALL_ID), extra)


def hangup(channel: str, uid: str) -> bytes:
    return frame("Hangup", snapshot(channel, uid), "Cause: 16\r\nCause-txt: Normal Clearing\r\n")


def newchannel(channel: str, uid: str, context: str = "hotline-in") -> bytes:
    return frame("Newchannel", snapshot(channel, uid, context=context))


class Run:
    def __init__(self) -> None:
        self.clock = Clock()
        self.tracker = CallTracker(clock=self.clock)
        self.events: list[DomainCallEvent] = []
        self.tracker.subscribe(self.events.append)
        self.parser = AmiFrameParser()

    def feed(self, *frames: bytes, after: float = 0.0) -> None:
        self.clock.advance(after)
        for message in self.parser.feed(b"".join(frames)):
            self.tracker.handle(typed_event(message))
        assert self.parser.discarded == 0

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


ENGINEER = "PJSIP/1002-0000000a"
ENGINEER_UID = "1795304031.14"
SECOND = "PJSIP/1004-0000000b"
SECOND_UID = "1795304031.15"


def started() -> Run:
    run = Run()
    run.feed(newchannel(CALLER, CALL_ID))
    run.feed(
        caller("VarSet", "Variable: HOTLINE_SITE\r\nValue: 4404001\r\n"),
        caller("VarSet", "Variable: HOTLINE_LEVEL\r\nValue: 1\r\n"),
        after=20,
    )
    return run


def test_engineer_answers_before_the_queue() -> None:
    run = started()
    run.feed(
        newchannel(ENGINEER, ENGINEER_UID, "agents"), dial("DialBegin", ENGINEER, ENGINEER_UID)
    )
    dial_started = run.clock.now
    [ringing] = run.of(AgentRinging)
    assert ringing.interface == "PJSIP/1002" and ringing.call.queue is None
    assert ringing.call.state is CallState.AGENT_RINGING
    assert ringing.call.site_code == "4404001" and ringing.call.queued_at == dial_started

    run.feed(dial("DialState", ENGINEER, ENGINEER_UID, "RINGING"), after=1)
    run.feed(dial("DialEnd", ENGINEER, ENGINEER_UID, "ANSWER"), after=4)
    [answered] = run.of(CallAnswered)
    assert answered.interface == "PJSIP/1002" and answered.hold_seconds == 5
    assert answered.call.state is CallState.CONNECTED

    run.feed(hangup(ENGINEER, ENGINEER_UID), after=60)
    assert run.of(CallEnded) == []  # the caller goes on (Dial option g: the survey)
    run.feed(hangup(CALLER, CALL_ID), after=10)
    [end] = run.of(CallEnded)
    assert end.call.outcome is CallOutcome.ANSWERED
    assert end.call.agent_interface == "PJSIP/1002" and end.call.talk_seconds == 70
    assert run.of(CallQueued) == [] and run.of(AgentNoAnswer) == []
    assert not run.tracker.calls


def test_second_engineer_answers_and_the_first_is_cancelled() -> None:
    run = started()
    run.feed(
        newchannel(ENGINEER, ENGINEER_UID, "agents"),
        dial("DialBegin", ENGINEER, ENGINEER_UID),
        newchannel(SECOND, SECOND_UID, "agents"),
        dial("DialBegin", SECOND, SECOND_UID),
    )
    assert [e.interface for e in run.of(AgentRinging)] == ["PJSIP/1002", "PJSIP/1004"]
    run.feed(
        dial("DialEnd", SECOND, SECOND_UID, "ANSWER"),
        dial("DialEnd", ENGINEER, ENGINEER_UID, "CANCEL"),
        hangup(ENGINEER, ENGINEER_UID),
        after=3,
    )
    [answered] = run.of(CallAnswered)
    assert answered.interface == "PJSIP/1004"
    # Cancelled because the other answered: no abandon, no no-answer for the engineer.
    assert run.of(CallAbandoned) == [] and run.of(AgentNoAnswer) == []
    run.feed(hangup(CALLER, CALL_ID), hangup(SECOND, SECOND_UID), after=30)
    [end] = run.of(CallEnded)
    assert end.call.outcome is CallOutcome.ANSWERED


def test_no_answer_goes_on_to_the_queue_waiting_since_the_dial() -> None:
    run = started()
    run.feed(
        newchannel(ENGINEER, ENGINEER_UID, "agents"), dial("DialBegin", ENGINEER, ENGINEER_UID)
    )
    dial_started = run.clock.now
    run.feed(dial("DialEnd", ENGINEER, ENGINEER_UID, "NOANSWER"), after=15)
    [no_answer] = run.of(AgentNoAnswer)
    assert no_answer.interface == "PJSIP/1002" and no_answer.ring_ms == 15000
    assert run.tracker.calls[CALL_ID].state is CallState.IN_IVR
    run.feed(hangup(ENGINEER, ENGINEER_UID))

    join = "Queue: hotline-main\r\nPosition: 1\r\nCount: 1\r\n"
    run.feed(frame("QueueCallerJoin", snapshot(CALLER, CALL_ID), join), after=1)
    [queued] = run.of(CallQueued)
    assert queued.call.queue == "hotline-main" and queued.call.queued_at == dial_started

    # The queue's own leg also raises DialBegin/DialEnd on the caller channel: only
    # AgentCalled/AgentConnect count for it.
    agent, agent_uid = "PJSIP/1001-0000000c", "1795304047.16"
    member = "Queue: hotline-main\r\nInterface: PJSIP/1001\r\nMemberName: alice\r\n"
    dest = snapshot(agent, agent_uid, "Dest", context="agents-from-sip")
    run.feed(
        newchannel(agent, agent_uid, "agents-from-sip"),
        frame("AgentCalled", snapshot(CALLER, CALL_ID), dest + member),
        dial("DialBegin", agent, agent_uid),
        after=1,
    )
    run.feed(
        dial("DialEnd", agent, agent_uid, "ANSWER"),
        frame(
            "AgentConnect",
            snapshot(CALLER, CALL_ID),
            dest + member + "HoldTime: 3\r\nRingTime: 2\r\n",
        ),
        after=2,
    )
    assert [e.interface for e in run.of(AgentRinging)] == ["PJSIP/1002", "PJSIP/1001"]
    [answered] = run.of(CallAnswered)
    assert answered.interface == "PJSIP/1001" and answered.member_name == "alice"
    assert answered.hold_seconds == 3


def test_busy_and_unavailable_engineers_end_the_dial() -> None:
    run = started()
    run.feed(
        newchannel(ENGINEER, ENGINEER_UID, "agents"),
        dial("DialBegin", ENGINEER, ENGINEER_UID),
        dial("DialEnd", ENGINEER, ENGINEER_UID, "BUSY"),
    )
    assert [e.interface for e in run.of(AgentNoAnswer)] == ["PJSIP/1002"]
    assert run.tracker.calls[CALL_ID].state is CallState.IN_IVR
    assert run.of(CallAbandoned) == []


def test_caller_hangs_up_while_the_engineer_rings() -> None:
    run = started()
    run.feed(
        newchannel(ENGINEER, ENGINEER_UID, "agents"), dial("DialBegin", ENGINEER, ENGINEER_UID)
    )
    run.feed(
        dial("DialEnd", ENGINEER, ENGINEER_UID, "CANCEL"),
        hangup(ENGINEER, ENGINEER_UID),
        hangup(CALLER, CALL_ID),
        after=7,
    )
    [abandoned] = run.of(CallAbandoned)
    assert abandoned.hold_seconds == 7
    assert [e.interface for e in run.of(AgentNoAnswer)] == ["PJSIP/1002"]  # card cleared
    [end] = run.of(CallEnded)
    assert end.call.outcome is CallOutcome.ABANDONED and end.call.queued_at is not None


def test_a_call_answered_by_its_engineer_while_we_were_away_is_caught_up() -> None:
    run = started()
    live = [
        ResyncChannel(
            CALLER,
            CALL_ID,
            CALL_ID,
            "13722223333",
            "Sun Mei",
            "hotline-in",
            "Dial",
            "PJSIP/1002,15,g",
            "bridge-1",
        ),
        ResyncChannel(
            ENGINEER,
            ENGINEER_UID,
            CALL_ID,
            "13722223333",
            "Sun Mei",
            "agents",
            "AppDial",
            "(Outgoing Line)",
            "bridge-1",
        ),
    ]
    run.tracker.resync(live)
    [answered] = run.of(CallAnswered)
    assert answered.interface == "PJSIP/1002" and answered.call.resynced
    # The DialEnd that comes late (or a replay) does not answer it twice.
    run.feed(dial("DialEnd", ENGINEER, ENGINEER_UID, "ANSWER"))
    assert len(run.of(CallAnswered)) == 1


def test_dial_end_answer_without_its_begin_still_answers_the_call() -> None:
    """Reconnected while the engineer's phone rang: the DialBegin was missed."""
    run = started()
    run.feed(dial("DialEnd", ENGINEER, ENGINEER_UID, "ANSWER"), after=3)
    [answered] = run.of(CallAnswered)
    assert answered.interface == "PJSIP/1002"


def test_dials_of_other_calls_are_not_hotline_rings() -> None:
    """An agent calling a colleague (context agents) is no hotline call at all."""
    run = Run()
    agent, uid = "PJSIP/1001-00000001", "1795304100.1"
    run.feed(
        frame("Newchannel", snapshot(agent, uid, context="agents").replace(CALL_ID, uid)),
        frame(
            "DialBegin",
            snapshot(agent, uid, context="agents").replace(CALL_ID, uid),
            snapshot("PJSIP/1002-00000002", "1795304100.2", "Dest", "agents").replace(CALL_ID, uid),
        ),
    )
    assert run.events == []
