"""Hostile and malformed input: clear 4xx errors, nothing written, nothing reflected."""

from __future__ import annotations

import re

import console_test_harness as h
import httpx
import pytest


async def _ticket_and_token(world: h.World, client: httpx.AsyncClient) -> tuple[str, str]:
    ticket = await h.open_call_ticket(world, "1700000400.1", description="original")
    return ticket.number, await h.token_for(client, "alice")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "x" * 4001}, "description"),
        ({"cause": "y" * 201}, "cause"),
        ({"level": 7}, "level"),
        ({"level": None}, "level"),
        ({"status": "deleted"}, "status"),
        ({"site_code": "12;DROP"}, "site_code"),
        ({"caller_number": "100\r\nAction: Originate"}, "caller_number"),
        ({"contact_name": "Eve\nInjected: yes"}, "contact_name"),
        ({"contact_email": "not-an-address"}, "contact_email"),
        ({"expected_resolution": "tomorrow"}, "expected_resolution"),
        ({"expected_resolution": "2026-05-03T10:00:00"}, "expected_resolution"),
        ({"spare_sent_on": "2026-13-45"}, "spare_sent_on"),
        ({"number": "T-OTHER"}, "number"),
        ({"history": []}, "history"),
        ({"rma_quantity": -1}, "rma_quantity"),
        ({"description": "bell\x07"}, "description"),
        ({}, "body"),
    ],
)
async def test_bad_ticket_patch_is_422_and_writes_nothing(
    world: h.World, client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    number, token = await _ticket_and_token(world, client)
    before = await world.tickets.get(number)
    response = await client.patch(f"/api/tickets/{number}", json=body, headers=h.bearer(token))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(field in [str(p) for p in e["loc"]] for e in detail), detail
    # The error names the field but never echoes the hostile value back.
    assert "Originate" not in response.text and "x" * 100 not in response.text
    assert await world.tickets.get(number) == before


async def test_html_is_stored_verbatim_as_text(world: h.World, client: httpx.AsyncClient) -> None:
    number, token = await _ticket_and_token(world, client)
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = await client.patch(
        f"/api/tickets/{number}", json={"description": script}, headers=h.bearer(token)
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["description"] == script


async def test_unknown_ticket_is_404(world: h.World, client: httpx.AsyncClient) -> None:
    token = await h.token_for(client, "alice")
    response = await client.patch(
        "/api/tickets/T-NOPE", json={"cause": "x"}, headers=h.bearer(token)
    )
    assert response.status_code == 404
    assert (await client.get("/api/tickets/T-NOPE", headers=h.bearer(token))).status_code == 404


async def test_oversized_body_is_413(world: h.World, client: httpx.AsyncClient) -> None:
    number, token = await _ticket_and_token(world, client)
    big = {"description": "z" * (70 * 1024)}
    response = await client.patch(f"/api/tickets/{number}", json=big, headers=h.bearer(token))
    assert response.status_code == 413

    async def chunks():  # no Content-Length: the limit must hold on a streamed body too
        for _ in range(80):
            yield b"z" * 1024

    streamed = await client.patch(
        f"/api/tickets/{number}",
        content=chunks(),
        headers={**h.bearer(token), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    login = await client.post(
        "/login",
        content=b"username=" + b"a" * 70000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert login.status_code == 413
    stored = await world.tickets.get(number)
    assert stored is not None and stored.description == "original"


async def test_malformed_json_is_422(world: h.World, client: httpx.AsyncClient) -> None:
    number, token = await _ticket_and_token(world, client)
    response = await client.patch(
        f"/api/tickets/{number}",
        content=b"{not json",
        headers={**h.bearer(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    "query",
    [
        "level=9",
        "limit=0",
        "limit=100000",
        "site=abc",
        "status=gone",
        "q=" + "a" * 101,
        "call_id=1%0d%0aX",
    ],
)
async def test_bad_list_queries_are_422(
    world: h.World, client: httpx.AsyncClient, query: str
) -> None:
    token = await h.token_for(client, "alice")
    response = await client.get(f"/api/tickets?{query}", headers=h.bearer(token))
    assert response.status_code == 422, query


async def test_security_headers_everywhere(world: h.World, client: httpx.AsyncClient) -> None:
    for path in ("/login", "/healthz", "/api/tickets", "/static/common.js", "/nope"):
        response = await client.get(path)
        csp = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp, path
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


async def test_no_cdn_anywhere(world: h.World, client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 404  # Swagger UI would load a CDN
    pages = [await client.get("/login")]
    for name in ("common.js", "agent.js", "supervisor.js", "site_record.js", "console.css"):
        pages.append(await client.get(f"/static/{name}"))
    for page in pages:
        assert page.status_code == 200
        assert "http://" not in page.text and "https://" not in page.text
        assert not re.search(
            r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", page.text
        )
