"""Whatever fails, the `ivr` script still leaves the dialplan a queue to put the caller in."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ivr.directory import InMemorySurveySink, StaticIvrMode
from ivr.menu import Outage
from ivr.menu_file import load_menu
from ivr.server import IvrServer
from pbx.agi_client import CallerScript, agi_environment, run_agi_session
from routing.domain.levels import SlaPolicy
from routing.records import SiteMatch


class BrokenDirectory:
    def __init__(self, *, match_fails: bool = True) -> None:
        self.match_fails = match_fails

    async def match_caller(self, caller_number: str) -> SiteMatch:
        if self.match_fails:
            raise ConnectionRefusedError("database down")
        return SiteMatch.none()

    async def site_exists(self, site_code: str) -> bool:
        raise ConnectionRefusedError("database down")


class HangingDirectory:
    async def match_caller(self, caller_number: str) -> SiteMatch:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def site_exists(self, site_code: str) -> bool:
        return True


class BrokenMode:
    def emergency_active(self) -> bool:
        raise RuntimeError("mode store unreadable")

    def current_outage(self) -> Outage | None:
        return None


class BrokenSink:
    async def record_score(self, call_ref: str, score: int | None) -> None:
        raise ConnectionRefusedError("database down")


async def _run(
    server: IvrServer, inputs: tuple[str, ...], script: str = "ivr", number: str = "13800138000"
):
    await server.start("127.0.0.1", 0)
    try:
        assert server.port is not None
        env = agi_environment(
            script=script,
            host="127.0.0.1",
            port=server.port,
            channel="PJSIP/t-1",
            uniqueid="9.9",
            caller_number=number,
            caller_name="x",
        )
        return await run_agi_session(
            "127.0.0.1",
            server.port,
            script=script,
            env=env,
            caller=CallerScript(inputs),
            variables={},
            idle_timeout=10,
        )
    finally:
        await server.stop()


def _server(
    tmp_path: Path, sites: object, mode: object = None, sink: object = None, **kw: object
) -> IvrServer:
    return IvrServer(
        load_menu(),
        sites,
        mode or StaticIvrMode(),
        sink or InMemorySurveySink(),  # type: ignore[arg-type]
        policy=SlaPolicy(),
        sounds_dir=tmp_path,
        **kw,  # type: ignore[arg-type]
    )


async def test_directory_down_skips_identification(tmp_path: Path):
    result = await _run(_server(tmp_path, BrokenDirectory()), ("2",))
    assert [c.split(" ")[0] for c in result.commands[:3]] == ["ANSWER", "STREAM", "GET"]
    assert "/level-menu 6000 1" in result.commands[2]
    assert result.variables["HOTLINE_SITE"] == ""
    assert result.variables["HOTLINE_LEVEL"] == "2"
    assert result.variables["HOTLINE_IVR_RESULT"] == "unidentified"


async def test_directory_down_while_checking_code(tmp_path: Path):
    result = await _run(_server(tmp_path, BrokenDirectory(match_fails=False)), ("123#", "1"))
    assert "site-code 8000 8" in result.commands[2]
    assert "level-menu" in result.commands[3]
    assert result.variables["HOTLINE_PRIORITY"] == "10"


async def test_hanging_directory_times_out(tmp_path: Path):
    result = await _run(_server(tmp_path, HangingDirectory(), port_timeout=0.05), ("4",))
    assert result.variables["HOTLINE_LEVEL"] == "4"
    assert result.variables["HOTLINE_SITE"] == ""


async def test_mode_port_failure_still_queues(tmp_path: Path):
    result = await _run(_server(tmp_path, BrokenDirectory(), BrokenMode()), ("1",))
    assert result.variables["HOTLINE_QUEUE"] == "hotline-main"
    assert result.variables["HOTLINE_IVR_RESULT"] == "unidentified"


async def test_survey_sink_failure_does_not_break_the_call(tmp_path: Path):
    server = _server(tmp_path, BrokenDirectory(), sink=BrokenSink())
    result = await _run(server, ("5",), script="survey")
    assert result.variables["HOTLINE_SURVEY_SCORE"] == "5"
    assert result.error is None


async def test_protocol_garbage_ends_in_error_exit(tmp_path: Path):
    """Asterisk answering nonsense to GET DATA: the script still sets the exit variables."""
    server = _server(tmp_path, BrokenDirectory())
    await server.start("127.0.0.1", 0)
    assert server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    env = agi_environment(
        script="ivr",
        host="h",
        port=1,
        channel="PJSIP/t-1",
        uniqueid="5.5",
        caller_number="1",
        caller_name="x",
    )
    writer.write(("".join(f"{k}: {v}\n" for k, v in env.items()) + "\n").encode())
    seen = []
    while True:
        line = await reader.readline()
        if not line:
            break
        seen.append(line.decode().rstrip("\n"))
        reply = "999 what\n" if line.startswith(b"GET DATA") else "200 result=1\n"
        if line.startswith((b"ANSWER", b"STREAM")):
            reply = "200 result=0\n"
        writer.write(reply.encode())
    writer.close()
    await server.stop()
    assert seen[-1] == 'SET VARIABLE HOTLINE_IVR_RESULT "error"'
    assert 'SET VARIABLE HOTLINE_QUEUE "hotline-main"' in seen
    assert 'SET VARIABLE HOTLINE_PRIORITY "7"' in seen


async def test_emergency_queue_on_error_exit(tmp_path: Path):
    server = _server(tmp_path, BrokenDirectory(), StaticIvrMode(emergency=True))
    await server.start("127.0.0.1", 0)
    assert server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network_script: ivr\nagi_uniqueid: 6.6\nagi_callerid: 1\n\n")
    seen = []
    while line := await reader.readline():
        seen.append(line.decode().rstrip("\n"))
        # The connection to "Asterisk" breaks down: a reply that is not a reply.
        writer.write(b"200 result=0\n" if line.startswith(b"ANSWER") else b"garbage\n")
    writer.close()
    await server.stop()
    assert 'SET VARIABLE HOTLINE_QUEUE "hotline-emergency"' in seen


async def test_dead_channel_511_mid_menu_ends_cleanly(tmp_path: Path):
    """The caller is gone before a prompt starts: Asterisk pushes HANGUP and answers the
    prompt with 511. The IVR sends no more media, only the exit variables."""
    server = _server(tmp_path, BrokenDirectory(match_fails=False))
    await server.start("127.0.0.1", 0)
    assert server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network_script: ivr\nagi_uniqueid: 7.7\nagi_callerid: 139\n\n")
    seen = []
    while line := await reader.readline():
        command = line.decode().rstrip("\n")
        seen.append(command)
        if command == "ANSWER":
            writer.write(b"200 result=0\n")
        elif command.startswith("STREAM FILE"):
            writer.write(
                b"HANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n"
            )
        else:
            writer.write(b"200 result=1\n")
    writer.close()
    await server.stop()
    sounds = server.sounds_dir
    assert seen == [
        "ANSWER",
        f'STREAM FILE {sounds}/greeting ""',
        'SET VARIABLE HOTLINE_CALLREF "7.7"',
        'SET VARIABLE HOTLINE_SITE ""',
        'SET VARIABLE HOTLINE_LEVEL ""',
        'SET VARIABLE HOTLINE_PRIORITY "7"',
        'SET VARIABLE HOTLINE_QUEUE "hotline-main"',
        'SET VARIABLE HOTLINE_SURVEY "1"',
        'SET VARIABLE HOTLINE_IVR_RESULT "unidentified"',
    ]
    assert server.failures == 0
