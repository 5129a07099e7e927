"""Several console processes on one PostgreSQL database and one Redis, as `hotline serve`
wires them (`console.components.shared_state`): each "process" is its own app with
its own database engine, Redis client and bus. A log-out, failed log-ins and open
consoles are seen by all of them, and by one started afterwards."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import console_test_harness as h
import httpx
import pytest
from cluster_test_support import CuttableProxy
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect

from bus import InProcessBus
from console import create_app
from console.components import shared_state
from console.errors import LogoutNotRecorded
from console.presence import ConsolePresence
from console.redis_state import SharedLoginAttempts, SharedPresence
from console.shared_state import ConsoleState
from console.throttling import LocalLoginAttempts
from fallback.errors import HealthCheckInconclusive
from fallback.health import ConsoleHeartbeats
from hotline.settings import Settings
from storage.database import Database
from storage.revocations import RevocationRepository
from storage.users import UserRepository

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@dataclasses.dataclass
class Process:
    name: str
    db: Database
    state: ConsoleState
    app: Any
    client: httpx.AsyncClient

    async def close(self) -> None:
        await self.client.aclose()
        await self.state.close()
        await self.db.dispose()


@pytest.fixture
async def cluster(
    pg_url: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[Callable[..., Any]]:
    """`await cluster(name)` starts one more console process (`db_url=` to route its
    database connections elsewhere, e.g. through a proxy)."""
    world = await h.build_world(pg_url, fresh=False)  # an emptied database, users seeded
    started: list[Process] = []

    async def start(name: str, *, db_url: str = pg_url) -> Process:
        settings = Settings(
            db_url=db_url, redis_url=redis_url, redis_prefix=redis_prefix, node_name=name
        )
        db = Database(db_url)
        state = shared_state(settings, RevocationRepository(db), node=name)
        deps = dataclasses.replace(
            world.deps,
            users=UserRepository(db),
            bus=InProcessBus(),
            revocations=state.revocations,
            login_attempts=state.login_attempts,
            presence=state.presence,
        )
        app = create_app(deps)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        client = httpx.AsyncClient(transport=transport, base_url=f"http://{name}.test")
        process = Process(name, db, state, app, client)
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            await process.close()
        await world.bus.close()
        await world.db.dispose()


async def me(process: Process, token: str) -> int:
    return (await process.client.get("/api/me", headers=h.bearer(token))).status_code


async def test_the_wiring_shares_through_redis_only_when_it_is_configured(
    tmp_path: Any, redis_url: str
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    local = shared_state(Settings(), RevocationRepository(db), node="n1")
    shared = shared_state(Settings(redis_url=redis_url), RevocationRepository(db), node="n1")
    try:
        assert isinstance(local.revocations, RevocationRepository)
        assert isinstance(local.login_attempts, LocalLoginAttempts)
        assert isinstance(local.presence, ConsolePresence)
        assert isinstance(shared.revocations, RevocationRepository)
        assert isinstance(shared.login_attempts, SharedLoginAttempts)
        assert isinstance(shared.presence, SharedPresence)
    finally:
        await local.close()
        await shared.close()
        await db.dispose()


async def test_a_log_out_on_one_process_holds_on_the_others_and_after_a_restart(
    cluster: Callable[..., Any],
) -> None:
    a, b = await cluster("console-a"), await cluster("console-b")
    token = await h.token_for(a.client, "alice")
    sue = await h.token_for(b.client, "sue")
    assert await me(b, token) == 200
    out = await a.client.post("/api/logout", headers=h.bearer(token))
    assert out.status_code == 200 and out.json() == {"logged_out": True}
    assert await me(a, token) == 401
    assert await me(b, token) == 401
    c = await cluster("console-c")  # started after the log-out: knows it from the database
    assert await me(c, token) == 401
    assert await me(c, sue) == 200  # only that session


async def test_failed_log_ins_on_one_process_count_on_the_others(
    cluster: Callable[..., Any],
) -> None:
    a, b = await cluster("console-a"), await cluster("console-b")
    wrong = {"username": "alice", "password": "not the password"}
    for process in (a, b, a, b):
        assert (await process.client.post("/api/login", json=wrong)).status_code == 401
    # Five failures in all, never more than two on one process: locked everywhere.
    assert (await a.client.post("/api/login", json=wrong)).status_code == 401
    right = {"username": "alice", "password": h.PASSWORD}
    for process in (a, b, await cluster("console-c")):
        refused = await process.client.post("/api/login", json=right)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    # Another desk is not locked out.
    elsewhere = httpx.ASGITransport(app=b.app, client=("10.0.0.7", 50000))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://b.test") as desk:
        assert (await desk.post("/api/login", json=right)).status_code == 200


async def test_a_console_open_on_one_process_is_listed_by_the_others(
    cluster: Callable[..., Any],
) -> None:
    a, b = await cluster("console-a"), await cluster("console-b")
    server, _task, live = await h.start_server(a.app)  # websockets need a real server
    try:
        alice = await h.token_for(a.client, "alice")
        sue = h.bearer(await h.token_for(b.client, "sue"))
        assert (await b.client.get("/api/consoles", headers=sue)).json()["items"] == []
        async with connect(f"ws://127.0.0.1:{live.port}/ws/console?token={alice}") as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
            listed = (await b.client.get("/api/consoles", headers=sue)).json()["items"]
            assert [(c["username"], c["connections"]) for c in listed] == [("alice", 1)]
        for _ in range(200):  # the socket's end is written when A's handler finishes
            if not (await b.client.get("/api/consoles", headers=sue)).json()["items"]:
                break
            await asyncio.sleep(0.02)
        assert (await b.client.get("/api/consoles", headers=sue)).json()["items"] == []
    finally:
        await h.stop_server(server)


async def test_the_leaders_health_watch_hears_consoles_on_other_processes(
    cluster: Callable[..., Any],
) -> None:
    """The health watch runs on the leader; agents' consoles may all be on console-only
    processes. Their heartbeats reach the leader's `consoles` check through Redis."""
    leader, console = await cluster("leader"), await cluster("console-only")
    check = ConsoleHeartbeats(
        lambda: datetime.now(UTC),
        max_age=timedelta(seconds=30),
        elsewhere=leader.state.heartbeats_by_source,
    )
    server, _task, live = await h.start_server(console.app)
    try:
        alice = await h.token_for(console.client, "alice")
        with pytest.raises(HealthCheckInconclusive):
            await check.check()  # nobody yet, still within the start-up grace
        async with connect(f"ws://127.0.0.1:{live.port}/ws/console?token={alice}") as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
            await ws.send(json.dumps({"type": "heartbeat"}))
            assert json.loads(await ws.recv())["type"] == "heartbeat_ack"
            assert await check.check() == "1 console(s) alive"
            assert check.fresh_sources() == ["console:alice"]
    finally:
        await h.stop_server(server)


