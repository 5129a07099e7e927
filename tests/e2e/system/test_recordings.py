"""Call recordings end to end: the stand-in's dialplan records the answered call with
MixMonitor into the shared directory, the controller links the file to the call record
and the ticket, and the console serves it with range requests to the people allowed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pbx import CallerScript
from testkit.audio import sox_info

from .conftest import SQLITE_ONLY, System, running_system

pytestmark = pytest.mark.slow


async def call_record(system: System, token: str, call_id: str) -> dict[str, Any]:
    """The call's record once the call has ended (the pipeline writes it after the
    hang-up)."""
    async with asyncio.timeout(15):
        while True:
            response = await system.http.get(
                "/api/calls", params={"call_id": call_id}, headers=auth(token)
            )
            assert response.status_code == 200, response.text
            items = response.json()["items"]
            if items and items[0]["ended_at"] is not None:
                return dict(items[0])
            await asyncio.sleep(0.05)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def answered_call(system: System, talk_time: float = 8.0) -> tuple[str, str]:
    """A Riverside caller answered by alice: (alice's token, call id)."""
    token = await system.login("alice")
    await system.open_socket("alice", token)
    await system.set_state(token, "ready")
    call = await system.pbx.place_call(
        "010-12345678", "Wang Li", script=CallerScript(("1",)), talk_time=talk_time
    )
    result = await asyncio.wait_for(call.finished, 30)
    assert result.outcome == "answered" and result.agent_interface == "PJSIP/1001"
    # HOTLINE_RECORDING_NOTICE defaults to on: the IVR told the caller after the greeting
    assert result.agi is not None
    streamed = [c.split()[2] for c in result.agi.commands if c.startswith("STREAM FILE")]
    notice = str(system.settings.sounds_dir.resolve() / "recording-notice")
    assert streamed[:2] == [str(system.settings.sounds_dir.resolve() / "greeting"), notice]
    return token, call.linkedid


@SQLITE_ONLY
async def test_a_recorded_call_plays_with_ranges_for_its_agent_only(
    system: System, tmp_path: Path
) -> None:
    token, call_id = await answered_call(system)
    record = await call_record(system, token, call_id)
    assert "recording" not in record  # never the file name, only the URL
    url = record["recording_url"]
    assert url == f"/api/calls/{call_id}/recording"

    whole = await system.http.get(url, headers=auth(token))
    assert whole.status_code == 200, whole.text
    assert whole.headers["content-type"] == "audio/wav"
    assert whole.headers["accept-ranges"] == "bytes"
    body = whole.content
    size = len(body)
    assert int(whole.headers["content-length"]) == size
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE"
    assert body == (system.settings.recordings_dir / f"{call_id}.wav").read_bytes()
    saved = tmp_path / "played.wav"
    saved.write_bytes(body)
    info = sox_info(saved)
    assert (info.rate, info.channels) == (8000, 1)
    assert 6.0 <= info.seconds <= 11.0  # the 8 simulated seconds of talk (and jitter)

    first = await system.http.get(url, headers={**auth(token), "Range": "bytes=0-43"})
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-43/{size}"
    assert first.content == body[:44]
    tail = await system.http.get(url, headers={**auth(token), "Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == body[-100:]
    assert tail.headers["content-range"] == f"bytes {size - 100}-{size - 1}/{size}"
    middle = await system.http.get(url, headers={**auth(token), "Range": "bytes=1000-"})
    assert middle.status_code == 206 and middle.content == body[1000:]
    beyond = await system.http.get(url, headers={**auth(token), "Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    junk = await system.http.get(url, headers={**auth(token), "Range": "bytes=9-3"})
    assert junk.status_code == 416

    # bob is an agent too, but neither answered the call nor holds its ticket
    bob = await system.login("bob")
    refused = await system.http.get(url, headers=auth(bob))
    assert refused.status_code == 403
    assert refused.content != body
    sue = await system.login("sue")
    assert (await system.http.get(url, headers=auth(sue))).content == body
    system.http.cookies.clear()  # the log-ins above left session cookies
    assert (await system.http.get(url)).status_code == 401

    # the ticket lists the call with the same recording
    ticket = await system.ticket_of(call_id)
    shown = await system.http.get(f"/api/tickets/{ticket.number}", headers=auth(sue))
    assert shown.status_code == 200
    calls = shown.json()["calls"]
    assert [(c["call_id"], c["outcome"], c["recording_url"]) for c in calls] == [
        (call_id, "answered", url)
    ]
    patched = await system.http.patch(
        f"/api/tickets/{ticket.number}", json={"cause": "power"}, headers=auth(token)
    )
    assert patched.status_code == 200 and patched.json()["calls"] == calls
    listed = await system.http.get("/api/tickets", params={"call_id": call_id}, headers=auth(token))
    assert listed.json()["items"][0]["calls"] == calls


async def test_the_notice_can_be_switched_off(sqlite_url: str, tmp_path: Path) -> None:
    async with running_system(sqlite_url, tmp_path, recording_notice=False) as system:
        call = await system.pbx.place_call(
            "010-12345678", "Wang Li", script=CallerScript(("1",)), patience=1.0
        )
        result = await asyncio.wait_for(call.finished, 30)
        assert result.agi is not None
        assert not [c for c in result.agi.commands if "recording-notice" in c]
        assert [c for c in result.agi.commands if c.endswith('greeting ""')]


@SQLITE_ONLY
async def test_the_leader_runs_the_purge_on_the_recordings_directory(system: System) -> None:
    purge = system.service.edges.store.recording_purge
    assert purge is not None and purge.running
    assert purge.archive.directory == system.settings.recordings_dir
    assert purge.days == system.settings.recording_days == 180


@SQLITE_ONLY
async def test_an_unanswered_call_has_no_recording(system: System) -> None:
    token = await system.login("sue")
    call = await system.pbx.place_call(
        "010-12345678", "Wang Li", script=CallerScript(("1",)), patience=3.0
    )
    result = await asyncio.wait_for(call.finished, 30)
    assert result.outcome == "abandoned"
    record = await call_record(system, token, call.linkedid)
    assert record["recording_url"] is None
    missing = await system.http.get(f"/api/calls/{call.linkedid}/recording", headers=auth(token))
    assert missing.status_code == 404
    # the PBX did create the (empty) file: only bridged audio is recorded
    assert (system.settings.recordings_dir / f"{call.linkedid}.wav").exists()
