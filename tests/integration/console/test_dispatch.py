"""Engineer dispatch through the API on the real storage (SQLite and PostgreSQL): the
notice with the check-in link reaches a local webhook, the check-in page records the
steps, and hostile links (forged, expired, another ticket's, superseded, replayed) are
refused or change nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import console_test_harness as h
import httpx
import pytest

from console.runtime import current_username, require
from routing.records import UserRole
from storage.dispatch import DispatchRepository
from storage.supervision import SupervisionRepository
from supervision.dispatch.ports import DispatchOrder
from supervision.dispatch.service import DispatchService
from supervision.dispatch.web import router as dispatch_router
from supervision.domain.calendar import WorkingCalendar
from supervision.domain.dispatch import CheckinClaim, make_token
from supervision.domain.escalation import SupervisionPolicy
from supervision.notify.dispatcher import RetryPolicy
from supervision.notify.recipients import RecipientDirectory

KEY = b"k" * 32


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 18, 2, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Webhook:
    """A local HTTP server that records JSON POSTs (the engineer's notice)."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readline()
            length = 0
            while (line := (await reader.readline()).decode("latin-1").strip()) != "":
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.bodies.append(json.loads(await reader.readexactly(length)))
            self.arrived.set()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            writer.close()


@dataclass
class Desk:
    world: h.World
    client: httpx.AsyncClient
    service: DispatchService
    clock: FakeClock
    webhook: Webhook
    agent: dict[str, str]

    async def dispatch(self, number: str, engineer: str = "Zhao Gang") -> dict[str, Any]:
        response = await self.client.post(
            f"/api/tickets/{number}/dispatch",
            json={
                "engineer": engineer,
                "phone": "13900000001",
                "channel": "webhook",
                "address": f"http://127.0.0.1:{self.webhook.port}/notice",
            },
            headers=self.agent,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def step(self, url: str, status: str, **extra: Any) -> httpx.Response:
        return await self.client.post(urlsplit(url).path, json={"status": status, **extra})

    async def ticket(self, number: str) -> dict[str, Any]:
        response = await self.client.get(f"/api/tickets/{number}", headers=self.agent)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def desk(any_world: h.World) -> AsyncIterator[Desk]:
    clock = FakeClock()
    webhook = Webhook()
    server = await asyncio.start_server(webhook.handle, "127.0.0.1", 0)
    webhook.port = server.sockets[0].getsockname()[1]
    service = DispatchService(
        store=DispatchRepository(any_world.db),
        tickets=any_world.tickets,
        sites=any_world.sites,
        policy=SupervisionPolicy(calendar=WorkingCalendar()),
        key=KEY,
        clock=clock,
        link_lifetime=timedelta(hours=72),
    )
    any_world.deps.clock = clock
    any_world.tickets.tz = ZoneInfo("Asia/Shanghai")  # as `hotline serve` wires it
    any_world.deps.ticket_clocks = service.ticket_clocks
    app = any_world.app()
    app.include_router(
        dispatch_router(
            service, require_agent=require(UserRole.AGENT), current_user=current_username
        )
    )
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as c:
            agent = h.bearer(await h.token_for(c, "alice"))
            yield Desk(any_world, c, service, clock, webhook, agent)
    finally:
        await service.stop()
        server.close()
        await server.wait_closed()


async def _ticket_opened_at(desk: Desk) -> str:
    """A level-2 ticket on the seeded site (73.5 km: arrival due in 12 h), opened now."""
    opened = desk.clock.now
    response = await desk.client.post(
        "/api/tickets",
        json={"level": 2, "description": "MCU down, all sites cut off", "site_code": "4401001"},
        headers=desk.agent,
    )
    assert response.status_code == 201, response.text
    assert response.json()["created_at"] == opened.isoformat()
    number: str = response.json()["number"]
    return number


async def test_dispatch_notifies_and_check_in_sets_the_arrival(desk: Desk) -> None:
    number = await _ticket_opened_at(desk)
    answer = await desk.dispatch(number)
    url = answer["checkin_url"]
    assert url.startswith(f"http://console.test/checkin/{number}/")
    await asyncio.wait_for(desk.webhook.arrived.wait(), 10)
    notice = desk.webhook.bodies[0]
    assert notice["ticket_number"] == number
    assert notice["site_code"] == "4401001"
    assert notice["checkin_url"] == url
    assert "12 Dyke Road" in notice["text"] and "73.5" in notice["text"]
    await desk.service.drain()

    ticket = await desk.ticket(number)
    assert ticket["engineer"] == "Zhao Gang"
    assert ticket["dispatched_at"] == desk.clock.now.isoformat()
    assert ticket["onsite_at"] is None
    onsite = next(c for c in ticket["clocks"] if c["kind"] == "onsite")
    assert onsite["state"] == "running"
    assert onsite["due"] == (desk.clock.now + timedelta(hours=12)).isoformat()

    page = await desk.client.get(urlsplit(url).path)
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text and number in page.text
    assert "12 Dyke Road" in page.text

    desk.clock.advance(timedelta(hours=1))
    assert (await desk.step(url, "on_the_way")).json()["state"] == "on_the_way"
    desk.clock.advance(timedelta(hours=2))
    arrived_at = desk.clock.now
    reply = await desk.step(url, "arrived", latitude=23.1, longitude=113.3, accuracy=12)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "recorded": True,
        "message": reply.json()["message"],
        "state": "on_site",
        "onsite_at": arrived_at.isoformat(),
        "onsite_local": "2026-11-18 13:00",
    }
    ticket = await desk.ticket(number)
    assert ticket["onsite_at"] == arrived_at.isoformat()
    clocks = {c["kind"]: c for c in ticket["clocks"]}
    assert clocks["onsite"]["state"] == "met"
    assert clocks["onsite"]["met_at"] == arrived_at.isoformat()
    assert clocks["part_decision"]["due"] == (arrived_at + timedelta(hours=2)).isoformat()
    assert clocks["part_decision"]["state"] == "running"
    history = [(e["field"], e["by"]) for e in ticket["history"]]
    assert ("onsite_at", "engineer Zhao Gang") in history
    assert ("dispatched_at", "alice") in history

    listing = await desk.client.get(f"/api/tickets/{number}/dispatches", headers=desk.agent)
    item = listing.json()["items"][0]
    assert item["location"] == {"latitude": 23.1, "longitude": 113.3}
    assert item["notice"] == "delivered"


async def test_a_replayed_arrival_does_not_move_onsite_at(desk: Desk) -> None:
    number = await _ticket_opened_at(desk)
    url = (await desk.dispatch(number))["checkin_url"]
    first = await desk.step(url, "arrived")
    arrived = first.json()["onsite_at"]
    desk.clock.advance(timedelta(hours=5))
    again = await desk.step(url, "arrived")
    assert again.status_code == 200
    assert again.json()["recorded"] is False
    assert (await desk.ticket(number))["onsite_at"] == arrived
    # A re-dispatch keeps the first arrival too: the new engineer's arrival is not the first.
    second = (await desk.dispatch(number, engineer="Qian Wei"))["checkin_url"]
    await desk.step(second, "arrived")
    ticket = await desk.ticket(number)
    assert ticket["onsite_at"] == arrived
    assert ticket["engineer"] == "Qian Wei"


async def test_forged_expired_and_other_tickets_tokens_are_refused(desk: Desk) -> None:
    number = await _ticket_opened_at(desk)
    other = await _ticket_opened_at(desk)
    url = (await desk.dispatch(number))["checkin_url"]
    token = urlsplit(url).path.rsplit("/", 1)[1]
    dispatch_id, expires, signature = token.split(".")

    # The other ticket's URL with this ticket's token.
    cross = await desk.client.get(f"/checkin/{other}/{token}")
    assert cross.status_code == 403
    assert 'data-reason="forged"' in cross.text and number not in cross.text
    # A signature made with another key, and one with a changed expiry.
    forged = make_token(b"x" * 32, CheckinClaim(int(dispatch_id), number, desk.clock.now))
    assert (await desk.client.get(f"/checkin/{number}/{forged}")).status_code == 403
    later = f"{dispatch_id}.{int(expires) + 86400}.{signature}"
    assert (await desk.step(f"/checkin/{number}/{later}", "arrived")).status_code == 403
    # Rubbish.
    assert (await desk.client.get(f"/checkin/{number}/not-a-token")).status_code == 404
    assert (await desk.client.get(f"/checkin/{number}/{'1' * 200}")).status_code == 404

    desk.clock.advance(timedelta(hours=72))
    expired = await desk.client.get(urlsplit(url).path)
    assert expired.status_code == 410
    assert 'data-reason="expired"' in expired.text
    assert (await desk.step(url, "arrived")).status_code == 410
    stored = await desk.world.tickets.get(number)
    assert stored is not None and stored.onsite_at is None


async def test_a_superseded_link_stops_working_and_the_history_keeps_both(desk: Desk) -> None:
    number = await _ticket_opened_at(desk)
    first = (await desk.dispatch(number))["checkin_url"]
    await desk.dispatch(number, engineer="Qian Wei")
    refused = await desk.step(first, "arrived")
    assert refused.status_code == 410
    assert refused.json()["error"] == "superseded"
    page = await desk.client.get(urlsplit(first).path)
    assert page.status_code == 410 and "Qian Wei" not in page.text
    listing = (
        await desk.client.get(f"/api/tickets/{number}/dispatches", headers=desk.agent)
    ).json()
    assert [(d["engineer"], d["state"]) for d in listing["items"]] == [
        ("Zhao Gang", "superseded"),
        ("Qian Wei", "dispatched"),
    ]
    engineers = [(e["name"], e["assigned"]) for e in listing["engineers"]]
    assert engineers[0] == ("Zhao Gang", True)
    changes = [
        (e["old"], e["new"])
        for e in (await desk.ticket(number))["history"]
        if e["field"] == "onsite_engineer"
    ]
    assert changes == [("", "Zhao Gang"), ("Zhao Gang", "Qian Wei")]


async def test_fixed_and_part_needed_need_an_arrival_and_fixed_resolves(desk: Desk) -> None:
    number = await _ticket_opened_at(desk)
    url = (await desk.dispatch(number))["checkin_url"]
    early = await desk.step(url, "part_needed")
    assert early.status_code == 409 and early.json()["error"] == "not_arrived"
    await desk.step(url, "arrived")
    desk.clock.advance(timedelta(minutes=30))
    assert (await desk.step(url, "part_needed")).json()["state"] == "part_needed"
    ticket = await desk.ticket(number)
    assert ticket["part_needed_at"] == desk.clock.now.isoformat()
    clocks = {c["kind"]: c for c in ticket["clocks"]}
    assert clocks["part_decision"]["state"] == "met"
    assert clocks["part_shipment"]["state"] == "running"
    desk.clock.advance(timedelta(hours=3))
    assert (await desk.step(url, "fixed")).json()["state"] == "fixed"
    ticket = await desk.ticket(number)
    assert ticket["status"] == "resolved"
    assert ticket["resolved_at"] == desk.clock.now.isoformat()
    closed = await desk.step(url, "arrived")
    assert closed.status_code == 409 and closed.json()["error"] == "closed"


async def test_hostile_bodies_are_refused(desk: Desk) -> None:
    number = await _ticket_opened_at(desk)
    url = (await desk.dispatch(number))["checkin_url"]
    path = urlsplit(url).path
    for body in (
        {"status": "teleported"},
        {"status": "arrived", "latitude": 200},
        {"status": "arrived", "extra": 1},
        [],
    ):
        response = await desk.client.post(path, json=body)
        assert response.status_code == 422, body
    assert (await desk.client.post(path, content=b"\xff\xfe")).status_code == 422
    assert (await desk.ticket(number))["onsite_at"] is None
    # Dispatch: anonymous refused, CR/LF refused, unknown channel refused.
    anonymous = await desk.client.post(f"/api/tickets/{number}/dispatch", json={"engineer": "x"})
    assert anonymous.status_code == 401
    for body in (
        {"engineer": "Zhao\r\nBcc: x"},
        {"engineer": "Zhao", "channel": "pigeon"},
        {"engineer": "Zhao", "channel": "webhook", "address": "file:///etc/passwd"},
    ):
        response = await desk.client.post(
            f"/api/tickets/{number}/dispatch", json=body, headers=desk.agent
        )
        assert response.status_code == 422, (body, response.text)
    missing = await desk.client.post(
        "/api/tickets/HL-20260101-9999/dispatch", json={"engineer": "x"}, headers=desk.agent
    )
    assert missing.status_code == 404


async def test_arrival_recorded_by_hand_lands_in_history(desk: Desk) -> None:
    number = await _ticket_opened_at(desk)
    at = desk.clock.now + timedelta(hours=1)
    response = await desk.client.patch(
        f"/api/tickets/{number}",
        json={"onsite_at": at.isoformat(), "note": "engineer phoned in"},
        headers=desk.agent,
    )
    assert response.status_code == 200, response.text
    entry = next(e for e in response.json()["history"] if e["field"] == "onsite_at")
    assert entry["by"] == "alice" and entry["note"] == "engineer phoned in"
    clocks = {c["kind"]: c for c in response.json()["clocks"]}
    assert clocks["onsite"]["state"] == "met"


async def test_sms_notice_carries_the_link_and_no_channel_means_no_notice(desk: Desk) -> None:
    number = await _ticket_opened_at(desk)
    response = await desk.client.post(
        f"/api/tickets/{number}/dispatch",
        json={
            "engineer": "Zhao Gang",
            "phone": "13900000001",
            "channel": "sms",
            "address": f"http://127.0.0.1:{desk.webhook.port}/sms-gateway",
        },
        headers=desk.agent,
    )
    assert response.status_code == 200, response.text
    url = response.json()["checkin_url"]
    await asyncio.wait_for(desk.webhook.arrived.wait(), 10)
    sms = desk.webhook.bodies[0]
    assert sms["to"] == ["13900000001"]
    assert number in sms["text"] and url in sms["text"]
    assert sms["text"].startswith("派工 P2")

    # No channel: the dispatch stands, the agent reads the link out on the phone.
    silent = await desk.client.post(
        f"/api/tickets/{number}/dispatch", json={"engineer": "Qian Wei"}, headers=desk.agent
    )
    assert silent.status_code == 200
    await desk.service.drain()
    listing = (
        await desk.client.get(f"/api/tickets/{number}/dispatches", headers=desk.agent)
    ).json()
    assert [d["notice"] for d in listing["items"]] == ["delivered", "none"]
    assert len(desk.webhook.bodies) == 1


async def test_an_unreachable_channel_is_retried_then_marked_failed(
    any_world: h.World, desk: Desk
) -> None:
    slept: list[float] = []

    async def no_wait(seconds: float) -> None:
        slept.append(seconds)

    service = DispatchService(
        store=DispatchRepository(any_world.db),
        tickets=any_world.tickets,
        sites=any_world.sites,
        policy=SupervisionPolicy(),
        key=KEY,
        clock=desk.clock,
        retry=RetryPolicy(max_attempts=3, first_delay=1.0),
        sleep=no_wait,
    )
    number = await _ticket_opened_at(desk)
    try:
        result = await service.dispatch(
            number,
            engineer="Zhao Gang",
            by="alice",
            base_url="http://console.test",
            channel="webhook",
            address="http://127.0.0.1:9/closed",  # discard port: nobody listens
        )
        await service.drain()
    finally:
        await service.stop()
    stored = await service.store.get(result.record.id, number)
    assert stored is not None
    assert stored.notice_state == "failed" and stored.notice_error
    assert slept == [1.0, 2.0]


async def test_rma_dates_stop_the_part_clocks(desk: Desk) -> None:
    number = await _ticket_opened_at(desk)
    url = (await desk.dispatch(number))["checkin_url"]
    await desk.step(url, "arrived")
    await desk.step(url, "part_needed")  # Wednesday 10:00 in Beijing
    desk.clock.advance(timedelta(hours=30))  # Thursday 16:00
    response = await desk.client.patch(
        f"/api/tickets/{number}",
        json={"spare_model": "PSU-9", "spare_sent_on": "2026-11-18"},
        headers=h.bearer(await h.token_for(desk.client, "alice")),
    )
    assert response.status_code == 200, response.text
    ticket = response.json()
    # Sent "on the 18th": the end of that day in Beijing, within 24 h of the need.
    assert ticket["part_sent_at"] == "2026-11-18T15:59:59+00:00"
    clocks = {c["kind"]: c for c in ticket["clocks"]}
    assert clocks["part_shipment"]["state"] == "met"
    assert clocks["part_arrival"]["state"] == "running"
    assert "part_sent_at" in [e["field"] for e in ticket["history"]]


async def test_implausible_field_times_are_refused(desk: Desk) -> None:
    number = await _ticket_opened_at(desk)
    for field_name in ("onsite_at", "part_needed_at", "part_sent_at", "part_received_at"):
        response = await desk.client.patch(
            f"/api/tickets/{number}",
            json={field_name: "9999-12-31T23:59:59+00:00"},
            headers=desk.agent,
        )
        assert response.status_code == 422, (field_name, response.text)
    # The clocks still compute for the ticket and its list.
    assert (await desk.ticket(number))["clocks"]


async def test_a_wait_for_the_customer_pauses_the_clocks_the_api_shows(desk: Desk) -> None:
    number = await _ticket_opened_at(desk)
    opened = desk.clock.now
    pauses = SupervisionRepository(desk.world.db)
    await pauses.pause(number, opened + timedelta(hours=1), "alice", "customer not on site")
    desk.clock.advance(timedelta(hours=3))
    clocks = {c["kind"]: c for c in (await desk.ticket(number))["clocks"]}
    assert clocks["onsite"]["state"] == "paused"
    assert clocks["onsite"]["due"] == (opened + timedelta(hours=14)).isoformat()  # 12 h + 2 h
    await pauses.resume(number, desk.clock.now)
    listed = await desk.client.get("/api/tickets", headers=desk.agent)
    onsite = next(c for c in listed.json()["items"][0]["clocks"] if c["kind"] == "onsite")
    assert onsite["state"] == "running"


async def test_an_engineer_in_the_recipients_is_notified_on_their_own_channel(
    any_world: h.World, desk: Desk
) -> None:
    service = DispatchService(
        store=DispatchRepository(any_world.db),
        tickets=any_world.tickets,
        sites=any_world.sites,
        policy=SupervisionPolicy(),
        key=KEY,
        clock=desk.clock,
        recipients=RecipientDirectory.from_config(
            [
                {
                    "name": "Zhao Gang",
                    "roles": ["engineer"],
                    "channel": "webhook",
                    "address": f"http://127.0.0.1:{desk.webhook.port}/zhao",
                }
            ]
        ),
    )
    number = await _ticket_opened_at(desk)
    try:
        result = await service.dispatch(
            number, engineer="Zhao Gang", by="alice", base_url="http://console.test"
        )
        await service.drain()
        unknown = await service.dispatch(
            number, engineer="Nobody Known", by="alice", base_url="http://console.test"
        )
    finally:
        await service.stop()
    assert [b["checkin_url"] for b in desk.webhook.bodies] == [result.checkin_url]
    assert result.record.channel == "webhook"
    stored = await service.store.get(unknown.record.id, number)
    assert stored is not None and stored.notice_state == "none"


async def test_a_notice_left_unsent_by_a_crash_goes_out_once_at_the_next_start(
    desk: Desk,
) -> None:
    number = await _ticket_opened_at(desk)
    # The dispatch was written, then the process died before the notice went out.
    record = await desk.service.store.dispatch(
        DispatchOrder(
            ticket_number=number,
            engineer="Zhao Gang",
            phone="13900000001",
            channel="webhook",
            address=f"http://127.0.0.1:{desk.webhook.port}/notice",
            by="alice",
            at=desk.clock.now,
            expires_at=desk.clock.now + timedelta(hours=72),
            link_base="http://console.test",
        )
    )
    assert await desk.service.resend_unsent() == 1
    await desk.service.drain()
    assert len(desk.webhook.bodies) == 1
    url = desk.webhook.bodies[0]["checkin_url"]
    assert url.startswith(f"http://console.test/checkin/{number}/{record.id}.")
    assert (await desk.client.get(urlsplit(url).path)).status_code == 200
    assert await desk.service.resend_unsent() == 0  # delivered: not again
