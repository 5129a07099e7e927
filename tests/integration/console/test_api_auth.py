"""Log-in, sessions and role checks on every /api route."""

from __future__ import annotations

import re
from datetime import datetime

import console_test_harness as h
import httpx
import pytest

from routing.errors import StoreUnavailable
from storage.revocations import RevocationRepository
from storage.users import UserRepository

SUPERVISOR_ROUTES = {
    ("POST", "/api/emergency"),
    ("GET", "/api/backfill"),
    ("GET", "/api/backfill/reconciliation"),
    ("POST", "/api/backfill/{paper_number}/waive"),
    ("GET", "/api/queues"),
    ("GET", "/api/consoles"),
    ("GET", "/api/emergency/checks"),
    ("GET", "/api/emergency/audit"),
    ("POST", "/api/emergency/close-backfill"),
    ("GET", "/api/callbacks"),
    ("POST", "/api/callbacks"),
}
PUBLIC_ROUTES = {("POST", "/api/login")}
# The console's own part of INTERFACE.md "HTTP", and the extras its pages use.
CONTRACT_ROUTES = {
    ("POST", "/api/login"),
    ("POST", "/api/logout"),
    ("GET", "/api/me"),
    ("GET", "/api/tickets"),
    ("POST", "/api/tickets"),
    ("GET", "/api/tickets/{number}"),
    ("PATCH", "/api/tickets/{number}"),
    ("GET", "/api/calls"),
    ("GET", "/api/sites"),
    ("GET", "/api/sites/{site_code}"),
    ("POST", "/api/agent/state"),
    ("GET", "/api/emergency"),
    ("POST", "/api/backfill/{paper_number}"),
    ("GET", "/api/audit"),
}


def api_routes(world: h.World) -> list[tuple[str, str]]:
    # From the OpenAPI document: every route the API publishes, whatever the router layout.
    paths = world.app().openapi()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api")
        for method in operations
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X1", path)


async def test_every_api_route_is_listed(world: h.World) -> None:
    routes = set(api_routes(world))
    assert SUPERVISOR_ROUTES <= routes
    assert CONTRACT_ROUTES <= routes
    assert len(routes) >= 19  # the table below really covers the whole API


async def test_anonymous_is_refused_everywhere(world: h.World, client: httpx.AsyncClient) -> None:
    for method, path in api_routes(world):
        if (method, path) in PUBLIC_ROUTES:
            continue
        response = await client.request(method, concrete(path), json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"


async def test_forged_and_garbage_tokens_are_refused(
    world: h.World, client: httpx.AsyncClient
) -> None:
    token = await h.token_for(client, "sue")
    body, mac = token.split(".")
    # A forged signature: the last two characters changed, whatever they were.
    forged = token[:-2] + ("AB" if token[-2:] != "AB" else "BA")
    for bad in (forged, body + ".", "not-a-token", "Bearer", "x" * 3000, mac):
        response = await client.get("/api/tickets", headers=h.bearer(bad))
        assert response.status_code == 401, bad


async def test_agent_gets_403_on_supervisor_routes(
    world: h.World, client: httpx.AsyncClient
) -> None:
    token = await h.token_for(client, "alice")
    for method, path in SUPERVISOR_ROUTES:
        response = await client.request(
            method,
            concrete(path),
            json={"active": True, "reason": "test flip", "caller_number": "123"},
            headers=h.bearer(token),
        )
        assert response.status_code == 403, (method, path, response.text)
    assert world.desk.flips == []  # the refused flip changed nothing


@pytest.mark.parametrize("username", ["sue", "root"])
async def test_supervisor_and_admin_pass_the_role_check(
    world: h.World, client: httpx.AsyncClient, username: str
) -> None:
    token = await h.token_for(client, username)
    for method, path in SUPERVISOR_ROUTES:
        response = await client.request(method, concrete(path), json={}, headers=h.bearer(token))
        assert response.status_code not in (401, 403), (method, path, response.text)


async def test_agent_routes_accept_every_role(world: h.World, client: httpx.AsyncClient) -> None:
    for username in ("alice", "sue", "root"):
        token = await h.token_for(client, username)
        for path in ("/api/tickets", "/api/calls", "/api/emergency", "/api/me", "/api/sites?q=1"):
            response = await client.get(path, headers=h.bearer(token))
            assert response.status_code == 200, (username, path, response.text)


async def test_login_sets_a_strict_httponly_cookie(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/login", json={"username": "alice", "password": h.PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "agent" and body["token"]
    cookie = response.headers["set-cookie"]
    assert "hotline_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert body["token"] in cookie


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice", "password": "wrong"},
        {"username": "nobody", "password": h.PASSWORD},
        {"username": "alice", "password": ""},
    ],
)
async def test_bad_login(client: httpx.AsyncClient, body: dict[str, str]) -> None:
    response = await client.post("/api/login", json=body)
    assert response.status_code in (401, 422)
    assert "set-cookie" not in response.headers


