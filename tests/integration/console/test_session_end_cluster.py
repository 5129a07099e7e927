"""Sessions end on every console process at once: two console processes (each its own
app, database engine, Redis bus and uvicorn server, as `hotline serve` wires them) on one
PostgreSQL database and one Redis. A log-out on one, or `hotline users disable|passwd|role`
from the command line, closes the user's websocket held by the other with code 4401
within 2 s."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import console_test_harness as h
import httpx
import pytest
import typer
from typer.testing import CliRunner
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bus.redis import RedisBus
from console import create_app
from console.components import shared_state
from console.server import ConsoleServer
from console.socket_recheck import RECHECK_SECONDS
from hotline.admin_commands import users_app
from hotline.settings import Settings
from storage.database import Database
from storage.revocations import RevocationRepository
from storage.users import UserRepository

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@dataclasses.dataclass
class Process:
    server: ConsoleServer
    client: httpx.AsyncClient
    closers: list[Callable[[], Any]]

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/ws/console"


@pytest.fixture
async def cluster(
    pg_url: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[Callable[[str], Any]]:
    world = await h.build_world(pg_url, fresh=False)
    started: list[Process] = []

    async def start(name: str) -> Process:
        settings = Settings(
            db_url=pg_url, redis_url=redis_url, redis_prefix=redis_prefix, node_name=name
        )
        db = Database(pg_url)
        state = shared_state(settings, RevocationRepository(db), node=name)
        bus = RedisBus(redis_url, prefix=redis_prefix)
        await bus.start()
        deps = dataclasses.replace(
            world.deps,
            users=UserRepository(db),
            bus=bus,
            revocations=state.revocations,
            login_attempts=state.login_attempts,
            presence=state.presence,
            session_activity=state.activity,
        )
        server = ConsoleServer(create_app(deps), host="127.0.0.1", port=0)
        await server.start()
        client = httpx.AsyncClient(base_url=server.url)
        process = Process(
            server, client, [client.aclose, server.stop, bus.close, state.close, db.dispose]
        )
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            for close in process.closers:
                await close()
        await world.bus.close()
        await world.db.dispose()


async def open_console(process: Process, token: str) -> ClientConnection:
    ws = await connect(f"{process.ws_url}?token={token}")
    hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert hello["type"] == "hello"
    return ws


async def closed_within(ws: ClientConnection, seconds: float) -> tuple[int | None, float]:
    started = time.monotonic()
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(seconds):
            while True:
                await ws.recv()
    return ws.close_code, time.monotonic() - started


async def test_a_log_out_on_one_process_closes_the_websocket_on_the_other(
    cluster: Callable[[str], Any],
) -> None:
    a, b = await cluster("console-a"), await cluster("console-b")
    token = await h.token_for(a.client, "alice")
    other = await h.token_for(a.client, "alice")  # a second session of hers stays open
    ws = await open_console(b, token)
    ws_other = await open_console(b, other)
    await asyncio.sleep(0.2)  # the Redis subscription of process B is in place
    logout = await a.client.post("/api/logout", headers=h.bearer(token))
    assert logout.status_code == 200
    # Well inside RECHECK_SECONDS: only the word from process A can have closed it.
    assert RECHECK_SECONDS > 8.0
    code, _took = await closed_within(ws, 8.0)
    assert code == 4401
    await ws_other.send(json.dumps({"type": "heartbeat"}))
    ack = json.loads(await asyncio.wait_for(ws_other.recv(), 2))
    assert ack["type"] == "heartbeat_ack"  # only the logged-out session ended
    await ws_other.close()


@pytest.mark.parametrize(
    "command",
    [["disable", "bob"], ["passwd", "bob", "--password-stdin"], ["role", "bob", "supervisor"]],
)
async def test_user_commands_close_the_users_websockets_everywhere(
    cluster: Callable[[str], Any],
    command: list[str],
    pg_url: str,
    redis_url: str,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = await cluster("console-a"), await cluster("console-b")
    token = await h.token_for(a.client, "bob")
    sockets = [await open_console(a, token), await open_console(b, token)]
    await asyncio.sleep(0.2)
    monkeypatch.setenv("HOTLINE_DB_URL", pg_url)
    monkeypatch.setenv("HOTLINE_REDIS_URL", redis_url)
    monkeypatch.setenv("HOTLINE_REDIS_PREFIX", redis_prefix)
    app = typer.Typer()
    app.add_typer(users_app, name="users")
    started = time.monotonic()
    # The CLI runs its own event loop: off this test's loop, as a separate process would.
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["users", *command], input="brand new secret 5\n"
    )
    assert result.exit_code == 0, result.output
    for ws in sockets:
        code, _ = await closed_within(ws, 2.0)
        assert code == 4401
    assert time.monotonic() - started < 2.0 + 1.0  # the CLI's own start included
    assert (await a.client.get("/api/me", headers=h.bearer(token))).status_code == 401
