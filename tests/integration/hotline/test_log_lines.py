"""What an operator's log shows for expected disconnects and hostile caller data.

Each case runs with the product's own log configuration (hotline.logs) and counts the
lines the handler wrote: an expected disconnect is one line, never a traceback, and a
caller name carrying CR/LF stays on its line.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.logs import configure_logging
from ivr.directory import InMemorySiteDirectory, InMemorySurveySink, StaticIvrMode
from ivr.menu_file import load_menu
from ivr.server import IvrServer
from pbx.agi_client import agi_environment
from routing.domain.levels import SlaPolicy


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything the product's handler writes, at a service's default levels."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    configure_logging(verbose=False, service=True)
    stream = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved_handlers:
        root.addHandler(h)
    root.setLevel(saved_level)


async def _ivr_server(tmp_path: Path) -> IvrServer:
    server = IvrServer(
        load_menu(),
        InMemorySiteDirectory([]),
        StaticIvrMode(),
        InMemorySurveySink(),
        policy=SlaPolicy(),
        sounds_dir=tmp_path,
    )
    await server.start("127.0.0.1", 0)
    return server


def _lines(stream: io.StringIO, needle: str = "") -> list[str]:
    return [line for line in stream.getvalue().splitlines() if needle in line]


async def _reset_after_first_command(port: int, env: dict[str, str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(("".join(f"{k}: {v}\n" for k, v in env.items()) + "\n").encode())
    await writer.drain()
    await reader.readline()  # ANSWER
    sock = writer.get_extra_info("socket")
    # SO_LINGER 0: close() sends a TCP reset, as a PBX host that dies mid-call would.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    await asyncio.sleep(0)  # let the transport finish closing


async def test_fastagi_reset_is_one_line(tmp_path: Path, log_lines: io.StringIO) -> None:
    server = await _ivr_server(tmp_path)
    try:
        env = agi_environment(
            script="ivr",
            host="127.0.0.1",
            port=server.port or 0,
            channel="PJSIP/trunk-00000001",
            uniqueid="1795303935.7",
            caller_number="13900000001",
            caller_name="Caller",
        )
        await _reset_after_first_command(server.port or 0, env)
        for _ in range(100):
            if "1795303935.7" in log_lines.getvalue():
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # anything else it would log has had its chance
    finally:
        await server.stop()
    text = log_lines.getvalue()
    assert "Traceback" not in text
    about_call = _lines(log_lines, "1795303935.7")
    assert len(about_call) == 1, text
    assert " INFO " in about_call[0] and "connection" in about_call[0]
    assert server.failures == 0


async def test_crlf_caller_name_stays_on_one_line(log_lines: io.StringIO) -> None:
    log = logging.getLogger("ami.tracker")
    log.info("call %s: started from %s", "17.1", "x\r\nINFO forged line")
    log.warning("caller name %s", "Zhang\r\nWARNING admin logged in")
    lines = _lines(log_lines)
    assert len(lines) == 2
    assert lines[0].endswith("call 17.1: started from x\\r\\nINFO forged line")
    assert lines[1].endswith("caller name Zhang\\r\\nWARNING admin logged in")


def test_json_lines_parse(log_lines: io.StringIO) -> None:
    configure_logging(verbose=False, fmt="json", service=True)
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    log = logging.getLogger("ivr.server")
    log.info("call %s: IVR done: %s", "1795303935.9", "HOTLINE_LEVEL=1")
    log.warning("odd name %s", "a\nb\x1b[31m")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("call %s: failed", "1795303935.10")
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["level"] for r in records] == ["INFO", "WARNING", "ERROR"]
    assert records[0]["call_id"] == "1795303935.9"
    assert records[0]["component"] == "ivr.server"
    assert records[1]["message"] == "odd name a\nb\x1b[31m"
    assert "call_id" not in records[1]
    assert "RuntimeError: boom" in records[2]["exc"]
    assert len(stream.getvalue().splitlines()) == 3


async def test_wallboard_socket_close_is_quiet(log_lines: io.StringIO) -> None:
    from fastapi import FastAPI
    from websockets.asyncio.client import connect

    from bus import InProcessBus
    from console.server import ConsoleServer
    from supervision.web import SupervisionWebDeps, router
    from testkit.open_access import any_websocket, anyone

    class NoStore:
        """The wallboard socket reads nothing from the supervision store."""

    app = FastAPI()
    bus = InProcessBus()
    deps = SupervisionWebDeps(
        NoStore(),  # type: ignore[arg-type]
        bus,
        require_supervisor=anyone,
        authorize_websocket=any_websocket,
    )
    app.include_router(router(deps))
    server = ConsoleServer(app, port=0)
    await server.start()
    try:
        for _ in range(3):
            async with connect(f"ws://127.0.0.1:{server.port}/ws/wallboard") as ws:
                await bus.publish("wallboard", {"type": "wallboard"})
                await asyncio.wait_for(ws.recv(), 2)
            await asyncio.sleep(0.2)
    finally:
        await server.stop()
    text = log_lines.getvalue()
    assert "Exception" not in text and "Traceback" not in text, text
    assert " ERROR " not in text and " WARNING " not in text, text
    assert len(_lines(log_lines, "wallboard viewer disconnected")) == 3, text
