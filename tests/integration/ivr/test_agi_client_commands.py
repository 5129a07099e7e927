"""pbx.agi_client answers each AGI command the way Asterisk 22 does."""

from __future__ import annotations

import asyncio

import pytest

from pbx.agi_client import CallerScript, agi_environment, parse_agi_args, run_agi_session


async def converse(
    commands: list[str], caller: CallerScript, variables: dict[str, str] | None = None
):
    """A scripted FastAGI server: send `commands`, collect the raw reply lines."""
    replies: list[str] = []

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\n\n")
        for command in commands:
            writer.write(command.encode() + b"\n")
            line = (await reader.readline()).decode().rstrip("\n")
            if line == "HANGUP":
                line = "HANGUP|" + (await reader.readline()).decode().rstrip("\n")
            replies.append(line)
        writer.close()

    srv = await asyncio.start_server(server, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    env = agi_environment(
        script="ivr",
        host="127.0.0.1",
        port=port,
        channel="PJSIP/trunk-1",
        uniqueid="1.1",
        caller_number="13800138000",
        caller_name="张伟",
    )
    vars_ = variables if variables is not None else {}
    result = await run_agi_session(
        "127.0.0.1", port, script="ivr", env=env, caller=caller, variables=vars_, idle_timeout=5
    )
    srv.close()
    await srv.wait_closed()
    assert result.commands == commands
    return replies, result


@pytest.mark.parametrize(
    ("pressed", "command", "reply"),
    [
        ("1234#", "GET DATA x 5000 8", "200 result=1234"),
        ("123456789", "GET DATA x 5000 4", "200 result=1234"),
        ("12", "GET DATA x 5000 4", "200 result=12 (timeout)"),
        ("", "GET DATA x 5000 4", "200 result= (timeout)"),
        ("#", "GET DATA x 5000 4", "200 result="),
        ("*", "GET DATA x 5000 1", "200 result=*"),
        ("5", "WAIT FOR DIGIT 3000", "200 result=53"),
        ("", "WAIT FOR DIGIT 3000", "200 result=0"),
        ("2", 'STREAM FILE x "123"', "200 result=50 endpos=2000"),
        ("9", 'STREAM FILE x "123"', "200 result=0 endpos=8000"),
    ],
)
async def test_digit_commands(pressed: str, command: str, reply: str):
    replies, _ = await converse([command], CallerScript((pressed,)))
    assert replies == [reply]


async def test_stream_file_without_escape_digits_consumes_no_input():
    replies, _ = await converse(['STREAM FILE x ""', "GET DATA y 100 1"], CallerScript(("4",)))
    assert replies == ["200 result=0 endpos=8000", "200 result=4"]


async def test_variables_and_misc():
    replies, result = await converse(
        [
            'SET VARIABLE A "hello world"',
            "GET VARIABLE A",
            "GET VARIABLE MISSING",
            'GET FULL VARIABLE "${A}/${CALLERID(num)}/${CALLERID(name)}"',
            "GET VARIABLE CALLERID(num)",
            'EXEC Playback "beep"',
            'VERBOSE "x" 1',
            "NOOP",
            "BOGUS",
            "GET DATA",
            "SET VARIABLE ONLYNAME",
        ],
        CallerScript(),
        {"PRESET": "1"},
    )
    assert replies == [
        "200 result=1",
        "200 result=1 (hello world)",
        "200 result=0",
        "200 result=1 (hello world/13800138000/张伟)",
        "200 result=1 (13800138000)",
        "200 result=0",
        "200 result=1",
        "200 result=0",
        "510 Invalid or unknown command",
        "520 Invalid command syntax.  Proper usage not available.",
        "520 Invalid command syntax.  Proper usage not available.",
    ]
    assert result.variables == {"PRESET": "1", "A": "hello world"}


async def test_hangup_mid_command_then_dead_channel():
    replies, result = await converse(
        ["ANSWER", 'STREAM FILE x ""', "GET DATA y 100 1", 'SET VARIABLE B "2"', "BOGUS"],
        CallerScript(("1",), hangup_after_commands=2),
    )
    assert replies == [
        "200 result=0",
        "200 result=-1 endpos=0",
        "HANGUP|511 Command Not Permitted on a dead channel or intercept routine",
        "200 result=1",
        "510 Invalid or unknown command",
    ]
    assert result.hung_up and result.variables == {"B": "2"}


async def test_agi_hangup_command():
    replies, result = await converse(["HANGUP", "ANSWER"], CallerScript())
    assert replies == [
        "200 result=1",
        "HANGUP|511 Command Not Permitted on a dead channel or intercept routine",
    ]
    assert result.hung_up


def test_parse_agi_args_like_asterisk():
    assert parse_agi_args('STREAM FILE "a b" ""') == ["STREAM", "FILE", "a b", ""]
    assert parse_agi_args('SET VARIABLE X "say \\"hi\\""') == ["SET", "VARIABLE", "X", 'say "hi"']
    assert parse_agi_args("  GET   DATA x  ") == ["GET", "DATA", "x"]
