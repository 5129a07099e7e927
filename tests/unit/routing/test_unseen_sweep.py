"""UnseenCallSweep with in-memory ports: what it hands the ticket service, and that a
failing round does not stop the sweep."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from calls import CallAnswered, CallEnded, CallOutcome, DomainCallEvent
from routing.domain.unseen_calls import CdrEntry
from routing.errors import StoreUnavailable
from routing.records import MatchKind, SiteMatch
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
