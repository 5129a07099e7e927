"""Real local peers for the notification tests: an HTTP recorder and an SMTP server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from storage.database import Database
from testkit.scratch_db import create_tables, scratch_sqlite_url

OK = (200, {"errcode": 0, "errmsg": "ok"})


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class HttpRecorder:
    """HTTP/1.1 server on 127.0.0.1 that records every request and answers from a script."""

    requests: list[RecordedRequest] = field(default_factory=list)
    script: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    port: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str, *answers: tuple[int, Any]) -> None:
        """Answer the next requests to `path` with these (status, json); then 200 ok."""
        self.script.setdefault(path, []).extend(answers)

    def to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = (await reader.readline()).decode("latin-1").rstrip("\r\n")
                    if not h:
                        break
                    k, v = h.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                parts = urlsplit(target)
                self.requests.append(
                    RecordedRequest(method, parts.path, parse_qs(parts.query), headers, body)
                )
                self.arrived.set()
                queue = self.script.get(parts.path) or []
                status, answer = queue.pop(0) if queue else OK
                payload = json.dumps(answer).encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()


@pytest.fixture
async def http_recorder() -> AsyncIterator[HttpRecorder]:
    recorder = HttpRecorder()
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    recorder.port = server.sockets[0].getsockname()[1]
    try:
        yield recorder
    finally:
        server.close()
        await server.wait_closed()


@dataclass
class MailSink:
    port: int = 0
    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((envelope, msg))
        return "250 OK"


@pytest.fixture
async def smtp_sink() -> AsyncIterator[MailSink]:
    sink = MailSink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(sink, hostname="sink.local"), "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(scratch_sqlite_url(tmp_path))
    await create_tables(db)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The same test on a scratch SQLite file and on a scratch PostgreSQL database."""
    from testkit.scratch_db import (
        create_scratch_postgres,
        drop_scratch_postgres,
        postgres_available,
    )

    if request.param == "sqlite":
        url = scratch_sqlite_url(tmp_path)
    else:
        if not await asyncio.to_thread(postgres_available):
            pytest.skip("PostgreSQL not reachable")
        url = await asyncio.to_thread(create_scratch_postgres, None, "hotline_supervision")
    db = Database(url)
    try:
        await create_tables(db)
        yield db
    finally:
        await db.dispose()
        if request.param == "postgres":
            await asyncio.to_thread(drop_scratch_postgres, url)
