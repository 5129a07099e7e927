"""Peers for the stand-in's integration tests: a plain AMI socket client and a scripted
FastAGI server playing our IVR (the real IVR lives in `ivr/`; these tests only need a peer
that speaks FastAGI)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from pbx.standin import PbxStandIn

Msg = list[tuple[str, str]]


def parse_message(raw: bytes) -> Msg:
    headers: Msg = []
    for line in raw.decode("utf-8").split("\r\n"):
        if not line:
            continue
        key, _, value = line.partition(": ")
        headers.append((key, value))
    return headers


def get(msg: Msg, key: str) -> str | None:
    return next((v for k, v in msg if k == key), None)


class AmiTestClient:
    """Bytes in, bytes out: no dependency on the controller's AMI client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.banner = b""
        self.messages: list[Msg] = []
        self.raw: list[bytes] = []
        self._cond = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.reset = False  # the server closed with TCP RST
        self._n = 0

    @classmethod
    async def connect(cls, port: int, *, login: bool = True, events: str = "on") -> AmiTestClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        client.banner = await reader.readline()
        client._task = asyncio.ensure_future(client._read())
        if login:
            reply = await client.action(
                "Login", Username="hotline", Secret="hotline-secret", Events=events
            )
            assert get(reply, "Response") == "Success", reply
        return client

    async def _read(self) -> None:
        buf = b""
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                buf += data
                while b"\r\n\r\n" in buf:
                    raw, buf = buf.split(b"\r\n\r\n", 1)
                    async with self._cond:
                        self.raw.append(raw + b"\r\n\r\n")
                        self.messages.append(parse_message(raw))
                        self._cond.notify_all()
        except ConnectionResetError:
            self.reset = True
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed.set()
            async with self._cond:
                self._cond.notify_all()

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    def send(self, action: str, action_id: str | None = None, **headers: str) -> str | None:
        lines = [f"Action: {action}"]
        if action_id is None:
            self._n += 1
            action_id = f"t-{self._n}"
        if action_id:
            lines.append(f"ActionID: {action_id}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        return action_id or None

    async def wait_for(self, pred: Callable[[Msg], bool], timeout: float = 10.0) -> Msg:
        seen = 0

        async def scan() -> Msg:
            nonlocal seen
            async with self._cond:
                while True:
                    while seen < len(self.messages):
                        msg = self.messages[seen]
                        seen += 1
                        if pred(msg):
                            return msg
                    if self.closed.is_set():
                        raise ConnectionError("closed")
                    await self._cond.wait()

        return await asyncio.wait_for(scan(), timeout)

    async def wait_event(self, name: str, timeout: float = 10.0, **fields: str) -> Msg:
        def pred(m: Msg) -> bool:
            return get(m, "Event") == name and all(get(m, k) == v for k, v in fields.items())

        return await self.wait_for(pred, timeout)

    async def action(self, action: str, **headers: str) -> Msg:
        aid = self.send(action, **headers)
        return await self.wait_for(
            lambda m: get(m, "ActionID") == aid and get(m, "Response") is not None
        )

    async def list_action(self, action: str, complete: str, **headers: str) -> list[Msg]:
        aid = self.send(action, **headers)
        await self.wait_for(lambda m: get(m, "Event") == complete and get(m, "ActionID") == aid)
        return [m for m in self.messages if get(m, "ActionID") == aid]

    def events_for(self, linkedid: str) -> list[Msg]:
        return [
            m
            for m in self.messages
            if get(m, "Linkedid") == linkedid or get(m, "DestLinkedid") == linkedid
        ]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


@dataclass
class IvrPlan:
    """What the scripted IVR does for each call."""

    site: str = "234567"
    survey: bool = True
    queue: str = "hotline-main"
    preferred: str = ""  # HOTLINE_PREFERRED for the dialplan's Dial() before the queue
    preferred_timeout: str = "15"


@dataclass
class ScriptedIvr:
    """A FastAGI server that asks for a site code and a level, like ours does."""

    plan: IvrPlan = field(default_factory=IvrPlan)
    envs: list[dict[str, str]] = field(default_factory=list)
    replies: list[list[str]] = field(default_factory=list)
    server: asyncio.Server | None = None
    port: int = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env: dict[str, str] = {}
        while True:
            line = (await reader.readline()).decode()
            if line in ("\n", ""):
                break
            key, _, value = line.rstrip("\n").partition(": ")
            env[key] = value
        self.envs.append(env)
        replies: list[str] = []
        self.replies.append(replies)

        async def cmd(text: str) -> str:
            writer.write((text + "\n").encode())
            await writer.drain()
            reply = (await reader.readline()).decode().rstrip("\n")
            if reply == "HANGUP":
                reply = (await reader.readline()).decode().rstrip("\n")
            replies.append(reply)
            return reply

        try:
            if env.get("agi_network_script") == "survey":
                reply = await cmd("GET DATA hotline/survey 5000 1")
                score = reply.split("result=", 1)[1].split(" ")[0] if "result=" in reply else ""
                await cmd(f'SET VARIABLE HOTLINE_SURVEY_SCORE "{score}"')
                return
            await cmd("ANSWER")
            await cmd('STREAM FILE hotline/welcome ""')
            reply = await cmd("GET DATA hotline/enter-site 8000 7")
            site = reply.split("result=", 1)[1].split(" ")[0] if "result=" in reply else ""
            await cmd(f'SET VARIABLE HOTLINE_SITE "{site}"')
            reply = await cmd("GET DATA hotline/level-menu 6000 1")
            level = reply.split("result=", 1)[1].split(" ")[0] if "result=" in reply else ""
            prio = {"1": 10, "2": 8, "3": 6, "4": 4}.get(level, 5)
            await cmd(f'SET VARIABLE HOTLINE_LEVEL "{level}"')
            await cmd(f'SET VARIABLE HOTLINE_PRIORITY "{prio}"')
            await cmd(f'SET VARIABLE HOTLINE_QUEUE "{self.plan.queue}"')
            await cmd(f'SET VARIABLE HOTLINE_CALLREF "{env.get("agi_uniqueid", "")}"')
            if self.plan.survey:
                await cmd('SET VARIABLE HOTLINE_SURVEY "1"')
            if self.plan.preferred:
                await cmd(f'SET VARIABLE HOTLINE_PREFERRED "{self.plan.preferred}"')
                await cmd(f'SET VARIABLE HOTLINE_PREFERRED_TIMEOUT "{self.plan.preferred_timeout}"')
            await cmd('SET VARIABLE HOTLINE_IVR_RESULT "ok"')
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def ivr() -> AsyncIterator[ScriptedIvr]:
    server = ScriptedIvr()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def pbx(ivr: ScriptedIvr) -> AsyncIterator[PbxStandIn]:
    standin = PbxStandIn(agi_port=ivr.port, speed=40.0, auth_failure_delay=0.05, prompt_seconds=0.2)
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
async def ami(pbx: PbxStandIn) -> AsyncIterator[AmiTestClient]:
    client = await AmiTestClient.connect(pbx.ami_port)
    yield client
    await client.close()
