"""The on-call routes on a real store: the ack link (opening it acknowledges nothing),
the swap (details taken from the rota, bad contact refused), the listing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI

from storage.database import Database
from storage.oncall import OnCallRepository
from supervision.domain.oncall import ShiftDraft
from supervision.oncall.web import OnCallWebDeps, oncall_router

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


async def test_ack_link_swap_and_listing(database: Database) -> None:
    store = OnCallRepository(database)
    start = NOW - timedelta(hours=2)
    for name, channel, address in (
        ("王工", "webhook", "http://hooks.example/wang"),
        ("李工", "email", "li@example.cn"),
    ):
        await store.import_shift(
            ShiftDraft(start, start + timedelta(hours=12), name, "13900139000", channel, address),
            by="test",
            at=NOW,
        )
    await store.add_page(
        ticket_number="HL-1",
        seq=1,
        reason="keypress",
        site_code="234567",
        caller_number="13800138000",
        at=NOW,
    )
    (page,) = await store.claim_requested()
    app = FastAPI()
    app.include_router(
        oncall_router(OnCallWebDeps(store, ZoneInfo("Asia/Shanghai"), clock=lambda: NOW))
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        form = await http.get(f"/oncall/ack/{page.ack_code}")
        assert form.status_code == 200 and "HL-1" in form.text and "<form" in form.text
        assert (await store.page_by_code(page.ack_code)).acked_at is None  # a preview acks nothing
        assert (await http.get("/oncall/ack/nope")).status_code == 404
        assert (await http.get("/oncall/ack/a%0d%0ab")).status_code == 404
        done = await http.post(f"/oncall/ack/{page.ack_code}", data={"by": " 王工 "})
        assert done.status_code == 200 and "王工" in done.text
        again = await http.post(f"/oncall/ack/{page.ack_code}", data={"by": "someone else"})
        assert "王工" in again.text  # the first acknowledgement wins
        assert (await store.page_by_code(page.ack_code)).acked_by == "王工"

        listed = (await http.get("/api/oncall")).json()
        assert listed["on_duty"] == ["王工", "李工"]
        assert [p["acknowledged"] for p in listed["pages"]] == [True]
        assert "ack_code" not in listed["pages"][0]  # the code is the credential
        wang = next(i for i in listed["items"] if i["engineer"] == "王工")

        swapped = await http.post(f"/api/oncall/shifts/{wang['id']}", json={"engineer": "李工"})
        assert swapped.status_code == 200
        assert (swapped.json()["channel"], swapped.json()["address"]) == ("email", "li@example.cn")
        stranger = await http.post(f"/api/oncall/shifts/{wang['id']}", json={"engineer": "新人"})
        assert stranger.status_code == 422  # unknown engineer and no contact details
        newcomer = await http.post(
            f"/api/oncall/shifts/{wang['id']}",
            json={
                "engineer": "新人",
                "phone": "13700000000",
                "channel": "sms",
                "address": "https://sms.example/send",
            },
        )
        assert newcomer.status_code == 200
        assert (
            await http.post("/api/oncall/shifts/999", json={"engineer": "李工"})
        ).status_code == 404
        assert (await http.post("/api/oncall/pages/999/ack")).status_code == 404
    assert [i["engineer"] for i in (await _items(store))] == ["新人", "李工"]


async def _items(store: OnCallRepository) -> list[dict[str, str]]:
    shifts = await store.shifts_between(NOW - timedelta(days=1), NOW + timedelta(days=1))
    return [{"engineer": s.engineer} for s in shifts]
