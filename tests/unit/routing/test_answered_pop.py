"""What an answer does to a ticket (one rule for the ticket service and the screen-pop), and
the pop on answer: sent from what was prepared while ringing, showing the ticket as
answered, and never without a ticket when the call was answered before it had one."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bus import InProcessBus
from calls import AgentNoAnswer, AgentRinging, CallAnswered, CallSnapshot, CallState
from routing.domain.answering import answered_changes
from routing.fanout import ConsoleFanout
from routing.records import ConsoleUser, Ticket, TicketSource, TicketStatus, UserRole
from testkit.call_snapshots import call_snapshot

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "duty", "responded", "agent", "expected"),
    [
        ("open", "", None, "alice", {"status": "in_progress", "duty_agent": "alice"}),
        ("callback_due", "", None, "bob", {"status": "in_progress", "duty_agent": "bob"}),
        ("in_progress", "alice", T0, "bob", {}),  # a second answer changes nothing
        ("resolved", "", T0, "alice", {"duty_agent": "alice"}),
        ("open", "", None, None, {"status": "in_progress"}),  # phone of no console user
    ],
)
def test_answered_changes(
    status: str, duty: str, responded: datetime | None, agent: str | None, expected: dict[str, Any]
) -> None:
    at = T0 + timedelta(minutes=5)
    changes = answered_changes(
        status=status, duty_agent=duty, responded_at=responded, agent=agent, at=at
    )
    if responded is None:
        expected = {**expected, "responded_at": at}
    assert changes == expected


def snapshot(**over: Any) -> CallSnapshot:
    return call_snapshot(
        "1700000001.1",
        T0,
        **{
            "channel": "PJSIP/trunk-00000001",
            "caller_number": "01012345678",
            "state": CallState.AGENT_RINGING,
            "agent_interface": "PJSIP/1001",
            "agent_member_name": "alice",
            "level": 2,
        }
        | over,
    )


def ticket(call_id: str) -> Ticket:
    return Ticket(
        number="HL-20261122-0001",
        call_id=call_id,
        site_code=None,
        level=2,
        status=TicketStatus.OPEN,
        caller_number="01012345678",
        created_at=T0,
        response_due=T0 + timedelta(hours=2),
        onsite_due=None,
        description="",
        source=TicketSource.CALL,
    )


class Stores:
    """Ticket store, site directory and user store in memory, counting ticket reads."""

    def __init__(self) -> None:
        self.tickets: dict[str, Ticket] = {}
        self.ticket_reads = 0
        self.opened: list[str] = []

    async def get_by_call(self, call_id: str) -> Ticket | None:
        self.ticket_reads += 1
        return self.tickets.get(call_id)

    async def get(self, number: str) -> Ticket | None:
        return next((t for t in self.tickets.values() if t.number == number), None)

    async def site_record(self, code: str) -> None:
        return None

    async def all_users(self) -> list[ConsoleUser]:
        return [ConsoleUser("alice", UserRole.AGENT, "PJSIP/1001")]

    async def open_ticket(self, call: CallSnapshot, at: datetime) -> Ticket:
        self.opened.append(call.call_id)
        return self.tickets.setdefault(call.call_id, ticket(call.call_id))


async def pop_of(bus: InProcessBus, fanout: ConsoleFanout, events: list[Any]) -> dict[str, Any]:
    sub = await bus.subscribe("user:alice")
    for event in events:
        await fanout.handle(event)
    async with asyncio.timeout(5):
        async for message in sub:
            if message["type"] == "screen_pop":
                await sub.close()
                return dict(message)
    raise AssertionError("no screen_pop")


async def test_pop_shows_the_ticket_as_answered_without_reading_it_again() -> None:
    stores = Stores()
    call = snapshot()
    stores.tickets[call.call_id] = ticket(call.call_id)
    bus = InProcessBus()
    fanout = ConsoleFanout(
        users=stores, tickets=stores, sites=stores, bus=bus, open_ticket=stores.open_ticket
    )
    at = T0 + timedelta(seconds=20)
    pop = await pop_of(
        bus,
        fanout,
        [
            AgentRinging(call, T0, interface="PJSIP/1001", member_name="alice"),
            CallAnswered(call, at, interface="PJSIP/1001", member_name="alice"),
        ],
    )
    assert pop["ticket_number"] == "HL-20261122-0001"
    assert pop["ticket"]["status"] == "in_progress" and pop["ticket"]["duty_agent"] == "alice"
    assert pop["ticket"]["responded_at"] == at.isoformat()
    assert stores.ticket_reads == 1  # prepared while ringing, nothing read on answer
    assert stores.opened == []
    await bus.close()


async def test_answered_before_the_ticket_existed_opens_it_for_the_pop() -> None:
    stores = Stores()
    call = snapshot(call_id="1700000002.1")
    bus = InProcessBus()
    fanout = ConsoleFanout(
        users=stores, tickets=stores, sites=stores, bus=bus, open_ticket=stores.open_ticket
    )
    pop = await pop_of(
        bus, fanout, [CallAnswered(call, T0, interface="PJSIP/1001", member_name="alice")]
    )
    assert stores.opened == ["1700000002.1"]
    assert pop["ticket_number"] == "HL-20261122-0001"
    assert pop["ticket"]["status"] == "in_progress"
    await bus.close()


async def test_a_caller_who_joined_an_incident_pops_the_incident_ticket() -> None:
    stores = Stores()
    stores.tickets["1700000000.9"] = replace(ticket("1700000000.9"), number="HL-20261122-0042")
    call = snapshot(call_id="1700000003.1", variables={"HOTLINE_INCIDENT": "HL-20261122-0042"})
    bus = InProcessBus()
    fanout = ConsoleFanout(
        users=stores, tickets=stores, sites=stores, bus=bus, open_ticket=stores.open_ticket
    )
    pop = await pop_of(
        bus,
        fanout,
        [
            AgentRinging(call, T0, interface="PJSIP/1001", member_name="alice"),
            CallAnswered(call, T0, interface="PJSIP/1001", member_name="alice"),
        ],
    )
    assert pop["ticket_number"] == "HL-20261122-0042"
    assert stores.opened == []  # joining again would log the caller twice on the incident
    await bus.close()


class Team(Stores):
    """Three agents whose phones ring at once (an emergency pool that rings all)."""

    PHONES = {"PJSIP/1001": "alice", "PJSIP/1002": "bob", "PJSIP/1003": "carol"}

    async def all_users(self) -> list[ConsoleUser]:
        return [ConsoleUser(n, UserRole.AGENT, i) for i, n in self.PHONES.items()]


async def messages_of(
    bus: InProcessBus, users: list[str], events: list[Any], fanout: ConsoleFanout
) -> dict[str, list[dict[str, Any]]]:
    subs = {u: await bus.subscribe(f"user:{u}") for u in users}
    for event in events:
        await fanout.handle(event)
    got: dict[str, list[dict[str, Any]]] = {u: [] for u in users}

    async def drain(user: str) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.3):
                async for message in subs[user]:
                    got[user].append(dict(message))

    await asyncio.gather(*(drain(u) for u in users))
    for sub in subs.values():
        await sub.close()
    return got


@pytest.mark.parametrize("answering", ["PJSIP/1002", "PJSIP/1003", "PJSIP/1001"])
async def test_the_pop_goes_to_the_agent_who_answered_when_several_rang(answering: str) -> None:
    stores = Team()
    call = snapshot(call_id="1700000009.1")
    stores.tickets[call.call_id] = ticket(call.call_id)
    bus = InProcessBus()
    fanout = ConsoleFanout(
        users=stores, tickets=stores, sites=stores, bus=bus, open_ticket=stores.open_ticket
    )
    at = T0 + timedelta(seconds=8)
    ringing = [
        AgentRinging(call, T0, interface=phone, member_name=name)
        for phone, name in Team.PHONES.items()
    ]
    # carol's phone reported its no-answer; alice's AgentRingNoAnswer never came (missed).
    events: list[Any] = [*ringing]
    if answering != "PJSIP/1003":
        events.append(AgentNoAnswer(call, at, interface="PJSIP/1003", ring_ms=8000))
    answered = replace(call, agent_interface=answering, state=CallState.CONNECTED)
    events.append(CallAnswered(answered, at, interface=answering, member_name="x"))
    got = await messages_of(bus, list(Team.PHONES.values()), events, fanout)
    winner = Team.PHONES[answering]
    for user, messages in got.items():
        kinds = [m["type"] for m in messages]
        assert kinds[0] == "ringing", (user, kinds)
        if user == winner:
            assert kinds.count("screen_pop") == 1, (user, kinds)
            assert "ring_cancelled" not in kinds
        else:
            assert "screen_pop" not in kinds, (user, kinds)
            assert kinds[-1] == "ring_cancelled", (user, kinds)
    await bus.close()
