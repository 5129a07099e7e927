"""Reading the real Asterisk recordings (format: transcripts/README.md) and reducing a call
to the shape we compare: the sequence of (Event, header names in order)."""

from __future__ import annotations

import json
import re

from testkit.transcripts import transcripts_dir

Msg = list[tuple[str, str]]
# The real recordings, shared by the whole team (../shared next to the repository).
HERE = transcripts_dir()

# Not reproduced by the stand-in: RTP/RTCP statistics and device-state noise.
NOISE_EVENTS = {"RTCPSent", "RTCPReceived", "DeviceStateChange"}
# Raced with the channel events in the real PBX (b and d put it in different places), so
# the comparison counts it instead of placing it.
UNORDERED_EVENTS = {"QueueMemberStatus"}
# VarSets the controller relies on (IVR results, setqueuevar/setinterfacevar/setqueueentryvar)
# (HOTLINE_* depend on what the IVR under test sets; BRIDGEPEER repeats with bridge
# technology changes that a simulation without media does not have.)
SIGNIFICANT_VARS = re.compile(
    r"^(QUEUE_PRIO|MEMBER\w+|QUEUE\w+|QE\w+|AGISTATUS|ANSWEREDTIME\w*|DIALEDTIME\w*)$"
)
# IVR conversation details differ between our scripted IVR and the recorded one.
IVR_EVENTS = {"AGIExecStart", "AGIExecEnd", "DTMFBegin", "DTMFEnd"}
# Steps of asterisk-conf's [hotline-in] that the recording's dialplan did not have: the
# branches around the preferred-engineer Dial() and after Queue(...,c) (never taken in the
# recorded scenarios, so they add only their own Newexten), and the MixMonitor step that
# records the call (its Newexten and MixMonitorStart; its VarSet is not significant).
OUR_DIALPLAN_ONLY = {"GotoIf", "MixMonitor"}
OUR_DIALPLAN_EVENTS = {"MixMonitorStart"}


def parse(payload: str) -> Msg:
    headers: Msg = []
    for line in payload.split("\r\n"):
        if line:
            key, _, value = line.partition(": ")
            headers.append((key, value))
    return headers


def records(name: str) -> list[tuple[str, str, str]]:
    out = []
    for line in (HERE / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        direction, _t, conn, payload = line.split(" ", 3)
        out.append((direction, conn, json.loads(payload)))
    return out


def ami_messages(name: str, conn: str = "ami1") -> list[Msg]:
    return [
        parse(p)
        for d, c, p in records(name)
        if d == "<<" and c == conn and not p.startswith("Asterisk Call Manager")
    ]


def get(msg: Msg, key: str) -> str | None:
    return next((v for k, v in msg if k == key), None)


def call_shape(
    msgs: list[Msg], linkedid: str, *, ivr: bool = False
) -> list[tuple[str, tuple[str, ...]]]:
    """(Event, keys) of the call's events, minus noise; VarSets only for significant names."""
    shape = []
    for m in msgs:
        event = get(m, "Event")
        if event is None or event in NOISE_EVENTS or (not ivr and event in IVR_EVENTS):
            continue
        if linkedid not in (get(m, "Linkedid"), get(m, "DestLinkedid"), get(m, "LocalOneLinkedid")):
            if event not in ("BridgeCreate", "BridgeDestroy", "AgentComplete", "QueueMemberStatus"):
                continue
        if event == "VarSet" and not SIGNIFICANT_VARS.match(get(m, "Variable") or ""):
            continue
        if event == "Newexten" and get(m, "Application") in OUR_DIALPLAN_ONLY:
            continue
        if event in OUR_DIALPLAN_EVENTS:
            continue
        shape.append((event, tuple(k for k, _ in m)))
    return shape


def first_linkedid(msgs: list[Msg]) -> str:
    for m in msgs:
        if get(m, "Event") == "Newchannel":
            return get(m, "Linkedid") or ""
    raise LookupError("no Newchannel")
