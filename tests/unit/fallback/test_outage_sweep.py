"""Calls taken while the seat system was already failing (between the last healthy check and
the automatic switch) are journaled at the switch, so a controller crash before the
database returns cannot lose their tickets: found by the chaos test (tests/e2e/chaos)."""

from __future__ import annotations

from datetime import timedelta

from calls import CallAnswered, CallEnded, CallOutcome, CallQueued, CallSnapshot, CallState
from fallback.domain import backfill as bf
from fallback.domain.mode import EmergencyPolicy, Verdict
from fallback.health import HealthRound
from fallback.journal import EmergencyJournal
from fallback.paper import PaperNumberAllocator
from fallback.service import EmergencyService
from fallback.switching import PbxSwitch
from testkit.call_snapshots import call_snapshot

MAIN, EMER = "hotline-main", "hotline-emergency"


def snap(clock, call_id: str, state: CallState, **more) -> CallSnapshot:
    values = {"state": state, "queue": MAIN, "site_code": "234567", "level": 2} | more
    return call_snapshot(call_id, clock.now, **values)


class Notices:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def __call__(self, **kwargs) -> None:
        self.sent.append(kwargs)


async def test_calls_since_the_last_healthy_check_are_journaled_at_the_switch(
    tmp_path, pbx, sink, bus, clock
) -> None:
    notices = Notices()
    service = EmergencyService(
        control=pbx,
        switch=PbxSwitch(pbx, pool=["PJSIP/1003"], retry_delay=0),
        journal=EmergencyJournal(tmp_path),
        paper=PaperNumberAllocator(tmp_path),
        sink=sink,
        clock=clock,
        policy=EmergencyPolicy(failures_to_enter=2, hold_down=timedelta(0)),
        bus=bus,
        paper_notice=notices,
        outage_margin=timedelta(seconds=30),
    )
    await service.start()
    try:
        # Long before the outage: ended and written, well before the last healthy check.
        old = snap(clock, "old", CallState.QUEUED)
        await service.handle_call_event(CallQueued(old, clock.now, 1))
        clock.advance(5)
        await service.handle_call_event(
            CallEnded(
                snap(
                    clock, "old", CallState.ENDED, ended_at=clock.now, outcome=CallOutcome.ANSWERED
                ),
                clock.now,
            )
        )
        await service.drain()
        clock.advance(120)
        await service.on_health_round(HealthRound(clock.now, (), Verdict.HEALTHY))
        # The database hangs: these calls' ticket writes are stuck in memory.
        clock.advance(2)
        ended = snap(clock, "ended", CallState.QUEUED)
        await service.handle_call_event(CallQueued(ended, clock.now, 1))
        talking = snap(
            clock,
            "talking",
            CallState.CONNECTED,
            agent_interface="PJSIP/1001",
            agent_member_name="alice",
            answered_at=clock.now,
        )
        await service.handle_call_event(CallAnswered(talking, clock.now, "PJSIP/1001", "alice", 3))
        await service.handle_call_event(
            CallEnded(
                snap(
                    clock,
                    "ended",
                    CallState.ENDED,
                    ended_at=clock.now,
                    outcome=CallOutcome.ABANDONED,
                ),
                clock.now,
            )
        )
        waiting = snap(clock, "waiting", CallState.QUEUED)
        await service.handle_call_event(CallQueued(waiting, clock.now, 1))
        in_ivr = snap(clock, "in-ivr", CallState.IN_IVR, queue=None, queued_at=None)
        await service.handle_call_event(CallQueued(in_ivr, clock.now, 0))  # odd, but never queued
        await service.drain()
        assert service.paper_number_of("ended") is None

        for _ in range(2):
            clock.advance(5)
            await service.on_health_round(HealthRound(clock.now, (), Verdict.FAILING))
        assert service.status().active

        # Ended and talking calls got paper numbers; the waiting one is journaled when it
        # joins the emergency queue (with moved_from); the old one is long safe.
        assert service.paper_number_of("ended") is not None
        assert service.paper_number_of("talking") is not None
        assert service.paper_number_of("waiting") is None
        assert service.paper_number_of("old") is None
        ledger = bf.fold(service.journal.records())
        assert ledger.calls["ended"].outcome == "abandoned"
        assert ledger.calls["talking"].agent == "alice"
        # The agent still talking is told the number to write on the paper ticket.
        assert [n["call_id"] for n in notices.sent] == ["talking"]
        numbers = [c.paper_number for c in ledger.calls.values()]
        assert len(set(numbers)) == len(numbers)

        # A second switch (after a flip back) never gives a call a second number.
        await service.set_active(False, reason="false alarm", by="sue")
        await service.set_active(True, reason="again", by="sue")
        assert len(bf.fold(service.journal.records()).calls) == 2
    finally:
        await service.stop()


class RecordingCalls:
    """`CallStore.upsert` that keeps what it was given."""

    def __init__(self) -> None:
        self.upserts: list[tuple[CallSnapshot, dict]] = []

    async def upsert(self, call: CallSnapshot, **kw) -> None:
        self.upserts.append((call, kw))


