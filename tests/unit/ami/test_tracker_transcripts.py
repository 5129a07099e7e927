"""Replay every real Asterisk transcript through the parser and the call tracker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ami.events import EVENT_TYPES, UnknownEvent, field_names, typed_event
from ami.protocol import AmiFrameParser
from ami.tracker import CallTracker, ResyncChannel
from calls import (
    AgentNoAnswer,
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallIdentified,
    CallOutcome,
    CallQueued,
    CallStarted,
    DomainCallEvent,
)
from calls.channels import interface_of
from testkit.transcripts import connections, read_transcript, received_stream, transcripts_dir

TRANSCRIPTS = transcripts_dir()


def transcript(name: str) -> Path:
    path = TRANSCRIPTS / name
    if not path.exists():
        pytest.fail(f"transcript {path} missing: see testkit.transcripts.transcripts_dir")
    return path


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=10)
        return self.now


def replay(name: str, chunk: int = 0) -> tuple[CallTracker, list[DomainCallEvent]]:
    """Feed every AMI connection of a transcript, in order, through one tracker.

    `chunk` > 0 splits the byte stream in reads of that size (TCP segmentation).
    """
    records = read_transcript(transcript(name))
    tracker = CallTracker(clock=FakeClock())
    seen: list[DomainCallEvent] = []
    tracker.subscribe(seen.append)
    for conn in connections(records):
        stream = received_stream(records, conn)
        parser = AmiFrameParser()
        pieces = (
            [stream]
            if chunk <= 0
            else [stream[i : i + chunk] for i in range(0, len(stream), chunk)]
        )
        resync: list[ResyncChannel] = []
        for piece in pieces:
            for message in parser.feed(piece):
                if message.event == "CoreShowChannel":
                    resync.append(ResyncChannel.from_message(message))
                elif message.event == "CoreShowChannelsComplete":
                    tracker.resync(resync)  # as the client does after a reconnect
                    resync = []
                else:
                    tracker.handle(typed_event(message))
        assert parser.discarded == 0
        assert parser.pending_bytes == 0
    return tracker, seen


def kinds(events: list[DomainCallEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def ended(events: list[DomainCallEvent]) -> list[CallEnded]:
    return [e for e in events if isinstance(e, CallEnded)]


@pytest.mark.parametrize("chunk", [0, 1, 7, 1500])
def test_b_answered_call(chunk: int) -> None:
    tracker, events = replay("b-inbound-call-answered.txt", chunk)
    assert not tracker.calls
    [end] = ended(events)
    call = end.call
    assert call.call_id == "1795303935.0"
    assert call.caller_number == "13800138000"
    assert call.outcome is CallOutcome.ANSWERED
    assert call.queue == "hotline-main"
    assert call.agent_interface == "PJSIP/1001"
    assert call.site_code == "234567"
    assert call.level == 1
    assert call.talk_seconds is not None
    order = [k for k in kinds(events) if k != "CallIdentified" and k != "CallLeftQueue"]
    assert order == ["CallStarted", "CallQueued", "AgentRinging", "CallAnswered", "CallEnded"]


def test_c_abandon() -> None:
    tracker, events = replay("c-queue-abandon.txt")
    [end] = ended(events)
    assert end.call.outcome is CallOutcome.ABANDONED
    assert any(isinstance(e, CallAbandoned) for e in events)
    assert any(isinstance(e, AgentRinging) and e.interface == "PJSIP/1003" for e in events)
    assert not any(isinstance(e, CallAnswered) for e in events)


def test_d_ring_no_answer_then_answer() -> None:
    _, events = replay("d-ringnoanswer-then-answer.txt")
    no_answer = [e for e in events if isinstance(e, AgentNoAnswer)]
    assert no_answer and no_answer[0].interface == "PJSIP/1003"
    assert no_answer[0].ring_ms == 8000
    [answered] = [e for e in events if isinstance(e, CallAnswered)]
    assert answered.interface == "PJSIP/1002"
    [end] = ended(events)
    assert end.call.outcome is CallOutcome.ANSWERED


def test_g_reconnect_resync_sees_the_answer_it_missed() -> None:
    tracker, events = replay("g-ami-reconnect-midcall.txt")
    [answered] = [e for e in events if isinstance(e, CallAnswered)]
    assert answered.call.resynced
    assert answered.interface == "PJSIP/1001"
    ends = ended(events)
    assert len(ends) == 1, "exactly one complete call record"
    assert ends[0].call.outcome is CallOutcome.ANSWERED
    assert not tracker.calls


def test_h_local_channel_agent_and_channel_less_agent_complete() -> None:
    tracker, events = replay("h-local-channel-agent.txt")
    [answered] = [e for e in events if isinstance(e, CallAnswered)]
    assert answered.interface == "Local/1001@agents-local"
    [end] = ended(events)
    assert end.call.outcome is CallOutcome.ANSWERED
    # The channel-less AgentComplete came after the Hangups: its talk time still lands.
    assert tracker.ended_call(end.call_id) is not None
    assert tracker.ended_call(end.call_id).talk_seconds == 5  # type: ignore[union-attr]


def test_i_hangup_during_ivr() -> None:
    _, events = replay("i-hangup-during-ivr.txt")
    [end] = ended(events)
    assert end.call.outcome is CallOutcome.IVR_HANGUP
    assert not any(isinstance(e, CallQueued) for e in events)


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in TRANSCRIPTS.glob("*.txt")) if TRANSCRIPTS.exists() else [],
)
def test_every_transcript_parses_and_every_started_call_ends_once(name: str) -> None:
    tracker, events = replay(name, chunk=3)
    started = {e.call_id for e in events if isinstance(e, CallStarted)}
    ends = [e.call_id for e in ended(events)]
    assert sorted(ends) == sorted(set(ends)), "a call ended twice"
    assert set(ends) == started - set(tracker.calls)


def test_identification_events_carry_ivr_variables() -> None:
    _, events = replay("b-inbound-call-answered.txt")
    ident = {e.variable: e.value for e in events if isinstance(e, CallIdentified)}
    assert ident["HOTLINE_SITE"] == "234567"
    assert ident["HOTLINE_LEVEL"] == "1"
    assert ident["HOTLINE_QUEUE"] == "hotline-main"


def test_typed_event_field_maps_match_dataclass_fields() -> None:
    for cls in set(EVENT_TYPES.values()):
        mapping = getattr(cls, "_map", ())
        if mapping:
            assert [a for a, _, _ in mapping] == field_names(cls)[1:], cls.__name__


def test_unknown_events_pass_through_untouched() -> None:
    records = read_transcript(transcript("b-inbound-call-answered.txt"))
    parser = AmiFrameParser()
    messages = parser.feed(received_stream(records, "ami1"))
    rtcp = [m for m in messages if m.event == "RTCPSent"] or [
        m for m in messages if m.event and m.event not in EVENT_TYPES
    ]
    assert rtcp
    typed = typed_event(rtcp[0])
    assert isinstance(typed, UnknownEvent)
    assert typed.message is rtcp[0]


@pytest.mark.parametrize(
    ("channel", "interface"),
    [
        ("PJSIP/1001-00000008", "PJSIP/1001"),
        ("Local/1001@agents-local-00000000;1", "Local/1001@agents-local"),
        ("PJSIP/trunk-0000000a", "PJSIP/trunk"),
        ("SIP/agent-x", "SIP/agent-x"),
    ],
)
def test_interface_of(channel: str, interface: str) -> None:
    assert interface_of(channel) == interface


def replay_until(name: str, last_event: str) -> tuple[CallTracker, list[DomainCallEvent]]:
    """The first connection of a transcript, up to and including the first `last_event`:
    then the AMI link is cut, and everything after it happens while nobody watches."""
    records = read_transcript(transcript(name))
    tracker = CallTracker(clock=FakeClock())
    seen: list[DomainCallEvent] = []
    tracker.subscribe(seen.append)
    conn = next(iter(connections(records)))
    for message in AmiFrameParser().feed(received_stream(records, conn)):
        if message.event is None or message.event.startswith("CoreShowChannel"):
            continue
        tracker.handle(typed_event(message))
        if message.event == last_event:
            return tracker, seen
    raise AssertionError(f"{name} has no {last_event}")


@pytest.mark.parametrize(
    ("name", "cut_after", "outcome"),
    [
        ("b-inbound-call-answered.txt", "QueueCallerJoin", CallOutcome.ABANDONED),
        ("c-queue-abandon.txt", "AgentCalled", CallOutcome.ABANDONED),
        ("b-inbound-call-answered.txt", "AgentConnect", CallOutcome.ANSWERED),
        ("i-hangup-during-ivr.txt", "Newchannel", CallOutcome.IVR_HANGUP),
    ],
)
def test_a_call_that_vanished_during_an_ami_cut_is_closed_by_the_resync(
    name: str, cut_after: str, outcome: CallOutcome
) -> None:
    tracker, events = replay_until(name, cut_after)
    assert tracker.calls and not ended(events), "the call is live when the link drops"
    (call_id,) = tracker.calls
    tracker.resync([])  # back online: the PBX has no channel of that call any more
    (end,) = ended(events)
    assert end.call_id == call_id and end.call.outcome is outcome and end.call.resynced
    assert not tracker.calls
    tracker.resync([])  # a second resync closes nothing twice
    assert len(ended(events)) == 1
