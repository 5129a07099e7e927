"""A scriptable AMI peer over real TCP for client fault tests.

It speaks the AMI framing exactly as Asterisk 22 does (banner, Login answers from
a-login-success.txt) and lets a test push arbitrary bytes, stop answering, or record
what the client wrote. The full PBX stand-in (`pbx.standin`) is used for call flows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ami.protocol import AmiFrameParser, AmiMessage


class ScriptedAmiPeer:
    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.received: list[AmiMessage] = []
        self.raw_received = bytearray()
        self.hung = False
        self.logins = 0
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for w in self.writers:
            w.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        parser = AmiFrameParser(expect_banner=False)
        try:
            while data := await reader.read(65536):
                self.raw_received += data
                if self.hung:
                    continue  # a hung Asterisk: socket open, nothing answered
                for msg in parser.feed(data):
                    self.received.append(msg)
                    await self._answer(writer, msg)
        except ConnectionError:
            pass

    async def _answer(self, writer: asyncio.StreamWriter, msg: AmiMessage) -> None:
        action, aid = msg.get("Action"), msg.action_id
        if action == "Login":
            self.logins += 1
            writer.write(
                f"Response: Success\r\nActionID: {aid}\r\n"
                "Message: Authentication accepted\r\n\r\n".encode()
            )
            writer.write(
                b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 6\r\n"
                b"LastReload: 6\r\nStatus: Fully Booted\r\n\r\n"
            )
            self.connected.set()
        elif action == "Ping":
            writer.write(
                f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\n"
                "Timestamp: 1795303930.000000\r\n\r\n".encode()
            )
        elif action in ("CoreShowChannels", "QueueStatus"):
            done = (
                "CoreShowChannelsComplete"
                if action == "CoreShowChannels"
                else "QueueStatusComplete"
            )
            writer.write(
                f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n"
                "Message: will follow\r\n\r\n"
                f"Event: {done}\r\nActionID: {aid}\r\nEventList: Complete\r\n"
                "ListItems: 0\r\n\r\n".encode()
            )
        elif action == "Logoff":
            writer.write(
                f"Response: Goodbye\r\nActionID: {aid}\r\n"
                "Message: Thanks for all the fish.\r\n\r\n".encode()
            )
        else:
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nMessage: ok\r\n\r\n".encode())
        await writer.drain()

    async def push(self, data: bytes, *, pause: float = 0.0) -> None:
        for w in list(self.writers):
            if not w.is_closing():
                w.write(data)
                await w.drain()
        if pause:
            await asyncio.sleep(pause)


@pytest.fixture
async def peer() -> AsyncIterator[ScriptedAmiPeer]:
    p = ScriptedAmiPeer()
    await p.start()
    yield p
    await p.stop()
