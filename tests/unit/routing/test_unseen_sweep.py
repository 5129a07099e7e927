"""UnseenCallSweep with in-memory ports: what it hands the ticket service, and that a
failing round does not stop the sweep."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from calls import CallAnswered, CallEnded, CallOutcome, DomainCallEvent
from routing.domain.unseen_calls import CdrEntry
from routing.errors import StoreUnavailable
from routing.records import CallRecord, MatchKind, SiteMatch
from routing.unseen import UnseenCallSweep

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def row(call_id: str, **kw: object) -> CdrEntry:
    values: dict[str, object] = dict(
        linkedid=call_id,
        uniqueid=call_id,
        calldate=T0,
        clid='"Wang Li" <01012345678>',
        src="01012345678",
        dcontext="hotline-in",
        channel="PJSIP/trunk-00000001",
        dstchannel="",
        lastapp="Queue",
        lastdata="hotline-main,c,,,300",
        duration=60,
        billsec=60,
        disposition="ANSWERED",
    )
    values.update(kw)
    return CdrEntry(**values)  # type: ignore[arg-type]


class Cdr:
    def __init__(self, rows: list[CdrEntry], failures: int = 0) -> None:
        self.rows, self.failures, self.asked = rows, failures, 0

    async def unrecorded(self, since: datetime, *, limit: int = 500) -> Sequence[CdrEntry]:
        self.asked += 1
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("database unavailable")
        return [r for r in self.rows if r.calldate >= since]

    async def rows_of(self, linkedids: object) -> list[CdrEntry]:
        return [r for r in self.rows if r.linkedid in linkedids]  # type: ignore[operator]


class Sites:
    async def match_caller(self, number: str) -> SiteMatch:
        if number == "01012345678":
            return SiteMatch(MatchKind.UNIQUE, "+861012345678", ("4401001",), ("Riverside",))
        return SiteMatch(MatchKind.NONE, "")


def sweep_of(cdr: Cdr, seen: list[DomainCallEvent], **kw: object) -> UnseenCallSweep:
    def record(event: DomainCallEvent) -> None:
        seen.append(event)

    return UnseenCallSweep(
        cdr,
        Sites(),  # type: ignore[arg-type]
        record,
        clock=lambda: T0 + timedelta(minutes=10),
        **kw,  # type: ignore[arg-type]
    )


async def test_answered_call_is_handed_over_as_answer_then_end() -> None:
    seen: list[DomainCallEvent] = []
    cdr = Cdr([row("1.1", dstchannel="PJSIP/1001-00000003", billsec=45)])
    assert await sweep_of(cdr, seen).sweep() == ["1.1"]
    answered, ended = seen
    assert isinstance(answered, CallAnswered) and isinstance(ended, CallEnded)
    assert answered.interface == "PJSIP/1001" and answered.at == T0 + timedelta(seconds=15)
    call = ended.call
    assert call.outcome is CallOutcome.ANSWERED and call.resynced
    assert call.site_code == "4401001" and call.variables == {"HOTLINE_SITE": "4401001"}
    assert call.queued_at == T0 and call.talk_seconds == 45
    assert ended.at == T0 + timedelta(seconds=60)


async def test_live_and_recent_calls_wait_for_a_later_round() -> None:
    seen: list[DomainCallEvent] = []
    rows = [
        row("live.1"),
        row("recent.1", calldate=T0 + timedelta(minutes=8), src="13912345678"),
        row("old.1", src="13912345678"),
    ]
    sweep = sweep_of(Cdr(rows), seen, live_calls=lambda: {"live.1"})
    assert await sweep.sweep() == ["old.1"]
    [ended] = seen
    assert isinstance(ended, CallEnded) and ended.call.site_code is None
    assert ended.call.outcome is CallOutcome.ABANDONED


async def test_a_failing_round_is_retried() -> None:
    seen: list[DomainCallEvent] = []
    cdr = Cdr([row("1.1")], failures=1)
    sweep = sweep_of(cdr, seen)
    task = asyncio.create_task(sweep.run_forever(0.01))
    try:
        async with asyncio.timeout(5):
            while not seen:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert cdr.asked >= 2 and sweep.recovered >= 1


def record(call_id: str, **kw: object) -> CallRecord:
    values: dict[str, object] = dict(
        call_id=call_id,
        caller_number="01012345678",
        caller_name="Wang Li",
        site_code="4401001",
        level=2,
        queue="hotline-main",
        agent=None,
        agent_interface=None,
        started_at=T0,
        queued_at=T0 + timedelta(seconds=20),
        answered_at=None,
        ended_at=None,
        outcome=None,
        ticket_number="HL-20261122-0001",
    )
    values.update(kw)
    return CallRecord(**values)  # type: ignore[arg-type]


class OpenCalls:
    """The call records with no end (a crash left them), as storage returns them."""

    def __init__(self, records: list[CallRecord]) -> None:
        self.records = records

    async def open_calls(self, started_before: datetime, *, limit: int = 500) -> list[CallRecord]:
        return [r for r in self.records if r.ended_at is None and r.started_at < started_before]


def closer(
    rows: list[CdrEntry],
    records: list[CallRecord],
    seen: list[DomainCallEvent],
    *,
    live: frozenset[str] = frozenset(),
    synced: bool = True,
) -> UnseenCallSweep:
    return UnseenCallSweep(
        Cdr(rows),
        Sites(),  # type: ignore[arg-type]
        seen.append,
        calls=OpenCalls(records),  # type: ignore[arg-type]
        live_calls=lambda: live,
        pbx_synced=lambda: synced,
        clock=lambda: T0 + timedelta(minutes=10),
    )


async def test_records_left_open_are_closed_with_their_true_end() -> None:
    seen: list[DomainCallEvent] = []
    answered_at = T0 + timedelta(seconds=30)
    records = [
        # answered, then the controller died: the CDR has its end (calldate + duration)
        record("talked.1", answered_at=answered_at, agent="alice", agent_interface="PJSIP/1001"),
        # waiting when the controller died, no CDR row (cdr_pgsql not configured)
        record("waited.1", caller_number="13911112222"),
        # in the IVR, no CDR row
        record("ivr.1", queued_at=None, queue=None, ticket_number=None),
        # still live on the PBX: the resynced tracker follows it
        record("live.1"),
    ]
    rows = [row("talked.1", dstchannel="PJSIP/1001-0000002a", duration=95, billsec=65)]
    closed = await closer(rows, records, seen, live=frozenset({"live.1"})).close_open()
    assert closed == ["talked.1", "waited.1", "ivr.1"]
    ends = {e.call_id: e for e in seen}
    assert all(isinstance(e, CallEnded) and e.call.resynced for e in seen)
    talked = ends["talked.1"]
    assert talked.at == T0 + timedelta(seconds=95)  # to the CDR's precision
    assert talked.call.outcome is CallOutcome.ANSWERED
    assert talked.call.agent_member_name == "alice" and talked.call.talk_seconds == 65
    waited = ends["waited.1"]
    assert waited.call.outcome is CallOutcome.ABANDONED  # a callback ticket follows
    assert waited.at == T0 + timedelta(seconds=20)  # no CDR: its last known moment
    assert ends["ivr.1"].call.outcome is CallOutcome.IVR_HANGUP


async def test_nothing_is_closed_before_the_pbx_picture_is_current() -> None:
    seen: list[DomainCallEvent] = []
    # Before the AMI log-in and resync the tracker knows no live call at all.
    assert await closer([], [record("live.1")], seen, synced=False).close_open() == []
    assert seen == []


async def test_a_record_whose_events_are_on_their_way_is_left_alone() -> None:
    seen: list[DomainCallEvent] = []
    # Its CallEnded is still in the tickets stage's lane: `live_calls` names it.
    young = record("young.1", started_at=T0 + timedelta(minutes=9))
    assert await closer([], [young], seen, live=frozenset({"young.1"})).close_open() == []
    assert await closer([], [young], seen).close_open() == ["young.1"]
