"""The FastAGI client of the PBX stand-in answers like the real Asterisk in the transcripts.

A tiny server replays the commands recorded in f-fastagi-ivr.txt / i-hangup-during-ivr.txt
and the client's replies are compared byte for byte with what Asterisk sent.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from pbx.agi_client import CallerScript, agi_environment, run_agi_session
from testkit.transcripts import transcripts_dir

TRANSCRIPTS = transcripts_dir()


def _agi_records(name: str) -> list[tuple[str, str]]:
    path = TRANSCRIPTS / name
    assert path.exists(), f"transcript {path} is missing (committed under tests/fixtures)"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        direction, _t, conn, payload = line.split(" ", 3)
        if conn.startswith("agi") and direction in (">>", "<<"):
            out.append((direction, json.loads(payload)))
    return out


async def _replay(name: str, caller: CallerScript, uniqueid: str, channel: str):
    records = _agi_records(name)
    env_block = records[0][1]
    commands = [p for d, p in records if d == ">>"]
    received: list[str] = []
    got_env: list[bytes] = []

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got_env.append(await reader.readuntil(b"\n\n"))
        for command in commands:
            writer.write(command.encode())
            await writer.drain()
            line = await reader.readline()
            received.append(line.decode())
            if line == b"HANGUP\n":
                received.append((await reader.readline()).decode())
        writer.close()

    srv = await asyncio.start_server(server, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    env = agi_environment(
        script="ivr",
        host="127.0.0.1",
        port=4573,
        channel=channel,
        uniqueid=uniqueid,
        caller_number="13800138000",
        caller_name="Site caller",
    )
    variables: dict[str, str] = {}
    result = await run_agi_session(
        "127.0.0.1", port, script="ivr", env=env, caller=caller, variables=variables
    )
    srv.close()
    await srv.wait_closed()
    expected_env = env_block.splitlines()
    actual_env = got_env[0].decode().splitlines()
    # agi_threadid is a memory address in the recording; everything else must match.
    assert [x for x in actual_env if not x.startswith("agi_threadid")] == [
        x for x in expected_env if not x.startswith("agi_threadid")
    ]
    expected_replies = [p for d, p in records[1:] if d == "<<"]
    # endpos is the length of the recorded prompt file, which the simulator does not have.
    return result, [_no_endpos(r) for r in received], [_no_endpos(r) for r in expected_replies]


def _no_endpos(reply: str) -> str:
    return re.sub(r"endpos=\d+", "endpos=N", reply)


async def test_replies_match_f_fastagi_ivr() -> None:
    result, received, expected = await _replay(
        "f-fastagi-ivr.txt",
        CallerScript(inputs=("234567#", "1")),
        "1795303935.0",
        "PJSIP/trunk-00000000",
    )
    assert received == expected
    assert result.error is None
    assert not result.hung_up
    assert result.variables == {
        "HOTLINE_SITE": "234567",
        "HOTLINE_LEVEL": "1",
        "HOTLINE_PRIORITY": "10",
        "HOTLINE_QUEUE": "hotline-main",
    }


async def test_replies_match_i_hangup_during_ivr() -> None:
    result, received, expected = await _replay(
        "i-hangup-during-ivr.txt",
        CallerScript(hangup_after_commands=3),
        "1795304048.16",
        "PJSIP/trunk-0000000a",
    )
    assert received == expected
    assert result.hung_up
    assert result.variables["HOTLINE_SITE"] == "unidentified"


async def test_connection_refused_is_reported() -> None:
    srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    srv.close()
    await srv.wait_closed()
    result = await run_agi_session(
        "127.0.0.1", port, script="ivr", env={}, caller=CallerScript(), variables={}
    )
    assert result.error is not None and "connect failed" in result.error
    assert result.commands == []


def test_caller_script_refuses_non_dtmf() -> None:
    with pytest.raises(ValueError, match="not DTMF"):
        CallerScript(inputs=("12\n",))


def test_environment_refuses_crlf() -> None:
    with pytest.raises(ValueError, match="CR/LF"):
        agi_environment(
            script="ivr",
            host="h",
            port=1,
            channel="PJSIP/x",
            uniqueid="1.1",
            caller_number="1",
            caller_name="evil\r\nagi_x: y",
        )
