"""Each FastAGI fault of panoramisk 1.4, reproduced on panoramisk itself, then shown fixed
in `ivr.agi` (which keeps panoramisk's Application/Request as base classes)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from panoramisk.fast_agi import Application, Request

from ivr.agi import AgiApplication, AgiChannel
from ivr.errors import (
    AgiDeadChannel,
    AgiHangup,
    AgiInjection,
    AgiInvalidCommand,
    AgiProtocolError,
    AgiUsageError,
)

HEADER = b"agi_network: yes\nagi_network_script: ivr\nagi_uniqueid: 1.1\n\n"
USAGE_SINGLE = b"520 Invalid command syntax.  Proper usage not available.\n"
USAGE_MULTI = (
    b"520-Invalid command syntax.  Proper usage follows:\n"
    b"Usage: GET DATA <file to be streamed> [timeout] [maxdigits]\n"
    b" Stream the given file, and receive DTMF data.\n"
    b"520 End of proper usage.\n"
)
DEAD = b"511 Command Not Permitted on a dead channel or intercept routine\n"


class CaptureWriter:
    """Stands in for the transport: records what would go on the wire."""

    def __init__(self) -> None:
        self.data = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    async def wait_closed(self) -> None:
        return None

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1)


class CountingReader(asyncio.StreamReader):
    """Fails loudly instead of spinning forever when read() is called in a tight loop."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def read(self, n: int = -1) -> bytes:
        self.reads += 1
        if self.reads > 1000:
            raise RuntimeError("handler keeps reading at EOF: it would spin forever")
        return await super().read(n)


def fed(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def panoramisk_request(replies: bytes) -> tuple[Request, CaptureWriter]:
    app = Application(loop=asyncio.get_running_loop())
    writer = CaptureWriter()
    return Request(app, {}, fed(replies), writer), writer


def our_channel(replies: bytes) -> tuple[AgiChannel, CaptureWriter]:
    writer = CaptureWriter()
    chan = AgiChannel(AgiApplication(), {"agi_uniqueid": "1.1"}, fed(replies), writer)  # type: ignore[arg-type]
    return chan, writer


# --- 1. the handler spins when the client leaves inside the agi_* block ---------------


async def test_fault_handler_spins_on_early_disconnect():
    reader = CountingReader()
    reader.feed_data(b"agi_network: yes\nagi_netw")
    reader.feed_eof()
    app = Application(loop=asyncio.get_running_loop())
    with pytest.raises(RuntimeError, match="spin forever"):
        await app.handler(reader, CaptureWriter())


async def test_fixed_handler_returns_on_early_disconnect():
    reader = CountingReader()
    reader.feed_data(b"agi_network: yes\nagi_netw")
    reader.feed_eof()
    writer = CaptureWriter()
    await AgiApplication().handler(reader, writer)  # type: ignore[arg-type]
    assert writer.closed and reader.reads == 0


async def test_fixed_server_keeps_serving_after_early_disconnects():
    app = AgiApplication()
    served: list[str] = []

    async def route(chan: AgiChannel) -> None:
        served.append(chan.call_id)
        await chan.verbose("hello")

    app.add_route("ivr", route)
    server = await asyncio.start_server(app.handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    beat = asyncio.create_task(heartbeat())
    for _ in range(5):
        _r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"agi_network: yes\nagi_network_scr")
        await w.drain()
        w.close()
        await w.wait_closed()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADER)
    assert await reader.readline() == b'VERBOSE "hello" 1\n'
    writer.write(b"200 result=1\n")
    assert await reader.read() == b""  # the route ended and the server closed
    writer.close()
    beat.cancel()
    server.close()
    await server.wait_closed()
    assert served == ["1.1"]
    assert ticks > 0


# --- 2. plain (non-async) route functions ----------------------------------------------


async def test_fault_plain_route_fails_on_python_311():
    app = Application(loop=asyncio.get_running_loop())
    with pytest.raises(AttributeError, match="coroutine"):
        app.add_route("ivr", lambda request: None)


async def test_fixed_plain_route_is_served():
    app = AgiApplication()
    seen: list[str] = []
    app.add_route("ivr", lambda chan: seen.append(chan.call_id))
    await app.handler(fed(HEADER), CaptureWriter())  # type: ignore[arg-type]
    assert seen == ["1.1"]
    assert app.failures == 0


# --- 3. CR/LF in values sent to AGI ------------------------------------------------------


async def test_fault_crlf_is_written_unescaped():
    request, writer = panoramisk_request(b"200 result=1\n")
    await request.send_command('SET VARIABLE X "a"\nEXEC System "rm -rf /"')
    assert writer.data.count(b"\n") == 2  # two commands went out


