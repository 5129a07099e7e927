"""The stand-in's MixMonitor is app_mixmonitor's: the dialplan step records every queued call
into `${HOTLINE_RECORDINGS}/${UNIQUEID}.wav` (option b: only the bridged talk), the events
are VarSet MIXMONITOR_FILENAME then MixMonitorStart with the channel snapshot, a hang-up
raises no MixMonitorStop, and the AMI actions answer as manager_mixmonitor() does.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pbx.agi_client import CallerScript
from pbx.domain.events import ChannelSnapshot, ChannelState, channel_block
from pbx.mixmonitor import MixMonitors
from pbx.simulation import RECORDINGS_DIR
from pbx.standin import PbxStandIn
from testkit.audio import sox_info

from .conftest import AmiTestClient, Msg, ScriptedIvr, get

SNAPSHOT_KEYS = [
    k
    for k, _ in channel_block(
        ChannelSnapshot("x", ChannelState.UP, "", "", "", "", "hotline-in", "s", 1, "1", "1")
    )
]


@pytest.fixture
async def recording_pbx(ivr: ScriptedIvr, tmp_path: Path) -> AsyncIterator[PbxStandIn]:
    standin = PbxStandIn(
        agi_port=ivr.port,
        speed=8.0,  # durations are checked: keep scheduling jitter small in simulated time
        auth_failure_delay=0.05,
        prompt_seconds=0.2,
        recordings_dir=tmp_path,
    )
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
async def rami(recording_pbx: PbxStandIn) -> AsyncIterator[AmiTestClient]:
    client = await AmiTestClient.connect(recording_pbx.ami_port)
    yield client
    await client.close()


def of_call(ami: AmiTestClient, uniqueid: str, *events: str) -> list[Msg]:
    return [m for m in ami.messages if get(m, "Event") in events and get(m, "Uniqueid") == uniqueid]


async def answered_call(pbx: PbxStandIn, ami: AmiTestClient, talk_time: float) -> str:
    pbx.add_agent("PJSIP/1001", answer_after=1.0)
    reply = await ami.action(
        "QueueAdd", Queue="hotline-main", Interface="PJSIP/1001", MemberName="1001", Penalty="0"
    )
    assert get(reply, "Response") == "Success"
    call = await pbx.place_call(
        "13800138000", "Site caller", script=CallerScript(("234567#", "1")), talk_time=talk_time
    )
    result = await asyncio.wait_for(call.finished, 20)
    await ami.wait_event("Hangup", Uniqueid=result.linkedid)
    assert result.outcome == "answered"
    return result.linkedid


async def test_an_answered_call_is_recorded_while_bridged(
    recording_pbx: PbxStandIn, rami: AmiTestClient, tmp_path: Path
) -> None:
    linkedid = await answered_call(recording_pbx, rami, talk_time=4.0)
    file = f"{RECORDINGS_DIR}/{linkedid}.wav"
    step = of_call(rami, linkedid, "Newexten")
    mix = [m for m in step if get(m, "Application") == "MixMonitor"]
    assert [get(m, "AppData") for m in mix] == [f"{file},b"]
    assert [get(m, "Priority") for m in mix] == ["9"]
    varset = [
        m for m in of_call(rami, linkedid, "VarSet") if get(m, "Variable") == "MIXMONITOR_FILENAME"
    ]
    assert [get(m, "Value") for m in varset] == [file]
    (start,) = of_call(rami, linkedid, "MixMonitorStart")
    # publish_basic_channel_event(): Event, Privilege, the channel snapshot, nothing else
    assert [k for k, _ in start] == ["Event", "Privilege", *SNAPSHOT_KEYS]
    assert get(start, "Privilege") == "call,all"
    assert get(start, "Context") == "hotline-in" and get(start, "Priority") == "9"
    order = [id(m) for m in rami.messages]
    assert order.index(id(mix[0])) < order.index(id(varset[0])) < order.index(id(start))
    # Only StopMixMonitor raises MixMonitorStop; the hang-up closes the file silently.
    assert of_call(rami, linkedid, "MixMonitorStop") == []

    path = tmp_path / f"{linkedid}.wav"
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        seconds = w.getnframes() / w.getframerate()
    # option b: the talk time (4 s simulated), not the IVR or the wait in the queue
    assert 3.5 <= seconds <= 5.5
    info = sox_info(path)
    assert (info.rate, info.channels) == (8000, 1)
    assert info.seconds == pytest.approx(seconds, abs=0.01)


async def test_an_unanswered_call_leaves_an_empty_recording(
    recording_pbx: PbxStandIn, rami: AmiTestClient, tmp_path: Path
) -> None:
    call = await recording_pbx.place_call(
        "13800138000", "Site caller", script=CallerScript(("234567#", "1")), patience=2.0
    )
    result = await asyncio.wait_for(call.finished, 20)
    await rami.wait_event("Hangup", Uniqueid=result.linkedid)
    assert result.outcome == "abandoned"
    assert of_call(rami, result.linkedid, "MixMonitorStart")
    # app_mixmonitor opens the file when it starts; with b nothing is written unbridged
    with wave.open(str(tmp_path / f"{result.linkedid}.wav"), "rb") as w:
        assert w.getnframes() == 0


async def test_without_a_writable_directory_the_events_come_and_no_file(
    pbx: PbxStandIn, ami: AmiTestClient, tmp_path: Path
) -> None:
    linkedid = await answered_call(pbx, ami, talk_time=1.0)
    assert of_call(ami, linkedid, "MixMonitorStart")
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 - a test's own tmp dir


async def test_the_mixmonitor_actions(
    recording_pbx: PbxStandIn, rami: AmiTestClient, tmp_path: Path
) -> None:
    recording_pbx.add_agent("PJSIP/1001", answer_after=None)
    await rami.action(
        "QueueAdd", Queue="hotline-main", Interface="PJSIP/1001", MemberName="1001", Penalty="0"
    )
    call = await recording_pbx.place_call(
        "13800138000", "Site caller", script=CallerScript(("234567#", "1")), patience=30.0
    )
    join = await rami.wait_event("QueueCallerJoin")
    channel = get(join, "Channel") or ""
    uniqueid = get(join, "Uniqueid") or ""

    reply = await rami.action(
        "MixMonitor",
        Channel=channel,
        File="/var/spool/asterisk/monitor/hotline/extra.wav",
        Options="bi(MIXID)",
    )
    assert [k for k, _ in reply] == ["Response", "ActionID", "MixMonitorID"]
    assert get(reply, "Response") == "Success"
    stop = await rami.action("StopMixMonitor", Channel=channel)
    assert stop == [("Response", "Success"), ("ActionID", get(stop, "ActionID") or "")]
    await rami.wait_event("MixMonitorStop", Uniqueid=uniqueid)
    # closed by the stop: a whole WAV, header sizes patched
    with wave.open(str(tmp_path / "extra.wav"), "rb") as w:
        assert w.getnframes() == 0
    again = await rami.action("StopMixMonitor", Channel=channel)
    assert [k for k, _ in again] == ["Response", "ActionID", "Message"]
    assert get(again, "Message") == "Could not stop monitoring channel"
    missing = await rami.action("MixMonitor", Channel="PJSIP/nobody-0000")
    assert missing[-1] == ("Message", "No such channel")
    no_channel = await rami.action("StopMixMonitor", ActionID="m5")
    assert no_channel[-1] == ("Message", "No channel specified")
    recording_pbx.sim.request_hangup(channel)
    await asyncio.wait_for(call.finished, 20)


async def test_only_the_bridged_talk_is_in_the_file(
    recording_pbx: PbxStandIn, rami: AmiTestClient, tmp_path: Path
) -> None:
    """Queue wait before (3 s of ringing) and the survey after (the agent hangs up first,
    Queue option c) are not recorded: only the 2 s the caller was bridged."""
    recording_pbx.add_agent("PJSIP/1001", answer_after=3.0, talk_time=2.0)
    await rami.action(
        "QueueAdd", Queue="hotline-main", Interface="PJSIP/1001", MemberName="1001", Penalty="0"
    )
    call = await recording_pbx.place_call(
        "13800138000", "Site caller", script=CallerScript(("234567#", "1")), talk_time=30.0
    )
    result = await asyncio.wait_for(call.finished, 30)
    assert result.outcome == "answered" and result.hangup_by != "caller"
    assert result.survey is not None  # the caller went on after the bridge
    with wave.open(str(tmp_path / f"{result.linkedid}.wav"), "rb") as w:
        seconds = w.getnframes() / w.getframerate()
    assert 1.5 <= seconds <= 3.5  # not the 3 s of ringing before


@dataclass
class FakeChannel:
    name: str = "PJSIP/trunk-00000001"
    uniqueid: str = "1.1"
    bridge_id: str = ""


def test_bridged_only_on_a_simulated_clock(tmp_path: Path) -> None:
    """Option b on a fake clock: joined a bridge at 3 s, left it at 5 s, hung up at 20 s:
    the file holds 2 s; without b the whole 20 s."""
    now = [0.0]
    seen: list[tuple[str, str]] = []
    monitors: MixMonitors[FakeChannel] = MixMonitors(
        varset=lambda ch, name, value: seen.append((name, value)),
        channel_event=lambda event, ch: seen.append((event, ch.uniqueid)),
        now=lambda: now[0],
        pbx_dir=RECORDINGS_DIR,
        local_dir=tmp_path,
    )
    for name, options, expected in (("b", "b", 2.0), ("all", "", 20.0)):
        channel = FakeChannel(uniqueid=name)
        now[0] = 0.0
        monitors.start(channel, f"{RECORDINGS_DIR}/{name}.wav,{options}")
        now[0] = 3.0
        channel.bridge_id = "bridge"
        monitors.bridged(channel)
        now[0] = 5.0
        channel.bridge_id = ""
        monitors.unbridged(channel)
        now[0] = 20.0
        monitors.hung_up(channel)
        with wave.open(str(tmp_path / f"{name}.wav"), "rb") as w:
            assert w.getnframes() / w.getframerate() == pytest.approx(expected)
    assert ("MixMonitorStart", "b") in seen and not [e for e in seen if e[0] == "MixMonitorStop"]