async def test_a_log_out_during_a_database_outage(cluster: Callable[..., Any], pg_url: str) -> None:
    """Resolving fails like the user lookup (503); a log-out the database could not take
    is refused on its own process at once and recorded when the database is back."""
    proxy = CuttableProxy(upstream_port=make_url(pg_url).port or 5432)
    await proxy.start()
    try:
        cut_url = make_url(pg_url).set(port=proxy.port).render_as_string(hide_password=False)
        a, b = await cluster("console-a", db_url=cut_url), await cluster("console-b")
        token = await h.token_for(a.client, "alice")
        sue = await h.token_for(a.client, "sue")
        session = await a.app.state.console.sessions.resolve(token)
        proxy.cut()
        down = await a.client.post("/api/logout", headers=h.bearer(sue))
        assert down.status_code == 503 and "数据库" in down.json()["detail"]  # zh-CN by default
        assert await me(b, sue) == 200  # that log-out did not happen: nothing claimed it did
        # The database goes away between the check of the session and the log-out itself.
        with pytest.raises(LogoutNotRecorded):
            await a.app.state.console.sessions.revoke(session)
        assert await me(a, token) == 401  # refused here at once, database or not
        assert await me(b, token) == 200  # not known elsewhere yet
        proxy.restore()
        assert await me(a, sue) == 200  # the next request A serves records it
        assert await me(b, token) == 401
        assert await me(await cluster("console-c"), token) == 401
    finally:
        await proxy.stop()
