"""`WS /ws/console` on a real uvicorn server: auth, and delivery only to the right user."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import console_test_harness as h
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from console.socket_recheck import SocketRecheck


@pytest.fixture
async def live(world: h.World) -> AsyncIterator[h.LiveServer]:
    server, task, live = await h.start_server(world.app())
    try:
        yield live
    finally:
        await h.stop_server(server, task)


async def login(live: h.LiveServer, username: str) -> str:
    async with httpx.AsyncClient(base_url=live.url) as c:
        return await h.token_for(c, username)


async def receive(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


async def wait_subscribed(world: h.World, topic: str, count: int = 1) -> None:
    for _ in range(500):
        if world.bus.subscriber_count(topic) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"nobody subscribed to {topic}")


async def test_anonymous_and_forged_are_refused_with_401(
    world: h.World, live: h.LiveServer
) -> None:
    ws_url = f"ws://127.0.0.1:{live.port}/ws/console"
    for url in (ws_url, ws_url + "?token=forged.token"):
        with pytest.raises(InvalidStatus) as info:
            async with connect(url):
                pass
        assert info.value.response.status_code == 401


async def test_cross_site_cookie_handshake_is_refused(world: h.World, live: h.LiveServer) -> None:
    token = await login(live, "alice")
    with pytest.raises(InvalidStatus) as info:
        async with connect(
            f"ws://127.0.0.1:{live.port}/ws/console",
            additional_headers={"Cookie": f"hotline_session={token}"},
            origin="http://evil.example",  # type: ignore[arg-type]
        ):
            pass
    assert info.value.response.status_code == 403


async def test_messages_reach_only_their_user(world: h.World, live: h.LiveServer) -> None:
    alice_token = await login(live, "alice")
    bob_token = await login(live, "bob")
    sue_token = await login(live, "sue")
    base = f"ws://127.0.0.1:{live.port}/ws/console"
    async with (
        connect(f"{base}?token={alice_token}") as alice,
        connect(base, additional_headers={"Authorization": f"Bearer {bob_token}"}) as bob,
        connect(
            base,
            additional_headers={"Cookie": f"hotline_session={sue_token}"},
            origin=f"http://127.0.0.1:{live.port}",  # type: ignore[arg-type]
        ) as sue,
    ):
        for ws, name in ((alice, "alice"), (bob, "bob"), (sue, "sue")):
            hello = await receive(ws)
            assert hello["type"] == "hello" and hello["username"] == name
        await wait_subscribed(world, "user:alice")
        await wait_subscribed(world, "user:bob")
        await wait_subscribed(world, "supervisors")

        ringing = {
            "type": "ringing",
            "call_id": "1700000600.1",
            "caller_number": "01012345678",
            "site_code": "4401001",
        }
        await world.bus.publish("user:alice", ringing)
        await world.bus.publish("supervisors", {"type": "call_queued", "call_id": "1700000600.1"})
        await world.bus.publish(
            "user:bob", {"type": "call_ended", "call_id": "9.9", "outcome": "answered"}
        )

        assert await receive(alice) == ringing
        assert (await receive(bob))["call_id"] == "9.9"
        assert (await receive(sue))["type"] == "call_queued"
        # Nobody got anybody else's message: the next thing each sees is its heartbeat ack.
        for ws in (alice, bob, sue):
            await ws.send(json.dumps({"type": "heartbeat"}))
            assert (await receive(ws))["type"] == "heartbeat_ack"

        # Emergency changes go to everybody.
        await world.bus.publish("emergency", {"type": "emergency", "active": True})
        for ws in (alice, bob, sue):
            assert (await receive(ws))["type"] == "emergency"

        seen = {c.username for c in await world.deps.presence.consoles()}
        assert seen == {"alice", "bob", "sue"}

    for _ in range(200):
        if world.bus.subscriber_count("user:alice") == 0:
            break
        await asyncio.sleep(0.01)
    assert world.bus.subscriber_count("user:alice") == 0  # closed sockets unsubscribe


async def test_console_sockets_are_not_compressed(world: h.World, live: h.LiveServer) -> None:
    token = await login(live, "alice")
    url = f"ws://127.0.0.1:{live.port}/ws/console?token={token}"
    # The client offers permessage-deflate (as browsers do); the server declines it.
    async with connect(url) as ws:
        assert "permessage-deflate" in (ws.request.headers.get("Sec-WebSocket-Extensions") or "")
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        assert (await receive(ws))["type"] == "hello"


async def test_logged_out_token_cannot_open_a_socket(world: h.World, live: h.LiveServer) -> None:
    token = await login(live, "alice")
    async with httpx.AsyncClient(base_url=live.url) as c:
        assert (await c.post("/api/logout", headers=h.bearer(token))).status_code == 200
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"ws://127.0.0.1:{live.port}/ws/console?token={token}"):
            pass
    assert info.value.response.status_code == 401


async def test_socket_closes_when_the_session_expires(world: h.World) -> None:
    from datetime import timedelta

    world.deps.session_ttl = timedelta(seconds=3)  # expiry is whole seconds
    server, task, live = await h.start_server(world.app())
    try:
        token = await login(live, "alice")
        async with connect(f"ws://127.0.0.1:{live.port}/ws/console?token={token}") as ws:
            assert (await receive(ws))["type"] == "hello"
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 10)
            assert info.value.rcvd is not None and info.value.rcvd.code == 4401
    finally:
        await h.stop_server(server, task)


async def test_bus_down_is_a_503_handshake(world: h.World, live: h.LiveServer) -> None:
    token = await login(live, "alice")

    async def broken(*topics: str) -> None:
        raise ConnectionError("redis unreachable")

    world.bus.subscribe = broken  # type: ignore[method-assign,assignment]
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"ws://127.0.0.1:{live.port}/ws/console?token={token}"):
            pass
    assert info.value.response.status_code == 503


async def test_sockets_of_a_session_ended_without_a_word_close_at_the_next_pass(
    world: h.World,
) -> None:
    """An account disabled straight in the database (no `session_end` on the bus): the
    re-check pass closes its socket with 4401; another user's socket stays open."""
    app = world.app()
    runtime = app.state.console
    runtime.rechecks = SocketRecheck(runtime.sessions, interval=0.2)
    server, task, live = await h.start_server(app)
    try:
        alice, bob = await login(live, "alice"), await login(live, "bob")
        url = f"ws://127.0.0.1:{live.port}/ws/console?token="
        async with connect(url + alice) as alice_ws, connect(url + bob) as bob_ws:
            assert (await receive(alice_ws))["type"] == "hello"
            assert (await receive(bob_ws))["type"] == "hello"
            assert runtime.rechecks.watched == 2
            await world.users.set_active("alice", False)
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(alice_ws.recv(), 10)
            assert info.value.rcvd is not None and info.value.rcvd.code == 4401
            assert info.value.rcvd.reason == "this account is no longer active"
            await asyncio.sleep(0.5)  # two more passes
            await bob_ws.send(json.dumps({"type": "heartbeat"}))
            assert (await receive(bob_ws))["type"] == "heartbeat_ack"
        for _ in range(100):
            if runtime.rechecks.watched == 0:
                break
            await asyncio.sleep(0.02)
        assert runtime.rechecks.watched == 0
    finally:
        await h.stop_server(server, task)


async def test_the_hello_reads_the_agents_state_back_from_the_pbx(
    world: h.World, live: h.LiveServer
) -> None:
    # The PBX already has alice paused (made so elsewhere, or before a restart): the page's
    # hello must say so, not what this process happens to know.
    await world.pbx.queue_add("hotline-main", "PJSIP/1001", member_name="alice")
    await world.pbx.queue_pause("PJSIP/1001", True)
    token = await login(live, "alice")
    async with connect(f"ws://127.0.0.1:{live.port}/ws/console?token={token}") as ws:
        hello = await receive(ws)
    assert hello["type"] == "hello" and hello["agent_state"] == "paused"