async def test_backfilled_and_linked_calls_get_their_record_from_the_journal(
    tmp_path, pbx, sink, bus, clock
) -> None:
    records = RecordingCalls()
    service = EmergencyService(
        control=pbx,
        switch=PbxSwitch(pbx, pool=["PJSIP/1003"], retry_delay=0),
        journal=EmergencyJournal(tmp_path),
        paper=PaperNumberAllocator(tmp_path),
        sink=sink,
        clock=clock,
        bus=bus,
        call_records=records,
    )
    await service.start()
    try:
        await service.set_active(True, reason="database down", by="sue")
        for call_id in ("lost", "kept"):
            await service.handle_call_event(
                CallQueued(snap(clock, call_id, CallState.QUEUED, queue=EMER), clock.now, 1)
            )
        clock.advance(4)
        answered = snap(
            clock,
            "lost",
            CallState.CONNECTED,
            queue=EMER,
            agent_interface="PJSIP/1003",
            agent_member_name="PJSIP/1003",
            answered_at=clock.now,
        )
        await service.handle_call_event(
            CallAnswered(answered, clock.now, "PJSIP/1003", "PJSIP/1003", 4)
        )
        clock.advance(60)
        ended = snap(
            clock,
            "lost",
            CallState.ENDED,
            queue=EMER,
            agent_interface="PJSIP/1003",
            answered_at=answered.answered_at,
            ended_at=clock.now,
            outcome=CallOutcome.ANSWERED,
        )
        await service.handle_call_event(CallEnded(ended, clock.now))
        await service.drain()
        await service.set_active(False, reason="database back", by="sue")
        linked = sink.preexisting("kept")  # its ticket got written after all

        await service.link_automatic_tickets()  # the leader's reconciliation pass
        items = await service.items()
        assert [i.call_id for i in items if i.ticket_number] == ["kept"]
        ticket = await service.submit(
            service.paper_number_of("lost") or "",
            site_code=None,
            level=2,
            description="UPS alarm at the machine room",
            caller_number=None,
            by="alice",
        )
        restored = {call.call_id: (call, kw) for call, kw in records.upserts}
        call, kw = restored["lost"]
        assert kw == {
            "agent": None,  # a pool desk, not a console user
            "ticket_number": ticket,
            "paper_number": service.paper_number_of("lost"),
        }
        assert call.outcome is CallOutcome.ANSWERED and call.queue == EMER
        assert call.agent_interface == "PJSIP/1003" and call.ended_at == clock.now
        assert call.answered_at is not None and call.started_at.tzinfo is not None
        assert restored["kept"][1]["ticket_number"] == linked
        assert restored["kept"][1]["paper_number"] == service.paper_number_of("kept")
    finally:
        await service.stop()


async def test_a_reconciliation_pass_reads_the_journal_once_however_many_calls_it_links(
    make_service, sink, clock
) -> None:
    """An outage leaves hundreds of calls to link; reading the whole journal again for each
    one made the leader's pass quadratic."""
    records = RecordingCalls()
    service = await make_service(call_records=records)
    await service.set_active(True, reason="database down", by="sue")
    calls = [f"c{n}" for n in range(6)]
    for call_id in calls:
        await service.handle_call_event(
            CallQueued(snap(clock, call_id, CallState.QUEUED, queue=EMER), clock.now, 1)
        )
    await service.drain()
    await service.set_active(False, reason="database back", by="sue")
    tickets = {call_id: sink.preexisting(call_id) for call_id in calls}
    reads = 0
    read = service.journal.records

    def counted(kind: str | None = None) -> list[dict]:
        nonlocal reads
        reads += 1
        return read(kind)

    service.journal.records = counted  # type: ignore[method-assign]
    await service.link_automatic_tickets()
    assert reads == 2  # the open items, then the calls' records after linking
    restored = {call.call_id: kw["ticket_number"] for call, kw in records.upserts}
    assert restored == tickets


async def test_a_straggler_joining_the_main_queue_after_the_switch_is_journaled_and_moved(
    tmp_path, pbx, sink, bus, clock
) -> None:
    service = EmergencyService(
        control=pbx,
        switch=PbxSwitch(pbx, pool=["PJSIP/1003"], retry_delay=0),
        journal=EmergencyJournal(tmp_path),
        paper=PaperNumberAllocator(tmp_path),
        sink=sink,
        clock=clock,
        policy=EmergencyPolicy(failures_to_enter=2, hold_down=timedelta(0)),
        bus=bus,
    )
    await service.start()
    try:
        await service.set_active(True, reason="database down", by="sue")
        assert service.pbx_in_sync
        # Its IVR picked the main queue a moment before the switch; it joins after it.
        pbx.join(MAIN, "PJSIP/trunk-late", "late")
        late = snap(clock, "late", CallState.QUEUED, channel="PJSIP/trunk-late")
        await service.handle_call_event(CallQueued(late, clock.now, 1))
        await service.drain()
        assert service.paper_number_of("late") == "E000001"
        assert not service.pbx_in_sync
        clock.advance(5)
        await service.on_health_round(HealthRound(clock.now, (), Verdict.FAILING))
        assert [w.channel for w in pbx.queues[EMER]] == ["PJSIP/trunk-late"]
        assert pbx.queues[MAIN] == [] and service.pbx_in_sync
        moved = snap(clock, "late", CallState.QUEUED, channel="PJSIP/trunk-late", queue=EMER)
        await service.handle_call_event(CallQueued(moved, clock.now, 1))
        await service.drain()
        call = bf.fold(service.journal.records()).calls["late"]
        assert call.paper_number == "E000001" and call.queue == EMER and call.moved_from == MAIN
    finally:
        await service.stop()
