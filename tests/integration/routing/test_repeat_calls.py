"""Repeat calls over the real stores (SQLite and PostgreSQL): a second call from a site
within the window joins the site's open ticket; an agent can split it off again. The two
sites are `sites_loaded` (conftest)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from calls import CallEnded, CallOutcome, CallQueued, CallSnapshot, CallStarted, CallState
from routing.domain.levels import SlaPolicy
from routing.errors import InvalidInput
from routing.records import TicketFilter
from routing.tickets import CallTicketService
from storage.call_events import CallEventWriter
from storage.calls import CallRepository
from storage.database import Database
from storage.group_commit import GroupCommit
from storage.oncall import OnCallRepository
from storage.repeat_calls import RepeatCallRepository
from storage.sites import SiteRepository
from storage.tickets import TicketRepository
from storage.users import UserRepository
from testkit.call_snapshots import call_snapshot

T0 = datetime(2026, 12, 5, 1, 10, tzinfo=UTC)  # 09:10 in Beijing


@dataclass
class RecordingPager:
    requests: list[tuple[str, str]] = field(default_factory=list)

    async def request_page(
        self,
        *,
        ticket_number: str,
        site_code: str | None,
        caller_number: str,
        reason: str,
        at: datetime,
    ) -> None:
        self.requests.append((ticket_number, reason))

    def page_requested(self, ticket_number: str, reason: str) -> None:
        self.requests.append((ticket_number, reason))


def queued(call_id: str, at: datetime, *, level: int = 2, site: str = "234567") -> CallSnapshot:
    return call_snapshot(
        call_id,
        at,
        channel="PJSIP/trunk-1",
        state=CallState.QUEUED,
        queue="hotline-main",
        queued_at=at,
        site_code=site,
        level=level,
        caller_number="13800138000",
        variables={"HOTLINE_SITE": site, "HOTLINE_LEVEL": str(level)},
    )


async def arrive(service: CallTicketService, call: CallSnapshot) -> None:
    await service.handle(CallStarted(replace(call, state=CallState.IN_IVR), call.started_at))
    await service.handle(CallQueued(call, call.started_at, position=1))


@pytest.fixture
async def pager() -> RecordingPager:
    return RecordingPager()


def make_service(
    db: Database,
    pager: RecordingPager,
    window_minutes: int,
    commits: GroupCommit | None = None,
) -> CallTicketService:
    tickets, calls = TicketRepository(db), CallRepository(db)
    return CallTicketService(
        tickets=tickets,
        calls=calls,
        writes=CallEventWriter(commits or GroupCommit(db), tickets, calls),
        sites=SiteRepository(db),
        users=UserRepository(db),
        policy=SlaPolicy(),
        clock=lambda: T0 + timedelta(minutes=30),
        repeats=RepeatCallRepository(db),
        repeat_window=timedelta(minutes=window_minutes),
        pager=pager,
    )


async def test_two_calls_from_one_site_share_one_ticket(
    sites_loaded: Database, pager: RecordingPager
) -> None:
    service = make_service(sites_loaded, pager, 240)
    first, second = queued("c-1", T0), queued("c-2", T0 + timedelta(minutes=20), level=3)
    await arrive(service, first)
    await arrive(service, second)
    await arrive(service, second)  # a replay writes no second history entry
    tickets = await service.tickets.list(TicketFilter(site_code="234567"))
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket.call_id == "c-1"
    record = await service.calls.get("c-2")
    assert record is not None and record.ticket_number == ticket.number
    repeats = [h for h in ticket.history if "repeat" in h.note]
    assert len(repeats) == 1 and "c-2" in repeats[0].note
    # The call's end keeps the joined ticket (not a new one).
    ended = replace(second, state=CallState.ENDED, outcome=CallOutcome.ANSWERED)
    await service.handle(CallEnded(ended, T0 + timedelta(minutes=25)))
    record = await service.calls.get("c-2")
    assert record is not None and record.ticket_number == ticket.number
    assert len(await service.tickets.list(TicketFilter(site_code="234567"))) == 1
    # The repeat caller's survey score lands on the joined ticket.
    await service.record_score("c-2", 4)
    scored = await service.tickets.get(ticket.number)
    assert scored is not None and scored.satisfaction == 4
    # What the ringing card asks gives the same answer.
    joined = await service.repeat_of(second, second.started_at)
    assert joined is not None and joined.number == ticket.number


@pytest.mark.parametrize(
    ("window", "second_level", "second_after", "other_site", "tickets"),
    [
        (0, 2, 20, False, 2),  # merging off
        (240, 1, 20, False, 2),  # a more urgent call never joins a less urgent ticket
        (240, 2, 241, False, 2),  # outside the window
        (240, 2, 20, True, 1),  # another site: its own ticket (1 at this site)
    ],
)
async def test_calls_that_open_their_own_ticket(
    sites_loaded: Database,
    pager: RecordingPager,
    window: int,
    second_level: int,
    second_after: int,
    other_site: bool,
    tickets: int,
) -> None:
    service = make_service(sites_loaded, pager, window)
    await arrive(service, queued("c-1", T0))
    second = queued(
        "c-2",
        T0 + timedelta(minutes=second_after),
        level=second_level,
        site="345678" if other_site else "234567",
    )
    await arrive(service, second)
    assert len(await service.tickets.list(TicketFilter(site_code="234567"))) == tickets
    own = await service.tickets.get_by_call("c-2")
    assert own is not None


async def test_split_gives_the_call_its_own_ticket(
    sites_loaded: Database, pager: RecordingPager
) -> None:
    service = make_service(sites_loaded, pager, 240)
    await arrive(service, queued("c-1", T0))
    second = queued("c-2", T0 + timedelta(minutes=5))
    await arrive(service, second)
    joined = await service.tickets.get_by_call("c-1")
    assert joined is not None
    with pytest.raises(InvalidInput):
        await service.split_call(joined.number, "c-1", by="alice")  # the opener stays
    new = await service.split_call(joined.number, "c-2", by="alice")
    assert new.number != joined.number and new.call_id == "c-2"
    assert (new.site_code, new.level) == ("234567", 2)
    record = await service.calls.get("c-2")
    assert record is not None and record.ticket_number == new.number
    old = await service.tickets.get(joined.number)
    assert old is not None
    assert any(h.field == "split_call" and new.number in h.note for h in old.history)
    # Later events of the call stay with the new ticket.
    await service.handle(CallQueued(second, second.started_at, position=1))
    record = await service.calls.get("c-2")
    assert record is not None and record.ticket_number == new.number
    with pytest.raises(InvalidInput):
        await service.split_call(joined.number, "c-2", by="alice")  # not attached any more


async def test_level_one_call_requests_a_page_at_the_queue_join(
    sites_loaded: Database, pager: RecordingPager
) -> None:
    service = make_service(sites_loaded, pager, 240)
    await arrive(service, queued("c-1", T0, level=2))
    assert pager.requests == []
    await arrive(service, queued("c-9", T0 + timedelta(minutes=1), level=1, site="345678"))
    ticket = await service.tickets.get_by_call("c-9")
    assert ticket is not None
    assert pager.requests == [(ticket.number, "keypress")]
    # Durable with the ticket: written in the queue join's own transaction.
    assert await OnCallRepository(sites_loaded).has_pages(ticket.number)
    await arrive(service, queued("c-9", T0 + timedelta(minutes=1), level=1, site="345678"))
    assert pager.requests == [(ticket.number, "keypress")]  # a replay pages no more
