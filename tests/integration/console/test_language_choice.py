"""A person's language is kept on their user, not in one browser: a `?lang=` on a page
(or POST /api/me/language) stores it, and any browser they log in from then opens in it,
whatever that browser's Accept-Language says (INTERFACE: "remembered for the user")."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import console_test_harness as h
import httpx
import pytest

HTML_LANG = re.compile(r'<html lang="([^"]+)"')


def page_language(page: httpx.Response) -> str:
    found = HTML_LANG.search(page.text)
    assert found is not None, page.text[:200]
    return found.group(1)


@pytest.fixture
async def second_browser(world: h.World) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser of the same person: no cookie of the first, asking for Chinese."""
    transport = httpx.ASGITransport(app=world.app(), client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://console.test",
        headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    ) as c:
        yield c


async def log_in(client: httpx.AsyncClient, username: str) -> None:
    answer = await client.post("/login", data={"username": username, "password": h.PASSWORD})
    assert answer.status_code == 303, answer.text


async def test_lang_on_a_page_follows_the_person_to_another_browser(
    world: h.World, client: httpx.AsyncClient, second_browser: httpx.AsyncClient
) -> None:
    client.headers["Accept-Language"] = "zh-CN"
    await log_in(client, "bob")
    assert page_language(await client.get("/agent")) == "zh-CN"
    assert (await world.users.get("bob")).language is None  # type: ignore[union-attr]

    assert page_language(await client.get("/agent?lang=en")) == "en"
    stored = await world.users.get("bob")
    assert stored is not None and stored.language == "en"

    # The other browser has no cookie of the first and asks for Chinese: the person's
    # choice wins over its Accept-Language.
    await log_in(second_browser, "bob")
    assert "hotline_lang" not in second_browser.cookies
    assert page_language(await second_browser.get("/agent")) == "en"
    # Someone else in that browser gets what the browser asks for.
    await second_browser.post("/logout")
    await log_in(second_browser, "alice")
    assert page_language(await second_browser.get("/agent")) == "zh-CN"

    # The switch back to Chinese is stored too.
    assert page_language(await client.get("/agent?lang=zh-CN")) == "zh-CN"
    stored = await world.users.get("bob")
    assert stored is not None and stored.language == "zh-CN"


async def test_own_language_by_api(world: h.World, client: httpx.AsyncClient) -> None:
    token = await h.token_for(client, "alice")
    answer = await client.post("/api/me/language", json={"language": "en"}, headers=h.bearer(token))
    assert answer.status_code == 200 and answer.json() == {"username": "alice", "language": "en"}
    assert (await client.get("/api/me", headers=h.bearer(token))).json()["language"] == "en"
    await log_in(client, "alice")
    assert page_language(await client.get("/agent", headers={"Accept-Language": "zh"})) == "en"

    bad = await client.post("/api/me/language", json={"language": "fr"}, headers=h.bearer(token))
    assert bad.status_code == 422
    cleared = await client.post(
        "/api/me/language", json={"language": None}, headers=h.bearer(token)
    )
    assert cleared.json()["language"] is None
    # No choice left: the browser's Accept-Language decides again.
    assert page_language(await client.get("/agent", headers={"Accept-Language": "zh"})) == "zh-CN"
    stored = await world.users.get("alice")
    assert stored is not None and stored.language is None


async def test_a_language_choice_does_not_end_the_sessions(client: httpx.AsyncClient) -> None:
    token = await h.token_for(client, "alice")
    await client.post("/api/me/language", json={"language": "en"}, headers=h.bearer(token))
    still = await client.get("/api/emergency", headers=h.bearer(token))
    assert still.status_code == 200


async def test_the_log_in_page_choice_becomes_the_persons_own(
    world: h.World, client: httpx.AsyncClient
) -> None:
    client.headers["Accept-Language"] = "zh-CN"
    form = await client.get("/login?lang=en")
    assert page_language(form) == "en" and 'name="lang" value="en"' in form.text
    # The form hands the choice to the log-in: alice had none, now English is hers.
    answer = await client.post(
        "/login", data={"username": "alice", "password": h.PASSWORD, "lang": "en"}
    )
    assert answer.status_code == 303
    stored = await world.users.get("alice")
    assert stored is not None and stored.language == "en"
    assert page_language(await client.get("/agent")) == "en"
    await client.post("/logout")

    # A person who already chose keeps their choice, though the browser still shows the
    # log-in page in English (its cookie) and the form hands that on.
    await world.users.set_language("bob", "zh-CN")
    form = await client.get("/login")
    assert page_language(form) == "en" and 'name="lang" value="en"' in form.text
    answer = await client.post(
        "/login", data={"username": "bob", "password": h.PASSWORD, "lang": "en"}
    )
    assert answer.status_code == 303
    assert page_language(await client.get("/agent")) == "zh-CN"
    stored = await world.users.get("bob")
    assert stored is not None and stored.language == "zh-CN"


async def test_the_browser_cookie_does_not_decide_a_signed_in_page(
    client: httpx.AsyncClient,
) -> None:
    client.headers["Accept-Language"] = "zh-CN"
    await log_in(client, "alice")  # no language field, no choice of her own
    client.cookies.set("hotline_lang", "en", domain="console.test")
    assert page_language(await client.get("/agent")) == "zh-CN"
    await client.post("/logout")
    assert page_language(await client.get("/login")) == "en"  # before log-in it does


async def test_api_errors_follow_the_persons_choice(client: httpx.AsyncClient) -> None:
    alice = await h.token_for(client, "alice")
    bob = await h.token_for(client, "bob")
    await client.post("/api/me/language", json={"language": "en"}, headers=h.bearer(alice))
    chinese = {"Accept-Language": "zh-CN"}
    for token, expected in [(alice, "No such ticket."), (bob, "没有这个工单。")]:
        missing = await client.get("/api/tickets/HL-NOPE", headers={**h.bearer(token), **chinese})
        assert missing.status_code == 404 and missing.json()["detail"] == expected
    invalid = await client.post("/api/agent/state", json={}, headers={**h.bearer(alice), **chinese})
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["msg"].startswith("Required."), invalid.text
