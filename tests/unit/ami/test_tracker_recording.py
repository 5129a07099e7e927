"""The call tracker links the call's MixMonitor file: `MIXMONITOR_FILENAME` set on the
caller channel, confirmed by `MixMonitorStart` (which itself names no file), becomes the
snapshot's `recording` (the file name only) on every later event of the call.
"""

from __future__ import annotations

from ami.events import typed_event
from ami.protocol import AmiFrameParser
from ami.tracker import CallTracker
from calls import CallEnded, CallQueued, DomainCallEvent

from .test_tracker_preferred_dial import CALL_ID, CALLER, Clock, caller, hangup, newchannel

FILE = f"/var/spool/asterisk/monitor/hotline/{CALL_ID}.wav"
AGENT = "PJSIP/1001-0000000c"
AGENT_UID = "1795304040.20"


def run(*frames: bytes) -> tuple[CallTracker, list[DomainCallEvent]]:
    tracker = CallTracker(clock=Clock())
    events: list[DomainCallEvent] = []
    tracker.subscribe(events.append)
    parser = AmiFrameParser()
    for message in parser.feed(b"".join(frames)):
        if tracker.follows(message.event, message):
            tracker.handle(typed_event(message))
    return tracker, events


def filename(file: str = FILE) -> bytes:
    return caller("VarSet", f"Variable: MIXMONITOR_FILENAME\r\nValue: {file}\r\n")


JOIN = caller("QueueCallerJoin", "Queue: hotline-main\r\nPosition: 1\r\nCount: 1\r\n")


def test_the_started_monitor_is_the_calls_recording() -> None:
    _, events = run(
        newchannel(CALLER, CALL_ID),
        filename(),
        caller("MixMonitorStart"),
        JOIN,
        hangup(CALLER, CALL_ID),
    )
    [queued] = [e for e in events if isinstance(e, CallQueued)]
    assert queued.call.recording == f"{CALL_ID}.wav"
    [ended] = [e for e in events if isinstance(e, CallEnded)]
    assert ended.call.recording == f"{CALL_ID}.wav"


def test_no_recording_without_mixmonitorstart() -> None:
    # e.g. `Set(MIXMONITOR_FILENAME=...)` by hand: nothing records
    _, events = run(newchannel(CALLER, CALL_ID), filename(), JOIN, hangup(CALLER, CALL_ID))
    assert all(e.call.recording is None for e in events)


def test_a_monitor_on_another_channel_of_the_call_is_not_the_calls_recording() -> None:
    agent_var = (
        caller("VarSet", "Variable: X\r\nValue: y\r\n")
        .replace(CALLER.encode(), AGENT.encode())
        .replace(f"Uniqueid: {CALL_ID}".encode(), f"Uniqueid: {AGENT_UID}".encode())
    )
    agent_file = agent_var.replace(
        b"Variable: X\r\nValue: y", b"Variable: MIXMONITOR_FILENAME\r\nValue: /tmp/agent.wav"
    )
    agent_start = caller("MixMonitorStart").replace(
        f"Uniqueid: {CALL_ID}".encode(), f"Uniqueid: {AGENT_UID}".encode()
    )
    _, events = run(
        newchannel(CALLER, CALL_ID), agent_file, agent_start, JOIN, hangup(CALLER, CALL_ID)
    )
    assert all(e.call.recording is None for e in events)


def test_the_file_name_loses_its_directory() -> None:
    _, events = run(
        newchannel(CALLER, CALL_ID),
        filename("/var/spool/asterisk/monitor/../../etc/x.wav"),
        caller("MixMonitorStart"),
        JOIN,
    )
    assert events[-1].call.recording == "x.wav"


def test_the_client_hands_the_filename_varset_to_the_tracker() -> None:
    tracker = CallTracker(clock=Clock())
    [message] = AmiFrameParser().feed(filename())
    assert tracker.follows("VarSet", message)
    [start] = AmiFrameParser().feed(caller("MixMonitorStart"))
    assert tracker.follows("MixMonitorStart", start)
    [noise] = AmiFrameParser().feed(caller("VarSet", "Variable: BRIDGEPEER\r\nValue: x\r\n"))
    assert not tracker.follows("VarSet", noise)
