"""On-call paging over the real store (SQLite and PostgreSQL) and a real HTTP webhook
server: the page goes out with ticket, site and caller; without an acknowledgement the
next engineer is paged at 10 minutes (fake clock); an ack stops it; two controllers
never page one step twice; a ticket raised to level 1 by an edit is paged too."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bus import InProcessBus
from bus.topics import TICKET_LEVELS
from routing.records import NewTicket, TicketSource
from storage.database import Database
from storage.oncall import OnCallRepository
from storage.site_import import import_sites
from storage.tickets import TicketRepository
from supervision.domain.oncall import ShiftDraft
from supervision.notify.channels import JsonWebhook
from supervision.oncall.service import OnCallService

from .conftest import HttpRecorder

T0 = datetime(2026, 12, 5, 1, 10, tzinfo=UTC)
M = timedelta(minutes=1)
PATHS = {"王工": "wang", "李工": "li", "赵工": "zhao"}


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def no_sleep(_seconds: float) -> None:
    return None


async def open_ticket(db: Database, level: int, call_id: str = "c-1") -> str:
    ticket = await TicketRepository(db).create(
        NewTicket(
            level=level,
            caller_number="13800138000",
            created_at=T0,
            response_due=T0 + 30 * M,
            onsite_due=None,
            source=TicketSource.CALL,
            call_id=call_id,
        )
    )
    return ticket.number


async def rota(db: Database, recorder: HttpRecorder) -> OnCallRepository:
    store = OnCallRepository(db)
    day = timedelta(hours=12)
    for name, start in (("王工", T0 - 1 * M), ("李工", T0 - 2 * M), ("赵工", T0 + day)):
        await store.import_shift(
            ShiftDraft(
                start, start + day, name, "13900000000", "webhook", recorder.url(f"/{PATHS[name]}")
            ),
            by="test",
            at=T0,
        )
    return store


def service(
    store: OnCallRepository,
    clock: FakeClock,
    http: httpx.AsyncClient,
    *,
    interval: float = 5.0,
    bus: InProcessBus | None = None,
) -> OnCallService:
    return OnCallService(
        store,
        {"webhook": JsonWebhook(http)},
        clock=clock,
        ack_base_url="http://console.test",
        sleep=no_sleep,
        interval=interval,
        bus=bus,
    )


async def page_once(svc: OnCallService) -> None:
    await svc.run_once()
    await svc.drain()


async def test_page_escalates_at_ten_minutes_until_acknowledged(
    any_database: Database, http_recorder: HttpRecorder
) -> None:
    db, clock = any_database, FakeClock()
    store = await rota(db, http_recorder)
    number = await open_ticket(db, 1)
    async with httpx.AsyncClient() as http:
        svc = service(store, clock, http)
        await svc.request_page(
            ticket_number=number,
            site_code="234567",
            caller_number="13800138000",
            reason="keypress",
            at=T0,
        )
        await page_once(svc)
        # On duty now, earliest shift first: 李工 (started 2 min ago), then 王工.
        first = http_recorder.to("/li")
        assert len(first) == 1
        body = first[0].json()
        assert body["ticket_number"] == number
        assert body["site_code"] == "234567" and body["caller_number"] == "13800138000"
        assert body["ack_url"].startswith("http://console.test/oncall/ack/")
        assert "13800138000" in body["text"]

        clock.now = T0 + 9 * M + timedelta(seconds=59)
        await page_once(svc)
        assert http_recorder.to("/wang") == []  # not yet

        clock.now = T0 + 10 * M
        await page_once(svc)
        assert len(http_recorder.to("/wang")) == 1
        assert len(http_recorder.to("/li")) == 1  # never twice the same engineer

        second = http_recorder.to("/wang")[0].json()
        await store.acknowledge(by="王工", at=clock.now, code=second["ack_code"])
        clock.now = T0 + 30 * M
        await page_once(svc)
        assert http_recorder.to("/zhao") == []  # acknowledged: no further page

    pages = await store.pages()
    assert [(p.seq, p.engineer, p.state) for p in reversed(pages)] == [
        (1, "李工", "delivered"),
        (2, "王工", "delivered"),
    ]
    assert pages[0].acked_by == "王工" and pages[1].acked_at is None


async def test_an_undeliverable_page_goes_to_the_next_engineer_at_once(
    any_database: Database, http_recorder: HttpRecorder
) -> None:
    db, clock = any_database, FakeClock()
    store = await rota(db, http_recorder)
    number = await open_ticket(db, 1)
    http_recorder.on("/li", (500, {}), (500, {}), (500, {}))
    async with httpx.AsyncClient() as http:
        svc = service(store, clock, http)
        await svc.request_page(
            ticket_number=number, site_code="234567", caller_number="1", reason="keypress", at=T0
        )
        await page_once(svc)
        await page_once(svc)
    assert len(http_recorder.to("/li")) == 3  # retried, then given up
    assert len(http_recorder.to("/wang")) == 1
    states = {p.engineer: p.state for p in await store.pages()}
    assert states == {"李工": "failed", "王工": "delivered"}


async def test_two_controllers_send_each_page_once(
    any_database: Database, http_recorder: HttpRecorder
) -> None:
    db, clock = any_database, FakeClock()
    store = await rota(db, http_recorder)
    other_db = Database(db.url)
    number = await open_ticket(db, 1)
    try:
        async with httpx.AsyncClient() as http:
            one, two = service(store, clock, http), service(OnCallRepository(other_db), clock, http)
            for svc in (one, two):
                await svc.request_page(
                    ticket_number=number,
                    site_code=None,
                    caller_number="1",
                    reason="keypress",
                    at=T0,
                )
            await asyncio.gather(one.run_once(), two.run_once())
            await asyncio.gather(one.drain(), two.drain())
            clock.now = T0 + 10 * M
            await asyncio.gather(one.run_once(), two.run_once())
            await asyncio.gather(one.drain(), two.drain())
    finally:
        await other_db.dispose()
    assert len(http_recorder.to("/li")) == 1
    assert len(http_recorder.to("/wang")) == 1


async def test_a_ticket_raised_to_level_one_is_paged(
    any_database: Database, http_recorder: HttpRecorder
) -> None:
    db, clock = any_database, FakeClock()
    store = await rota(db, http_recorder)
    number = await open_ticket(db, 3)
    async with httpx.AsyncClient() as http:
        svc = service(store, clock, http)
        await svc.start()  # looks back from now for level raises
        await svc.stop()
        await page_once(svc)
        assert http_recorder.requests == []
        clock.now = T0 + 2 * M
        await TicketRepository(db).update(number, {"level": 1}, "alice", at=clock.now)
        await page_once(svc)
        await page_once(svc)  # found once: no second page
    assert len(http_recorder.to("/li")) == 1
    assert [p.reason for p in await store.pages()] == ["level_1"]


@pytest.mark.parametrize("level", [2, 1])
async def test_nobody_on_the_rota(any_database: Database, level: int) -> None:
    db, clock = any_database, FakeClock()
    store = OnCallRepository(db)
    number = await open_ticket(db, level)
    async with httpx.AsyncClient() as http:
        svc = service(store, clock, http)
        await svc.request_page(
            ticket_number=number, site_code=None, caller_number="1", reason="keypress", at=T0
        )
        await page_once(svc)
        clock.now = T0 + 60 * M
        await page_once(svc)
    assert [p.state for p in await store.pages()] == ["no_one"]


async def test_the_sites_own_engineer_is_paged_first_when_on_duty(
    any_database: Database, http_recorder: HttpRecorder, tmp_path: Path
) -> None:
    db, clock = any_database, FakeClock()
    (tmp_path / "sites.csv").write_text(
        "site_code,organisation,site_name,contact_phone,engineer\n"
        "234567,湖北省水利厅,视频会议中心,13800138000,王工\n",
        encoding="utf-8",
    )
    await import_sites(db, tmp_path / "sites.csv")
    store = await rota(db, http_recorder)
    number = await open_ticket(db, 1)
    async with httpx.AsyncClient() as http:
        svc = service(store, clock, http)
        await svc.request_page(
            ticket_number=number, site_code="234567", caller_number="1", reason="keypress", at=T0
        )
        await page_once(svc)
    assert len(http_recorder.to("/wang")) == 1 and http_recorder.to("/li") == []


async def test_a_raise_said_on_the_bus_is_paged_before_the_next_pass(
    any_database: Database, http_recorder: HttpRecorder
) -> None:
    db, clock = any_database, FakeClock()
    store = await rota(db, http_recorder)
    number = await open_ticket(db, 3)
    bus = InProcessBus()
    async with httpx.AsyncClient() as http:
        # Without the bus the periodic pass would come far too late.
        svc = service(store, clock, http, interval=60.0, bus=bus)
        await svc.start()
        try:
            await asyncio.sleep(0.3)  # the first pass at the start: nothing to page
            assert http_recorder.requests == []
            clock.now = T0 + 2 * M
            await TicketRepository(db).update(number, {"level": 1}, "alice", at=clock.now)
            await bus.publish(
                TICKET_LEVELS, {"type": "ticket_level", "ticket_number": number, "level": 2}
            )
            await asyncio.sleep(0.5)
            assert http_recorder.requests == []  # only a raise to level 1 wakes the pass
            await bus.publish(
                TICKET_LEVELS, {"type": "ticket_level", "ticket_number": number, "level": 1}
            )
            # Well inside the 60 s interval: only the word on the bus can have woken the pass.
            await asyncio.wait_for(http_recorder.arrived.wait(), 20.0)
        finally:
            await svc.stop()
    assert len(http_recorder.to("/li")) == 1
    assert [p.reason for p in await store.pages()] == ["level_1"]
