"""The pop on answer never waits for the database: the ticket the queue join opened and
the site's profile come from memory, and the full site record (with its tickets) follows
in a second message once it has been read."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

from bus import InProcessBus
from bus.base import Subscription
from calls import AgentRinging, CallAnswered
from routing.fanout import ConsoleFanout
from routing.records import SiteRecord, Ticket, TicketStatus, TicketSummary

from .test_answered_pop import T0, Stores, snapshot, ticket

PROFILE = SiteRecord("C-1", "湖北省水利厅", "200001", "视频会议中心", None, "", 8.5)
FULL = replace(
    PROFILE,
    open_tickets=(TicketSummary("HL-20261121-0007", T0, 2, TicketStatus.OPEN, "黑屏", ""),),
)


class SlowDirectory(Stores):
    """The site record takes until `release` is set (the read pool is busy)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def site_record(self, code: str) -> SiteRecord | None:  # type: ignore[override]
        await self.release.wait()
        return FULL if code == "200001" else None


async def pop_then_site(sub: Subscription, stores: SlowDirectory) -> list[dict[str, Any]]:
    """The messages up to `screen_pop_site`; the record's read ends once the pop is out."""
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(5):
        async for message in sub:
            got.append(dict(message))
            if message["type"] == "screen_pop":
                stores.release.set()
            if message["type"] == "screen_pop_site":
                break
    return got


def fanout_on(stores: SlowDirectory, bus: InProcessBus, **ports: Any) -> ConsoleFanout:
    """The fan-out over `stores`, with the site's profile in memory."""
    return ConsoleFanout(
        users=stores,
        tickets=stores,
        sites=stores,
        bus=bus,
        open_ticket=stores.open_ticket,
        cached_site={"200001": PROFILE}.get,
        **ports,
    )


async def test_the_pop_goes_out_before_the_site_record_is_read() -> None:
    stores = SlowDirectory()
    call = snapshot(site_code="200001")
    known = ticket(call.call_id)
    bus = InProcessBus()
    fanout = fanout_on(stores, bus, known_ticket={call.call_id: known}.get)
    sub = await bus.subscribe("user:alice")
    at = T0 + timedelta(seconds=20)
    await fanout.handle(AgentRinging(call, T0, interface="PJSIP/1001", member_name="alice"))
    async with asyncio.timeout(1):  # the record is still being read: no waiting for it
        await fanout.handle(CallAnswered(call, at, interface="PJSIP/1001", member_name="alice"))
    got = await pop_then_site(sub, stores)
    pop = next(m for m in got if m["type"] == "screen_pop")
    assert pop["ticket_number"] == known.number and pop["ticket"]["status"] == "in_progress"
    assert pop["site"]["site_name"] == "视频会议中心" and pop["site"]["open_tickets"] == []
    follow = got[-1]
    assert follow["call_id"] == call.call_id
    assert [t["number"] for t in follow["site"]["open_tickets"]] == ["HL-20261121-0007"]
    assert stores.ticket_reads == 0 and stores.opened == []
    await sub.close()
    await bus.close()


async def test_a_pop_whose_record_was_read_while_ringing_sends_no_second_message() -> None:
    stores = SlowDirectory()
    stores.release.set()
    call = snapshot(site_code="200001")
    bus = InProcessBus()
    fanout = ConsoleFanout(
        users=stores,
        tickets=stores,
        sites=stores,
        bus=bus,
        known_ticket={call.call_id: ticket(call.call_id)}.get,
        cached_site={"200001": PROFILE}.get,
    )
    sub = await bus.subscribe("user:alice")
    await fanout.handle(AgentRinging(call, T0, interface="PJSIP/1001", member_name="alice"))
    await asyncio.sleep(0.05)  # the phone rings a while: the record is read by the answer
    await fanout.handle(CallAnswered(call, T0, interface="PJSIP/1001", member_name="alice"))
    kinds: list[str] = []
    pop: dict[str, Any] = {}
    try:
        async with asyncio.timeout(0.3):
            async for message in sub:
                kinds.append(message["type"])
                if message["type"] == "screen_pop":
                    pop = dict(message)
    except TimeoutError:
        pass
    assert kinds == ["ringing", "screen_pop"]
    assert len(pop["site"]["open_tickets"]) == 1
    await sub.close()
    await bus.close()


async def test_a_pop_answered_before_the_join_is_written_waits_for_that_write_only() -> None:
    stores = SlowDirectory()
    stores.release.set()
    call = snapshot(site_code="200001")
    written: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()

    async def ticket_of(call_id: str) -> Ticket | None:
        return await written if call_id == call.call_id else None

    bus = InProcessBus()
    fanout = fanout_on(stores, bus, ticket_of=ticket_of)
    sub = await bus.subscribe("user:alice")
    answered = asyncio.ensure_future(
        fanout.handle(CallAnswered(call, T0, interface="PJSIP/1001", member_name="alice"))
    )
    await asyncio.sleep(0.05)
    assert not answered.done()  # no ticket yet: the pop waits for the tickets stage
    written.set_result(ticket(call.call_id))
    async with asyncio.timeout(5):
        await answered
        async for message in sub:
            if message["type"] == "screen_pop":
                break
    assert message["ticket_number"] == ticket(call.call_id).number
    assert stores.ticket_reads == 0 and stores.opened == []  # neither read nor opened again
    await sub.close()
    await bus.close()


async def test_a_pop_waiting_for_the_join_s_write_does_not_then_wait_for_the_site_record() -> None:
    """A caller who pressed 1 for an announced outage rings at once (nothing to decide
    about repeats); answered before the join is written, the pop waits for that write
    and then goes out with the profile, not after the full record is read as well."""
    stores = SlowDirectory()  # the full record is not read until `release`
    call = snapshot(site_code="200001", variables={"HOTLINE_INCIDENT": "HL-20261121-0007"})
    joined = replace(ticket(call.call_id), number="HL-20261121-0007", call_id="1700000000.9")
    written: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()

    async def ticket_of(call_id: str) -> Ticket | None:
        return await written if call_id == call.call_id else None

    bus = InProcessBus()
    fanout = fanout_on(stores, bus, ticket_of=ticket_of)
    sub = await bus.subscribe("user:alice")
    async with asyncio.timeout(1):
        await fanout.handle(AgentRinging(call, T0, interface="PJSIP/1001", member_name="alice"))
    answered = asyncio.ensure_future(
        fanout.handle(CallAnswered(call, T0, interface="PJSIP/1001", member_name="alice"))
    )
    await asyncio.sleep(0.05)
    assert not answered.done()  # no ticket yet
    written.set_result(joined)
    async with asyncio.timeout(1):  # the record is still being read: no waiting for it
        await answered
    got = await pop_then_site(sub, stores)
    pop = next(m for m in got if m["type"] == "screen_pop")
    assert pop["ticket_number"] == "HL-20261121-0007"
    assert pop["site"]["site_name"] == "视频会议中心" and pop["site"]["open_tickets"] == []
    assert [t["number"] for t in got[-1]["site"]["open_tickets"]] == ["HL-20261121-0007"]
    assert stores.ticket_reads == 0 and stores.opened == []
    await sub.close()
    await bus.close()
