"""The automatic-ticket service over the real stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from calls import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallOutcome,
    CallQueued,
    CallSnapshot,
    CallStarted,
    CallState,
    DomainCallEvent,
)
from routing.domain.levels import SlaPolicy
from routing.records import CallFilter, TicketFilter, TicketStatus
from routing.tickets import CallTicketService
from storage.call_events import CallEventWriter
from storage.calls import CallRepository
from storage.database import Database
from storage.group_commit import GroupCommit
from storage.site_import import import_sites
from storage.sites import SiteRepository
from storage.tickets import TicketRepository
from storage.users import UserRepository
from testkit.call_snapshots import call_snapshot

T0 = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)
CSV = (
    "site_code,organisation,site_name,contact_phone,contact_name,tier,distance_km\n"
    "234567,湖北省水利厅,视频会议中心,13800138000,张伟,province,30\n"
)


def snap(call_id: str = "1795304030.13", **kw: object) -> CallSnapshot:
    fields: dict[str, object] = {
        "channel": "PJSIP/trunk-00000009",
        "caller_name": "Site caller",
        "state": CallState.IN_IVR,
        "queue": None,
        "queued_at": None,
        "site_code": "234567",
        "level": 2,
        "variables": {"HOTLINE_SITE": "234567", "HOTLINE_LEVEL": "2"},
    }
    return call_snapshot(call_id, T0, **(fields | kw))


def answered_call(call_id: str = "1795304030.13") -> list[DomainCallEvent]:
    queued = snap(
        call_id, state=CallState.QUEUED, queue="hotline-main", queued_at=T0 + timedelta(seconds=20)
    )
    connected = replace(
        queued,
        state=CallState.CONNECTED,
        agent_interface="PJSIP/1001",
        answered_at=T0 + timedelta(seconds=35),
        hold_seconds=15,
    )
    ended = replace(
        connected,
        state=CallState.ENDED,
        ended_at=T0 + timedelta(minutes=5),
        outcome=CallOutcome.ANSWERED,
        talk_seconds=265,
    )
    return [
        CallStarted(snap(call_id), T0),
        CallQueued(queued, T0 + timedelta(seconds=20), position=1),
        CallAnswered(
            connected, T0 + timedelta(seconds=35), interface="PJSIP/1001", hold_seconds=15
        ),
        CallEnded(ended, T0 + timedelta(minutes=5)),
    ]


@pytest.fixture
async def service(db: Database, tmp_path: Path) -> CallTicketService:
    (tmp_path / "sites.csv").write_text(CSV, encoding="utf-8")
    await import_sites(db, tmp_path / "sites.csv")
    users = UserRepository(db)
    await users.create("alice", "agent", "blue-harbour-42", "PJSIP/1001")
    tickets, calls = TicketRepository(db), CallRepository(db)
    return CallTicketService(
        tickets=tickets,
        calls=calls,
        writes=CallEventWriter(GroupCommit(db), tickets, calls),
        sites=SiteRepository(db),
        users=users,
        policy=SlaPolicy(),
        clock=lambda: T0 + timedelta(minutes=6),
    )


async def test_replayed_events_make_one_ticket_and_one_call_record(
    service: CallTicketService,
) -> None:
    events = answered_call()
    for event in events + events:  # a resync replays everything
        await service.handle(event)
    tickets = await service.tickets.list(TicketFilter(call_id="1795304030.13"))
    assert len(tickets) == 1
    ticket = tickets[0]
    assert (ticket.site_code, ticket.level, ticket.organisation) == ("234567", 2, "湖北省水利厅")
    assert ticket.contact_name == "张伟"
    opened = T0 + timedelta(seconds=20)
    assert ticket.created_at == opened
    assert ticket.response_due == opened + timedelta(hours=2)
    assert ticket.onsite_due == opened + timedelta(hours=5)  # 30 km: distance band is stricter
    assert ticket.status is TicketStatus.IN_PROGRESS and ticket.duty_agent == "alice"
    calls = await service.calls.list(CallFilter(call_id="1795304030.13"))
    assert len(calls) == 1
    call = calls[0]
    assert (call.outcome, call.agent, call.ticket_number) == ("answered", "alice", ticket.number)
    assert (call.talk_seconds, call.hold_seconds) == (265, 15)
    assert call.ended_at == T0 + timedelta(minutes=5)


async def test_concurrent_queued_events_across_processes(
    service: CallTicketService, db: Database
) -> None:
    other_db = Database(db.url)
    other_tickets, other_calls = TicketRepository(other_db), CallRepository(other_db)
    other = CallTicketService(
        tickets=other_tickets,
        calls=other_calls,
        writes=CallEventWriter(GroupCommit(other_db), other_tickets, other_calls),
        sites=SiteRepository(other_db),
        users=UserRepository(other_db),
        policy=SlaPolicy(),
    )
    queued = answered_call("call-77")[1]
    try:
        await asyncio.gather(*(s.handle(queued) for s in (service, other) * 4))
    finally:
        await other_db.dispose()
    assert len(await service.tickets.list(TicketFilter(call_id="call-77"))) == 1
    assert len(await service.calls.list(CallFilter(call_id="call-77"))) == 1


async def test_abandoned_call_becomes_a_callback_with_the_clock_running(
    service: CallTicketService,
) -> None:
    queued = snap("call-ab", state=CallState.QUEUED, queue="hotline-main", queued_at=T0)
    await service.handle(CallQueued(queued, T0, position=1))
    before = await service.tickets.get_by_call("call-ab")
    assert before is not None
    gone = replace(
        queued,
        state=CallState.ENDED,
        ended_at=T0 + timedelta(minutes=2),
        outcome=CallOutcome.ABANDONED,
    )
    await service.handle(CallAbandoned(queued, T0 + timedelta(minutes=2), hold_seconds=120))
    await service.handle(CallEnded(gone, T0 + timedelta(minutes=2)))
    await service.handle(CallEnded(gone, T0 + timedelta(minutes=2)))  # replay
    after = await service.tickets.get_by_call("call-ab")
    assert after is not None and after.status is TicketStatus.CALLBACK_DUE
    assert (after.response_due, after.onsite_due) == (before.response_due, before.onsite_due)
    assert [h.new for h in after.history if h.field == "status"] == ["callback_due"]
    record = await service.calls.get("call-ab")
    assert record is not None and record.outcome == "abandoned"
    assert record.ticket_number == after.number


async def test_unidentified_caller_gets_a_level_2_ticket(service: CallTicketService) -> None:
    call = snap(
        "call-u",
        site_code=None,
        level=None,
        variables={"HOTLINE_SITE": "unidentified"},
        caller_number="02799999999",
        state=CallState.QUEUED,
        queue="hotline-main",
        queued_at=T0,
    )
    await service.handle(CallQueued(call, T0))
    ticket = await service.tickets.get_by_call("call-u")
    assert ticket is not None and ticket.site_code is None and ticket.level == 2
    assert ticket.onsite_due == T0 + timedelta(hours=12)


async def test_survey_score_lands_on_the_ticket(service: CallTicketService) -> None:
    for event in answered_call():
        await service.handle(event)
    await service.record_score("1795304030.13", 2)
    ticket = await service.tickets.get_by_call("1795304030.13")
    assert ticket is not None and ticket.satisfaction == 2