@pytest.mark.parametrize("value", ["a\nEXEC System x", "a\rb", "x\r\n"])
async def test_fixed_crlf_is_refused(value: str):
    chan, writer = our_channel(b"200 result=1\n")
    with pytest.raises(AgiInjection):
        await chan.set_variable("X", value)
    with pytest.raises(AgiInjection):
        await chan.send_command(f"VERBOSE {value}")
    with pytest.raises(AgiInjection):
        await chan.stream_file(f"/sounds/{value}")
    assert writer.data == b""


# --- 4. errors returned as dicts instead of raised --------------------------------------


async def test_fault_errors_are_returned_not_raised():
    request, _ = panoramisk_request(b"510 Invalid or unknown command\n" + DEAD)
    first = await request.send_command("BOGUS COMMAND")
    second = await request.send_command("GET DATA x 100 1")
    assert first["error"] == "AGIInvalidCommand"
    assert second["error"] == "AGIUnknownError"


async def test_fixed_errors_are_raised():
    chan, _ = our_channel(b"510 Invalid or unknown command\n" + DEAD + b"200 result=-1\n")
    with pytest.raises(AgiInvalidCommand):
        await chan.send_command("BOGUS COMMAND")
    with pytest.raises(AgiDeadChannel):
        await chan.send_command("GET DATA x 100 1")
    chan.hung_up = False
    with pytest.raises(AgiHangup):
        await chan.get_data("x", 100, 1)


# --- 5. 520 usage replies, single and multi-line ----------------------------------------


@pytest.mark.parametrize("usage", [USAGE_SINGLE, USAGE_MULTI])
async def test_fault_usage_reply_desynchronises(usage: bytes):
    request, _ = panoramisk_request(usage + b"200 result=1 (hotline-main)\n200 result=1\n")
    await request.send_command("GET DATA")
    try:
        after = await request.send_command("GET VARIABLE HOTLINE_QUEUE")
    except ValueError:
        return  # multi-line: it chokes on a usage line taken for a reply
    # single-line: the next command does not get its own reply any more.
    assert after.get("result") != ("1", "hotline-main")


@pytest.mark.parametrize("usage", [USAGE_SINGLE, USAGE_MULTI])
async def test_fixed_usage_reply_is_consumed_whole(usage: bytes):
    chan, _ = our_channel(usage + b"200 result=1 (hotline-main)\n")
    with pytest.raises(AgiUsageError) as info:
        await chan.send_command("GET DATA")
    assert info.value.usage[0].startswith("Invalid command syntax.")
    assert await chan.get_variable("HOTLINE_QUEUE") == "hotline-main"


# --- 6. unsolicited HANGUP ---------------------------------------------------------------


async def test_fault_unsolicited_hangup_shifts_every_reply():
    request, _ = panoramisk_request(b"200 result=1\nHANGUP\n" + DEAD + b"200 result=1\n")
    await request.send_command('SET VARIABLE A "1"')
    await request.send_command("GET DATA x 100 1")
    third = await request.send_command('SET VARIABLE B "2"')
    assert third["status_code"] == 511  # the GET DATA's reply, given to SET VARIABLE


async def test_fixed_unsolicited_hangup_is_recognised():
    chan, writer = our_channel(b"200 result=1\nHANGUP\n" + DEAD + b"200 result=1\n")
    await chan.set_variable("A", "1")
    with pytest.raises(AgiDeadChannel):
        await chan.get_data("x", 100, 1)
    assert chan.hung_up
    await chan.set_variable("B", "2")  # its own 200
    with pytest.raises(AgiHangup):
        await chan.stream_file("x")  # not even sent: the channel is dead
    assert writer.data.count(b"\n") == 3


async def test_timeout_reply_parses():
    chan, _ = our_channel(
        b"200 result= (timeout)\n200 result=12 (timeout)\n200 result=0 endpos=8000\n"
    )
    assert await chan.get_data("x", 100, 4) == ("", True)
    assert await chan.get_data("x", 100, 4) == ("12", True)
    assert await chan.stream_file("x", "12") is None


async def test_silent_pbx_does_not_hold_the_session_forever():
    reader = asyncio.StreamReader()  # never fed: Asterisk went quiet
    app = AgiApplication(reply_timeout=0.05)
    chan = AgiChannel(app, {"agi_uniqueid": "1.1"}, reader, CaptureWriter())  # type: ignore[arg-type]
    with pytest.raises(AgiProtocolError, match="no reply"):
        await chan.send_command("ANSWER")