async def test_logout_revokes_the_token(world: h.World, client: httpx.AsyncClient) -> None:
    token = await h.token_for(client, "alice")
    assert (await client.get("/api/me", headers=h.bearer(token))).status_code == 200
    response = await client.post("/api/logout", headers=h.bearer(token))
    assert response.status_code == 200
    assert (await client.get("/api/me", headers=h.bearer(token))).status_code == 401


async def test_deactivated_user_loses_access_at_once(
    world: h.World, client: httpx.AsyncClient
) -> None:
    token = await h.token_for(client, "bob")
    users: UserRepository = world.users
    await users.set_active("bob", False)
    assert (await client.get("/api/me", headers=h.bearer(token))).status_code == 401


async def test_cookie_writes_need_the_console_header(
    world: h.World, client: httpx.AsyncClient
) -> None:
    ticket = await h.open_call_ticket(world, "1700000000.1")
    login = await client.post("/api/login", json={"username": "alice", "password": h.PASSWORD})
    assert login.status_code == 200  # the client now carries the session cookie
    assert (await client.get("/api/me")).status_code == 200
    forged = await client.patch(f"/api/tickets/{ticket.number}", json={"cause": "forged"})
    assert forged.status_code == 403
    cross_site = await client.patch(
        f"/api/tickets/{ticket.number}",
        json={"cause": "forged"},
        headers={"X-Hotline-Console": "1", "Origin": "http://evil.example"},
    )
    assert cross_site.status_code == 403
    ok = await client.patch(
        f"/api/tickets/{ticket.number}",
        json={"cause": "power"},
        headers={"X-Hotline-Console": "1"},
    )
    assert ok.status_code == 200, ok.text
    stored = await world.tickets.get(ticket.number)
    assert stored is not None and stored.cause == "power"


async def test_repeated_wrong_passwords_are_throttled(world: h.World) -> None:
    app = world.app()  # one app, two desks
    guesser = httpx.ASGITransport(app=app, client=("10.1.2.2", 40000))
    desk = httpx.ASGITransport(app=app, client=("10.1.2.3", 40000))
    async with (
        httpx.AsyncClient(transport=guesser, base_url="http://console.test") as client,
        httpx.AsyncClient(transport=desk, base_url="http://console.test") as other,
    ):
        for _ in range(5):
            response = await client.post("/api/login", json={"username": "bob", "password": "nope"})
            assert response.status_code == 401
        locked = await client.post("/api/login", json={"username": "bob", "password": h.PASSWORD})
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) > 0
        form = await client.post("/login", data={"username": "bob", "password": h.PASSWORD})
        assert form.status_code == 429 and "Too many failed log-ins" in form.text
        # Another desk is not locked out by the guesser.
        ok = await other.post("/api/login", json={"username": "bob", "password": h.PASSWORD})
        assert ok.status_code == 200


class ReadOnlyRevocations(RevocationRepository):
    """The database reads but refuses writes (a fail-over in progress)."""

    async def revoke(
        self, nonce: str, username: str, expires_at: datetime, *, now: datetime
    ) -> None:
        raise StoreUnavailable("database unavailable: read-only during fail-over")


async def test_a_log_out_the_database_cannot_record_is_not_reported_as_done(
    world: h.World,
) -> None:
    world.deps.revocations = ReadOnlyRevocations(world.db)
    transport = httpx.ASGITransport(app=world.app(), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        token = await h.token_for(client, "alice")
        ready = {"state": "ready"}
        assert (
            await client.post("/api/agent/state", json=ready, headers=h.bearer(token))
        ).is_success
        english = {"Accept-Language": "en"}
        out = await client.post("/api/logout", headers={**h.bearer(token), **english})
        assert out.status_code == 503
        assert out.json()["logged_out"] is False
        assert "could not be recorded" in out.json()["detail"]
        assert 'hotline_session=""' in out.headers["set-cookie"]  # out of the browser anyway
        # Off the queue all the same: the agent is leaving the desk.
        assert world.pbx.actions[-1] == ("remove", "hotline-main", "PJSIP/1001")
        assert (await client.get("/api/me", headers=h.bearer(token))).status_code == 401

        form = await client.post("/login", data={"username": "bob", "password": h.PASSWORD})
        assert form.status_code == 303
        page = await client.post("/logout")  # no language asked for: HOTLINE_LOCALE, zh-CN
        assert page.status_code == 503 and "退出尚未能同步" in page.text
        assert (await client.get("/agent")).status_code == 303  # the cookie is gone
