"""Access in one console process on the real storage: client addresses behind proxies,
throttling, session epochs, user management, the audit trail, idle time-out, cookies,
healthz details, wallboard tokens, header limits."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import console_test_harness as h
import httpx
import pytest

from bus.topics import user_topic
from console import create_app
from storage.audit import AuditRepository

PROXY = "10.0.0.1"
A, B = "203.0.113.5", "203.0.113.6"


@pytest.fixture
async def make_client(
    world: h.World,
) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """`make_client(peer, **deps_changes)`: a client connecting from `peer` to an app
    whose deps have those changes (the stored audit trail and a trusted proxy by default)."""
    clients: list[httpx.AsyncClient] = []
    apps: dict[str, Any] = {}

    def make(peer: str = "127.0.0.1", **changes: Any) -> httpx.AsyncClient:
        key = repr(sorted(changes.items()))
        if key not in apps:
            changes.setdefault("trusted_proxies", (PROXY,))
            changes.setdefault("audit", AuditRepository(world.db))
            apps[key] = create_app(dataclasses.replace(world.deps, **changes))
        transport = httpx.ASGITransport(app=apps[key], client=(peer, 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://console.test")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def login(
    client: httpx.AsyncClient, user: str, password: str, via: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": via, "User-Agent": "pytest-browser"} if via else {}
    return await client.post(
        "/api/login", json={"username": user, "password": password}, headers=headers
    )


async def test_wrong_passwords_from_one_address_do_not_lock_the_user_out_elsewhere(
    make_client: Callable[..., httpx.AsyncClient], world: h.World
) -> None:
    proxy = make_client(PROXY)
    for _ in range(5):
        assert (await login(proxy, "sue", "wrong password!", via=A)).status_code == 401
    sixth = await login(proxy, "sue", "wrong password!", via=A)
    assert sixth.status_code == 429 and int(sixth.headers["retry-after"]) > 0
    assert (await login(proxy, "sue", h.PASSWORD, via=A)).status_code == 429  # A waits
    from_b = await login(proxy, "sue", h.PASSWORD, via=B)
    assert from_b.status_code == 200, from_b.text

    entries = await AuditRepository(world.db).entries(h_filter(actor="sue"))
    actions = [(e.action, e.client) for e in entries]
    assert actions[0] == ("login", B)
    assert ("login_failed", A) in actions and ("login_throttled", A) in actions
    assert entries[0].detail["user_agent"] == "pytest-browser"


async def test_an_untrusted_peers_forwarded_for_is_ignored(
    make_client: Callable[..., httpx.AsyncClient], world: h.World
) -> None:
    stranger = make_client("198.51.100.7")
    for _ in range(5):
        assert (await login(stranger, "bob", "wrong password!", via=A)).status_code == 401
    # Claiming another address does not get it round its lock: the peer is what counts.
    assert (await login(stranger, "bob", h.PASSWORD, via=B)).status_code == 429
    entries = await AuditRepository(world.db).entries(h_filter(actor="bob"))
    assert {e.client for e in entries} == {"198.51.100.7"}
    # The real proxy may still forward bob from elsewhere.
    assert (await login(make_client(PROXY), "bob", h.PASSWORD, via=B)).status_code == 200


def h_filter(**kwargs: Any) -> Any:
    from routing.domain.audit import AuditFilter

    return AuditFilter(**kwargs)


async def test_audit_api_is_for_supervisors_with_filters_newest_first(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = make_client()
    before = datetime.now(UTC) - timedelta(seconds=1)
    await login(client, "alice", "wrong password!")
    alice = await h.token_for(client, "alice")
    sue = await h.token_for(client, "sue")
    assert (await client.get("/api/audit", headers=h.bearer(alice))).status_code == 403
    assert (await client.get("/api/audit")).status_code == 401
    flip = await client.post(
        "/api/emergency", json={"active": True, "reason": "drill"}, headers=h.bearer(sue)
    )
    assert flip.status_code == 200
    everything = (await client.get("/api/audit", headers=h.bearer(sue))).json()["items"]
    assert set(everything[0]) == {"at", "actor", "action", "client", "detail"}
    assert [e["action"] for e in everything][:2] == ["emergency", "login"]
    assert everything[0]["detail"]["reason"] == "drill" and everything[0]["client"] == "127.0.0.1"
    ats = [e["at"] for e in everything]
    assert ats == sorted(ats, reverse=True)
    failed = (
        await client.get(
            "/api/audit",
            params={"actor": "alice", "action": "login_failed", "since": before.isoformat()},
            headers=h.bearer(sue),
        )
    ).json()["items"]
    assert len(failed) == 1 and failed[0]["actor"] == "alice"
    later = (
        await client.get(
            "/api/audit",
            params={"since": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
            headers=h.bearer(sue),
        )
    ).json()["items"]
    assert later == []


async def test_user_management_ends_sessions_and_keeps_an_admin(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = make_client()
    root = await h.token_for(client, "root")
    alice = await h.token_for(client, "alice")
    sue = await h.token_for(client, "sue")
    assert (await client.get("/api/users", headers=h.bearer(sue))).status_code == 403
    listed = (await client.get("/api/users", headers=h.bearer(root))).json()["items"]
    assert {
        "username": "alice",
        "role": "agent",
        "interface": "PJSIP/1001",
        "enabled": True,
    } in listed

    # The last admin can be neither disabled nor demoted.
    assert (await client.post("/api/users/root/disable", headers=h.bearer(root))).status_code == 409
    demote = await client.post(
        "/api/users/root/role", json={"role": "agent"}, headers=h.bearer(root)
    )
    assert demote.status_code == 409
    assert (await client.get("/api/me", headers=h.bearer(root))).status_code == 200

    weak = await client.post(
        "/api/users/alice/password", json={"password": "password123"}, headers=h.bearer(root)
    )
    assert weak.status_code == 422
    changed = await client.post(
        "/api/users/alice/password", json={"password": "new long secret 9"}, headers=h.bearer(root)
    )
    assert changed.status_code == 200
    assert (await client.get("/api/me", headers=h.bearer(alice))).status_code == 401
    assert (await login(client, "alice", "new long secret 9")).status_code == 200

    promoted = await client.post(
        "/api/users/sue/role", json={"role": "admin"}, headers=h.bearer(root)
    )
    assert promoted.json()["role"] == "admin"
    assert (await client.get("/api/me", headers=h.bearer(sue))).status_code == 401  # new role
    # Now root is not the last admin any more.
    assert (await client.post("/api/users/root/disable", headers=h.bearer(root))).status_code == 200
    assert (await client.get("/api/me", headers=h.bearer(root))).status_code == 401
    sue_admin = await h.token_for(client, "sue")
    assert (
        await client.post("/api/users/root/enable", headers=h.bearer(sue_admin))
    ).status_code == 200
    missing = await client.post("/api/users/nobody/disable", headers=h.bearer(sue_admin))
    assert missing.status_code == 404
    created = await client.post(
        "/api/users",
        json={"username": "carol", "role": "agent", "password": "tidy lantern 88"},
        headers=h.bearer(sue_admin),
    )
    assert created.status_code == 201
    actions = [
        e["action"]
        for e in (await client.get("/api/audit", headers=h.bearer(sue_admin))).json()["items"]
    ]
    for action in ("user_added", "user_enabled", "user_disabled", "user_role", "user_password"):
        assert action in actions


async def test_log_out_everywhere_refuses_every_older_token(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = make_client()
    first, second = await h.token_for(client, "bob"), await h.token_for(client, "bob")
    ended = await client.post("/api/logout-everywhere", headers=h.bearer(first))
    assert ended.status_code == 200
    for token in (first, second):
        assert (await client.get("/api/me", headers=h.bearer(token))).status_code == 401
    assert (
        await client.get("/api/me", headers=h.bearer(await h.token_for(client, "bob")))
    ).status_code == 200


async def test_idle_sessions_are_refused(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    now = [datetime.now(UTC)]
    client = make_client(clock=lambda: now[0], session_idle=timedelta(minutes=10))
    token = await h.token_for(client, "alice")
    for _ in range(3):  # used every 8 minutes: stays alive
        now[0] += timedelta(minutes=8)
        assert (await client.get("/api/me", headers=h.bearer(token))).status_code == 200
    now[0] += timedelta(minutes=11)
    idle = await client.get("/api/me", headers={**h.bearer(token), "Accept-Language": "en"})
    assert idle.status_code == 401 and "idle" in idle.json()["detail"]


async def test_secure_cookies_when_asked(make_client: Callable[..., httpx.AsyncClient]) -> None:
    secure = await login(make_client(secure_cookies=True), "alice", h.PASSWORD)
    assert "secure" in secure.headers["set-cookie"].lower()
    plain = await login(make_client(secure_cookies=False), "alice", h.PASSWORD)
    assert "secure" not in plain.headers["set-cookie"].lower()


async def test_healthz_details_need_a_log_in_or_a_local_address(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    remote = make_client("198.51.100.7")
    assert (await remote.get("/healthz")).json() == {"status": "ok"}
    token = await h.token_for(remote, "alice")
    detailed = (await remote.get("/healthz", headers=h.bearer(token))).json()
    assert detailed["status"] == "ok" and detailed["database"] == "ok"
    assert (await make_client("127.0.0.1").get("/healthz")).json()["ami"] == "ok"
    # Behind the trusted proxy, a remote client is remote even though the peer is local.
    proxied = make_client(PROXY)
    assert (await proxied.get("/healthz", headers={"X-Forwarded-For": A})).json() == {
        "status": "ok"
    }


async def test_wallboard_token_opens_the_wallboard_only(
    make_client: Callable[..., httpx.AsyncClient], world: h.World
) -> None:
    from fastapi import Depends

    from console.runtime import wallboard_session

    deps = dataclasses.replace(world.deps)
    app = create_app(deps)

    @app.get("/probe-wallboard", dependencies=[Depends(wallboard_session)])
    async def probe() -> dict[str, bool]:
        return {"ok": True}

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        sue = await h.token_for(client, "sue")
        alice = await h.token_for(client, "alice")
        assert (
            await client.post("/api/wallboard/token", headers=h.bearer(alice))
        ).status_code == 403
        issued = (await client.post("/api/wallboard/token", headers=h.bearer(sue))).json()
        board = issued["token"]
        assert issued["url"].startswith("/wallboard?token=")
        assert (await client.get("/probe-wallboard", params={"token": board})).status_code == 200
        # A full console token is not taken from a URL; a wallboard token opens nothing else.
        assert (await client.get("/probe-wallboard", params={"token": sue})).status_code == 401
        assert (await client.get("/probe-wallboard", headers=h.bearer(sue))).status_code == 200
        assert (await client.get("/api/tickets", headers=h.bearer(board))).status_code == 401
        assert (await client.get("/api/me", headers=h.bearer(board))).status_code == 401


async def test_too_many_request_headers_are_refused(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    headers = [(f"x-filler-{i}", "1") for i in range(150)]
    response = await make_client().get("/healthz", headers=headers)
    assert response.status_code == 431


async def test_an_oversized_request_head_is_refused_by_the_server(world: h.World) -> None:
    server, _, live = await h.start_server(world.app())
    try:
        async with httpx.AsyncClient(base_url=live.url) as client:
            # Refused before it is buffered: a 400, or the connection closed under the
            # client while it is still sending.
            try:
                huge = await client.get("/healthz", headers={"x-filler": "a" * 200_000})
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
                pass
            else:
                assert huge.status_code == 400
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await h.stop_server(server)


async def test_error_answers_are_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    for path, methods in schema["paths"].items():
        if not path.startswith("/api/") or path == "/api/login":
            continue
        for method, operation in methods.items():
            documented = set(operation["responses"])
            assert {"401", "403", "404", "409", "429", "503"} <= documented, (method, path)
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in documented, (method, path)


async def test_own_password_change_ends_the_other_sessions_only(
    make_client: Callable[..., httpx.AsyncClient], world: h.World
) -> None:
    client = make_client()
    here, elsewhere = await h.token_for(client, "bob"), await h.token_for(client, "bob")
    topic = await world.bus.subscribe(user_topic("bob"))
    try:
        wrong = await client.post(
            "/api/me/password",
            json={"current": "not my password", "new": "brisk heron 4711"},
            headers={**h.bearer(here), "Accept-Language": "en"},
        )
        assert wrong.status_code == 422
        assert wrong.json()["detail"] == [
            {
                "loc": ["body", "current"],
                "msg": "The current password is wrong.",
                "type": "value_error",
            }
        ]
        weak = await client.post(
            "/api/me/password",
            json={"current": h.PASSWORD, "new": "password123"},
            headers=h.bearer(here),
        )
        assert weak.status_code == 422 and weak.json()["detail"][0]["loc"] == ["body", "new"]
        assert (await client.get("/api/me", headers=h.bearer(here))).status_code == 200

        changed = await client.post(
            "/api/me/password",
            json={"current": h.PASSWORD, "new": "brisk heron 4711"},
            headers=h.bearer(here),
        )
        assert changed.status_code == 200, changed.text
        renewed = changed.json()["token"]
        assert changed.cookies.get("hotline_session") == renewed
        ended = await anext(aiter(topic))
    finally:
        await topic.close()
    assert ended["type"] == "session_end" and ended["epoch"] >= 1  # sockets close everywhere
    for old in (here, elsewhere):
        assert (await client.get("/api/me", headers=h.bearer(old))).status_code == 401
    assert (await client.get("/api/me", headers=h.bearer(renewed))).status_code == 200
    assert (await login(client, "bob", h.PASSWORD)).status_code == 401
    assert (await login(client, "bob", "brisk heron 4711")).status_code == 200

    entries = await AuditRepository(world.db).entries(h_filter(actor="bob"))
    actions = [e.action for e in entries]
    assert "password_refused" in actions
    assert any(e.action == "user_password" and e.detail.get("own") for e in entries)


async def test_wrong_current_passwords_are_throttled_like_log_ins(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = make_client()
    token = await h.token_for(client, "alice")
    statuses = [
        (
            await client.post(
                "/api/me/password",
                json={"current": f"guess number {n}", "new": "brisk heron 4711"},
                headers=h.bearer(token),
            )
        ).status_code
        for n in range(6)
    ]
    assert statuses == [422] * 5 + [429]
    assert (await login(client, "alice", h.PASSWORD)).status_code == 429  # same pair waits
    assert (
        await client.post("/api/me/password", json={"current": "x", "new": "y"})
    ).status_code == 401
