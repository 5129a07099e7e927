"""Pages for people: log-in form, redirects, role-gated supervisor page, log-out."""

from __future__ import annotations

import console_test_harness as h
import httpx


async def test_anonymous_pages_redirect_to_the_form(client: httpx.AsyncClient) -> None:
    for path in ("/", "/agent", "/supervisor"):
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login"
    form = await client.get("/login")
    assert form.status_code == 200 and 'action="/login"' in form.text


async def test_form_log_in_agent_and_supervisor(world: h.World, client: httpx.AsyncClient) -> None:
    response = await client.post("/login", data={"username": "alice", "password": h.PASSWORD})
    assert response.status_code == 303 and response.headers["location"] == "/agent"
    assert "HttpOnly" in response.headers["set-cookie"]
    agent_page = await client.get("/agent")
    assert agent_page.status_code == 200 and 'data-username="alice"' in agent_page.text
    refused = await client.get("/supervisor")
    assert refused.status_code == 403 and "needs the supervisor role" in refused.text
    out = await client.post("/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await client.get("/agent")).status_code == 303

    sup = await client.post("/login", data={"username": "sue", "password": h.PASSWORD})
    assert sup.headers["location"] == "/supervisor"
    assert (await client.get("/supervisor")).status_code == 200


async def test_wrong_password_and_hostile_name_are_escaped(client: httpx.AsyncClient) -> None:
    name = '"><script>alert(1)</script>'
    response = await client.post("/login", data={"username": name, "password": "x"})
    assert response.status_code == 401
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text or "&#34;&gt;&lt;script&gt;" in response.text


async def test_cross_site_form_log_in_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/login",
        data={"username": "alice", "password": h.PASSWORD},
        headers={"Origin": "http://evil.example"},
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
