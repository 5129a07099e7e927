"""The emergency service with a fake PBX, a fake ticket sink, a recording bus, a fake clock
and a real journal directory."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from calls import (
    CallAnswered,
    CallEnded,
    CallOutcome,
    CallQueued,
    CallSnapshot,
    CallState,
)
from fallback.domain.mode import EmergencyPolicy, Verdict
from fallback.errors import (
    BackfillConflict,
    BackfillIncomplete,
    InvalidRequest,
    UnknownPaperNumber,
)
from fallback.health import HealthRound
from fallback.service import emergency_journal_stage
from pipeline import CallPipeline
from testkit.call_snapshots import call_snapshot

MAIN, EMER = "hotline-main", "hotline-emergency"


def snap(
    clock,
    call_id: str,
    *,
    queue: str | None = EMER,
    caller: str = "13800138000",
    channel: str | None = None,
    state: CallState = CallState.QUEUED,
    **more,
) -> CallSnapshot:
    values = {
        "channel": channel or f"PJSIP/trunk-{call_id}",
        "caller_number": caller,
        "state": state,
        "queue": queue,
        "site_code": "234567",
        "level": 2,
        "variables": {"HOTLINE_SITE": "234567", "HOTLINE_LEVEL": "2"},
    } | more
    return call_snapshot(call_id, clock.now, **values)


class Notices:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def __call__(self, **kwargs) -> None:
        self.sent.append(kwargs)


async def rounds(service, clock, verdict: Verdict, n: int) -> None:
    for _ in range(n):
        clock.advance(5)
        await service.on_health_round(HealthRound(clock.now, (), verdict))


async def feed(service, *events) -> None:
    """Through the product's path: the call pipeline's emergency-journal stage."""
    pipeline = CallPipeline([emergency_journal_stage(service)])
    for e in events:
        pipeline.submit(e)
    await pipeline.settled("emergency-journal", 10)


async def test_automatic_entry_switches_the_pbx_and_is_journaled(
    make_service, pbx, bus, clock, tmp_path
) -> None:
    pbx.join(MAIN, "PJSIP/trunk-a", "a")
    pbx.join(MAIN, "PJSIP/trunk-b", "b")
    service = await make_service()
    await rounds(service, clock, Verdict.FAILING, 2)
    assert not service.status().active
    await rounds(service, clock, Verdict.FAILING, 1)
    status = service.status()
    assert status.active and status.state == "emergency" and status.by == "health-watch"
    assert pbx.astdb[("hotline", "mode")] == "emergency"
    assert [w.channel for w in pbx.queues[EMER]] == ["PJSIP/trunk-a", "PJSIP/trunk-b"]
    assert service.pbx_in_sync
    assert [m["state"] for m in bus.of_type("mode")] == ["emergency"]
    assert service.audit_log()[0].action == "auto_enter"
    await service.stop()


async def test_emergency_calls_get_paper_numbers_and_are_journaled(
    make_service, pbx, clock, tmp_path
) -> None:
    notices = Notices()
    service = await make_service(paper_notice=notices)
    await service.set_active(True, reason="database down", by="lead")
    main_then_moved = snap(clock, "c1", queue=MAIN)
    await feed(
        service,
        CallQueued(main_then_moved, clock.now, 1),
        CallQueued(snap(clock, "c1"), clock.now, 1),  # moved: QueueCallerJoin again
        CallQueued(snap(clock, "c2"), clock.now, 2),
        CallQueued(snap(clock, "c1"), clock.now, 1),  # a resync replays it: same number
    )
    assert service.paper_number_of("c1") == "E000001"
    assert service.paper_number_of("c2") == "E000002"
    clock.advance(30)
    answered = snap(
        clock,
        "c1",
        state=CallState.CONNECTED,
        agent_interface="PJSIP/1003",
        agent_member_name="backup-desk",
    )
    await feed(service, CallAnswered(answered, clock.now, "PJSIP/1003", "backup-desk", 30))
    assert notices.sent == [
        {
            "interface": "PJSIP/1003",
            "member_name": "backup-desk",
            "call_id": "c1",
            "paper_number": "E000001",
            "caller_number": "13800138000",
        }
    ]
    clock.advance(120)
    ended = snap(
        clock,
        "c1",
        state=CallState.ENDED,
        ended_at=clock.now,
        talk_seconds=120,
        outcome=CallOutcome.ANSWERED,
        agent_interface="PJSIP/1003",
        agent_member_name="backup-desk",
    )
    await feed(service, CallEnded(ended, clock.now))
    items = {i.paper_number: i for i in await service.items()}
    assert items["E000001"].agent == "backup-desk"
    assert items["E000001"].call_id == "c1"
    call = service.ledger().calls["c1"]
    assert call.moved_from == MAIN and call.outcome == "answered"
    assert call.duration_seconds == 150.0 and call.site_code == "234567"
    assert ("Setvar", "HOTLINE_PAPER", "E000001", "PJSIP/trunk-c1") in pbx.actions
    await service.stop()


async def test_drill_calls_get_no_paper_number(make_service, clock) -> None:
    service = await make_service()
    drill = snap(clock, "d1", channel="Local/90000001@hotline-drill-00000001;2", caller="0")
    await feed(service, CallQueued(drill, clock.now, 1))
    assert service.paper_number_of("d1") is None
    await service.stop()


async def test_restart_resumes_mode_and_never_reuses_a_paper_number(
    make_service, pbx, clock
) -> None:
    first = await make_service()
    await first.set_active(True, reason="database down", by="lead")
    await feed(first, CallQueued(snap(clock, "c1"), clock.now, 1))
    await first.stop()  # or a crash: everything above was fsynced before it returned

    second = await make_service()
    status = second.status()
    assert status.active and status.reason == "database down" and status.by == "lead"
    assert not second.pbx_in_sync
    await second.on_ami_connected()
    assert second.pbx_in_sync and pbx.astdb[("hotline", "mode")] == "emergency"
    await feed(
        second,
        CallQueued(snap(clock, "c1"), clock.now, 1),
        CallQueued(snap(clock, "c2"), clock.now, 2),
    )
    assert second.paper_number_of("c1") == "E000001"
    assert second.paper_number_of("c2") == "E000002"
    assert [a.action for a in second.audit_log()] == ["enter"]
    await second.stop()


async def test_double_flips_are_idempotent_and_audited(make_service, pbx) -> None:
    service = await make_service()
    await service.set_active(True, reason="db down", by="lead")
    await service.set_active(True, reason="db down (again)", by="deputy")
    assert pbx.named("DBPut") == [("DBPut", "hotline", "mode", "emergency")]
    await service.set_active(False, reason="db up", by="lead")
    await service.set_active(False, reason="db up", by="deputy")
    assert [(a.action, a.outcome, a.by) for a in reversed(service.audit_log())] == [
        ("enter", "switched", "lead"),
        ("enter", "unchanged", "deputy"),
        ("exit", "switched", "lead"),
        ("close_backfill", "switched", "system"),  # no emergency calls: nothing to backfill
        ("exit", "unchanged", "deputy"),
    ]
    assert service.status().state == "normal"
    with pytest.raises(InvalidRequest):
        await service.set_active(True, reason=" ", by="lead")
    await service.stop()


async def test_flipping_while_callers_are_being_moved_loses_nobody(
    make_service, pbx, clock
) -> None:
    callers = [f"PJSIP/trunk-{i}" for i in range(8)]
    for i, ch in enumerate(callers):
        pbx.join(MAIN, ch, f"c{i}")
    service = await make_service()
    original = pbx.redirect

    async def slow_redirect(channel, context, exten, priority=1):
        await asyncio.sleep(0.005)  # every move is in flight while the other flip arrives
        await original(channel, context, exten, priority)

    pbx.redirect = slow_redirect
    # An agent answers caller 2 while the moves are under way.
    answered = snap(clock, "c2", queue=MAIN, state=CallState.CONNECTED)

    async def answer_midway() -> None:
        await asyncio.sleep(0.006)
        pbx.answer(callers[2])
        await feed(service, CallAnswered(answered, clock.now, "PJSIP/1001", "alice", 3))

    await asyncio.gather(
        service.set_active(True, reason="db down", by="lead"),
        answer_midway(),
        service.set_active(False, reason="false alarm", by="deputy"),
    )
    # Serialized: entry finished (all waiting callers moved) before the exit ran.
    assert [(a.action, a.outcome) for a in reversed(service.audit_log())][:2] == [
        ("enter", "switched"),
        ("exit", "switched"),
    ]
    assert pbx.astdb[("hotline", "mode")] == "normal"
    everyone = {ch: pbx.where(ch) for ch in callers}
    assert None not in everyone.values()
    assert everyone[callers[2]] == "talking"
    assert ("YANKED", callers[2]) not in pbx.actions
    assert sorted(ch for ch, where in everyone.items() if where == EMER) == sorted(
        set(callers) - {callers[2]}
    )
    await service.stop()


async def test_backfill_reconciliation_close_and_callbacks(make_service, pbx, sink, clock) -> None:
    service = await make_service()
    await service.set_active(True, reason="db down", by="lead")
    for i in range(1, 5):
        await feed(service, CallQueued(snap(clock, f"c{i}", caller=f"1380013800{i}"), clock.now, i))
    sink.preexisting("c4")  # its ticket was opened before the database failed
    await service.set_active(False, reason="db back", by="lead")
    assert service.status().state == "recovering"

    items = await service.items()
    assert [(i.paper_number, i.ticket_number) for i in items] == [
        ("E000001", None),
        ("E000002", None),
        ("E000003", None),
        ("E000004", "T00001"),
    ]

    ticket = await service.submit(
        "e-1",
        site_code="234567",
        level=1,
        description="MCU down\nall sites cut off",
        caller_number=None,
        by="operator1",
    )
    assert sink.tickets[ticket].call_id == "c1"
    assert sink.tickets[ticket].caller_number == "13800138001"
    assert sink.tickets[ticket].started_at == clock.now
    with pytest.raises(BackfillConflict):
        await service.submit(
            "E000001",
            site_code=None,
            level=1,
            description="again",
            caller_number=None,
            by="operator1",
        )
    with pytest.raises(UnknownPaperNumber):
        await service.submit(
            "E000777", site_code=None, level=3, description="x", caller_number=None, by="operator1"
        )
    with pytest.raises(InvalidRequest):
        await service.submit(
            "E000002",
            site_code="12\r\n",
            level=3,
            description="x",
            caller_number=None,
            by="operator1",
        )
    with pytest.raises(InvalidRequest):
        await service.submit(
            "E000002", site_code=None, level=7, description="x", caller_number=None, by="operator1"
        )
    with pytest.raises(InvalidRequest):
        await service.waive("E000002", reason="", by="lead")

    with pytest.raises(BackfillIncomplete) as refused:
        await service.close_backfill("lead")
    # E000004 has its automatic ticket, but its paper is not typed in yet.
    assert refused.value.missing == ["E000002", "E000003", "E000004"]
    assert service.status().state == "recovering"

    await service.submit(
        "E000002",
        site_code=None,
        level=3,
        description="one camera dark",
        caller_number="13800138002",
        by="operator2",
    )
    await service.waive("E000003", reason="caller rang twice, same fault as E000002", by="lead")
    # A paper is typed in once or waived once.
    with pytest.raises(BackfillConflict, match="E000003 was waived: caller rang twice"):
        await service.waive("E000003", reason="again", by="lead")
    with pytest.raises(BackfillConflict, match="E000002 is already entered as ticket"):
        await service.waive("E000002", reason="wrong number", by="lead")
    # The paper of the call with an automatic ticket goes into that ticket, once.
    linked = await service.submit(
        "E000004",
        site_code=None,
        level=2,
        description="video freezes",
        caller_number=None,
        by="operator2",
    )
    assert linked == "T00001"
    with pytest.raises(BackfillConflict, match="E000004 is already entered as ticket T00001 by"):
        await service.submit(
            "E000004",
            site_code=None,
            level=2,
            description="again",
            caller_number=None,
            by="operator1",
        )
    # A pad sheet used while the controller could not see the call:
    await service.paper.record_printed(1, 50, clock.now)
    loose = await service.submit(
        "E000040",
        site_code="100200",
        level=4,
        description="how-to",
        caller_number="01088886666",
        by="operator2",
    )
    rec = await service.reconciliation()
    assert rec.done and [i.paper_number for i in rec.paper_without_call] == ["E000040"]
    assert sink.tickets[loose].call_id is None

    await service.close_backfill("lead")
    assert service.status().state == "normal"
    assert await service.items() == []

    targets = {t.caller_number for t in await service.callback_list()}
    assert targets == {"13800138001", "13800138002", "13800138003", "13800138004", "01088886666"}
    with pytest.raises(InvalidRequest):
        await service.call_back("138\r\nAction: Hangup", interface="PJSIP/1001", by="lead")
    action_id = await service.call_back("13800138001", interface="PJSIP/1001", by="lead")
    assert (
        "Originate",
        "PJSIP/1001",
        "hotline-callback",
        "13800138001",
        "Hotline callback <13800138001>",
        action_id,
    ) in pbx.actions
    called = {t.caller_number: t for t in await service.callback_list()}["13800138001"]
    assert called.last_called_by == "lead"
    await service.stop()


async def test_pbx_down_on_entry_is_retried_on_reconnect_and_by_the_watch(
    make_service, pbx, clock
) -> None:
    pbx.join(MAIN, "PJSIP/trunk-a", "a")
    service = await make_service(EmergencyPolicy(failures_to_enter=1, hold_down=timedelta(0)))
    pbx.connected = False
    await service.set_active(True, reason="db down", by="lead")
    assert service.status().active and not service.pbx_in_sync
    pbx.connected = True
    await rounds(service, clock, Verdict.FAILING, 1)  # the next health round retries
    assert service.pbx_in_sync
    assert pbx.astdb[("hotline", "mode")] == "emergency"
    assert pbx.queues[MAIN] == [] and len(pbx.queues[EMER]) == 1
    await service.stop()


async def test_backfill_waits_for_the_ticket_system(make_service, sink, clock) -> None:
    from fallback.errors import TicketSystemUnavailable

    service = await make_service()
    await service.set_active(True, reason="db down", by="lead")
    await feed(service, CallQueued(snap(clock, "c1"), clock.now, 1))
    await service.set_active(False, reason="db back?", by="lead")
    sink.down = True
    assert (await service.reconciliation()).done is False  # no crash when the DB is still down
    with pytest.raises(TicketSystemUnavailable):
        await service.submit(
            "E000001", site_code=None, level=2, description="x", caller_number=None, by="op"
        )
    sink.down = False
    await service.submit(
        "E000001", site_code=None, level=2, description="x", caller_number=None, by="op"
    )
    assert (await service.reconciliation()).done
    await service.stop()


async def test_a_hung_ticket_system_does_not_hang_the_backfill_page(
    make_service, sink, clock
) -> None:
    from fallback.errors import TicketSystemUnavailable

    service = await make_service(ticket_timeout=0.05)
    await service.set_active(True, reason="db down", by="lead")
    await feed(service, CallQueued(snap(clock, "c1"), clock.now, 1))

    async def hang(*_args, **_kwargs):
        await asyncio.sleep(3600)

    sink.ticket_for_call = hang
    sink.backfill = hang
    items = await asyncio.wait_for(service.items(), 5)
    assert [i.ticket_number for i in items] == [None]
    with pytest.raises(TicketSystemUnavailable, match="did not answer"):
        await asyncio.wait_for(
            service.submit(
                "E000001", site_code=None, level=2, description="x", caller_number=None, by="op"
            ),
            5,
        )
    assert (await asyncio.wait_for(service.reconciliation(), 5)).done is False


async def test_a_broken_journal_does_not_stop_the_failover(make_service, pbx, clock) -> None:
    from fallback.errors import JournalError

    pbx.join(MAIN, "PJSIP/trunk-a", "a")
    service = await make_service()
    real_append = service.journal.append
    failures = {"left": 10**6}

    async def flaky_append(record, *, confirm=False):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise JournalError("No space left on device")
        await real_append(record, confirm=confirm)

    service.journal.append = flaky_append
    status = await service.set_active(True, reason="db down", by="lead")
    assert status.active and service.pbx_in_sync
    assert pbx.queues[MAIN] == [] and service.journal_error == "No space left on device"

    failures["left"] = 1  # the disk recovers while the call event is being retried
    await feed(service, CallQueued(snap(clock, "c1"), clock.now, 1))
    assert service.paper_number_of("c1") is not None
    assert "c1" in service.ledger().calls


async def test_drill_results_reach_the_page(make_service, bus, clock) -> None:
    from fallback.records import DrillResult

    service = await make_service()
    result = DrillResult("90000001", clock.now, clock.now, True, "backup-desk", "answered")
    await service.on_drill_result(result)
    assert service.last_drill == result
    assert bus.of_type("drill")[0]["member"] == "backup-desk"
