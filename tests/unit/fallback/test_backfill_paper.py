"""A paper's content always reaches its call's ticket, and reading the backfill changes nothing.

The flow of a drill or a console-only outage: the supervisor flips to emergency mode while
the database stays up, so an emergency call gets its paper number *and* its ticket
automatically. The paper written during the call must still go into that ticket, whether
or not someone looked at the backfill list first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from calls import CallQueued, CallState
from fallback.domain import backfill as bf
from fallback.errors import BackfillConflict, BackfillIncomplete
from fallback.records import BackfillItem
from fallback.service import EmergencyService
from testkit.call_snapshots import call_snapshot

EMER = "hotline-emergency"
Maker = Callable[..., Awaitable[EmergencyService]]


async def emergency_call_with_automatic_ticket(service: EmergencyService, sink, clock) -> str:  # type: ignore[no-untyped-def]
    await service.set_active(True, reason="drill", by="sue")
    snap = call_snapshot(
        "c1",
        clock.now,
        channel="PJSIP/trunk-c1",
        caller_number="13800138001",
        state=CallState.QUEUED,
        queue=EMER,
    )
    await service.handle_call_event(CallQueued(snap, clock.now, 1))
    await service.drain()
    sink.preexisting("c1")  # the database is up: the call got its ticket as usual
    paper = service.paper_number_of("c1")
    assert paper is not None
    return paper


async def enter(service: EmergencyService, paper: str, by: str = "alice") -> str:
    return await service.submit(
        paper,
        site_code=None,
        level=2,
        description="camera 3 dark since 08:00",
        caller_number=None,
        by=by,
    )


def journal_bytes(tmp_path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("exit_first", [False, True], ids=["in-emergency", "after-exit"])
@pytest.mark.parametrize("list_first", [True, False], ids=["list-then-enter", "enter-then-list"])
async def test_both_orders_end_the_same(
    make_service: Maker,
    sink,
    clock,
    list_first: bool,  # type: ignore[no-untyped-def]
    exit_first: bool,
) -> None:
    service = await make_service()
    paper = await emergency_call_with_automatic_ticket(service, sink, clock)
    if exit_first:
        await service.set_active(False, reason="drill over", by="sue")
    if list_first:
        await service.items()
        await service.reconciliation()
    number = await enter(service, paper)
    assert number == "T00001"  # the call's own ticket, never a second one
    (item,) = await service.items()
    assert (item.ticket_number, item.paper_entered, item.entered_by, item.state) == (
        "T00001",
        True,
        "alice",
        "entered",
    )
    assert (await service.reconciliation()).done
    with pytest.raises(
        BackfillConflict, match=f"{paper} is already entered as ticket T00001 by alice"
    ):
        await enter(service, paper, by="bob")


async def test_reads_leave_the_journal_byte_for_byte(
    make_service: Maker, sink, clock, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    service = await make_service()
    await emergency_call_with_automatic_ticket(service, sink, clock)
    await service.set_active(False, reason="drill over", by="sue")
    sink.preexisting("not-journaled")  # more tickets appear; a read must not go linking them
    before = journal_bytes(tmp_path)
    for _ in range(3):
        await service.items()
        await service.reconciliation()
        await service.callback_list()
        service.status()
        service.audit_log()
    assert journal_bytes(tmp_path) == before


async def test_an_automatic_ticket_waits_for_its_paper(make_service: Maker, sink, clock) -> None:  # type: ignore[no-untyped-def]
    service = await make_service()
    paper = await emergency_call_with_automatic_ticket(service, sink, clock)
    await service.set_active(False, reason="drill over", by="sue")
    (item,) = await service.items()
    assert (item.ticket_number, item.state, item.accounted_for) == ("T00001", "ticket_only", False)
    rec = await service.reconciliation()
    assert not rec.done and [i.paper_number for i in rec.awaiting_paper] == [paper]
    assert rec.calls_without_ticket == ()
    with pytest.raises(BackfillIncomplete) as refused:
        await service.close_backfill("sue")
    assert refused.value.missing == [paper]
    await enter(service, paper)
    await service.close_backfill("sue")
    assert service.status().state == "normal"


async def test_without_require_paper_the_automatic_ticket_is_enough(
    make_service: Maker, sink, clock
) -> None:  # type: ignore[no-untyped-def]
    service = await make_service(require_paper=False)
    paper = await emergency_call_with_automatic_ticket(service, sink, clock)
    await service.set_active(False, reason="drill over", by="sue")
    (item,) = await service.items()
    assert (item.state, item.accounted_for) == ("ticket_only", True)
    assert (await service.reconciliation()).done
    await service.close_backfill("sue")
    assert service.status().state == "normal"
    with pytest.raises(BackfillConflict, match=f"the backfill of paper ticket {paper} is closed"):
        await enter(service, paper)


async def test_the_reconciliation_pass_links_tickets_written_later(
    make_service: Maker, sink, clock
) -> None:  # type: ignore[no-untyped-def]
    service = await make_service()
    await service.set_active(True, reason="db down", by="sue")
    snap = call_snapshot(
        "c9", clock.now, channel="PJSIP/trunk-c9", state=CallState.QUEUED, queue=EMER
    )
    await service.handle_call_event(CallQueued(snap, clock.now, 1))
    await service.drain()
    await service.set_active(False, reason="db back", by="sue")
    assert (await service.items())[0].ticket_number is None
    sink.preexisting("c9")  # the pipeline's retry wrote the ticket after the exit
    assert (await service.items())[0].ticket_number is None  # reads do not link
    await service.link_automatic_tickets()
    assert (await service.items())[0].state == "ticket_only"


LEGACY = {
    "kind": "call",
    "call_id": "c1",
    "at": "2026-12-01T08:00:00+00:00",
    "fields": {"paper_number": "E000001"},
}


@pytest.mark.parametrize(
    ("record", "entered"),
    [
        ({"by": "alice", "linked": False, "content": True}, True),
        ({"by": "alice", "linked": True, "content": True}, True),
        ({"by": "system", "linked": True, "content": False}, False),
        # Journals written before `content` existed: only `system` links carry no paper.
        ({"by": "alice", "linked": True}, True),
        ({"by": "system", "linked": True}, False),
    ],
)
def test_fold_tells_entered_from_linked(record: dict[str, object], entered: bool) -> None:
    backfill = {
        "kind": "backfill",
        "paper_number": "E000001",
        "call_id": "c1",
        "ticket_number": "HL-1",
        "at": "2026-12-01T09:00:00+00:00",
    } | record
    ledger = bf.fold([LEGACY, backfill])
    assert ledger.tickets == {"E000001": "HL-1"}
    assert ("E000001" in ledger.entries) is entered
    (item,) = bf.open_items(ledger)
    assert item.accounted_for is entered
    assert bf.open_items(ledger, require_paper=False)[0].accounted_for


def _item(
    paper: str,
    *,
    call_id: str | None,
    ticket: str | None = None,
    entered: bool = False,
    waived: bool = False,
) -> BackfillItem:
    return BackfillItem(
        paper, call_id, None, None, None, ticket, waived, None, paper_entered=entered
    )


@pytest.mark.parametrize(
    ("items", "done"),
    [
        ([], True),
        ([_item("E1", call_id="c1", ticket="T1", entered=True)], True),
        ([_item("E1", call_id="c1", ticket="T1")], False),
        ([_item("E1", call_id="c1", waived=True)], True),
        ([_item("E1", call_id="c1")], False),
        # A loose paper number (no journaled call) not yet entered blocks as a call does.
        ([_item("E1", call_id="c1", ticket="T1", entered=True), _item("E40", call_id=None)], False),
        ([_item("E40", call_id=None, ticket="T9", entered=True)], True),
        ([_item("E40", call_id=None, waived=True)], True),
    ],
)
def test_reconciliation_is_done_only_when_every_item_is(
    items: list[BackfillItem], done: bool
) -> None:
    assert bf.reconcile(items).done is done
