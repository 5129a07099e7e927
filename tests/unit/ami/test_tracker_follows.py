"""What the call tracker asks the client to type: `Newexten` only while a channel that is
not yet a hotline call (an originated drill or callback) could still enter hotline-in;
such a channel becomes a call when it does."""

from __future__ import annotations

from ami.events import typed_event
from ami.protocol import AmiFrameParser
from ami.tracker import CallTracker
from calls import CallStarted, DomainCallEvent

from .test_tracker_preferred_dial import CALL_ID, CALLER, Clock, frame, newchannel, snapshot


def newexten(context: str) -> bytes:
    return frame("Newexten", snapshot(CALLER, CALL_ID, context=context), "Application: AGI\r\n")


def test_newexten_is_left_untyped_while_no_channel_waits_to_become_a_call() -> None:
    tracker = CallTracker(clock=Clock())
    parser = AmiFrameParser()
    first, exten = parser.feed(
        b"Asterisk Call Manager/11.0.0\r\n" + newchannel(CALLER, CALL_ID) + newexten("hotline-in")
    )
    tracker.handle(typed_event(first))  # an inbound call: a hotline call from the start
    assert not tracker.follows(exten.event, exten)


def test_an_originated_channel_entering_hotline_in_becomes_a_call() -> None:
    tracker = CallTracker(clock=Clock())
    events: list[DomainCallEvent] = []
    tracker.subscribe(events.append)
    parser = AmiFrameParser()
    stream = newchannel(CALLER, CALL_ID, context="drill-out") + newexten("hotline-in")
    for message in parser.feed(b"Asterisk Call Manager/11.0.0\r\n" + stream):
        if tracker.follows(message.event, message):
            tracker.handle(typed_event(message))
    assert [type(e) for e in events] == [CallStarted]
    assert events[0].call_id == CALL_ID
