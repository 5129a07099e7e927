"""Reconciliation over journal records (pure)."""

from __future__ import annotations

from fallback.domain import backfill as bf


def call(
    call_id: str,
    paper: str,
    caller: str = "13800138000",
    at: str = "2026-11-22T08:00:00+00:00",
    **more,
):
    fields = {"paper_number": paper, "caller_number": caller, "started_at": at} | more
    return {"kind": "call", "call_id": call_id, "at": at, "fields": fields}


def test_calls_are_merged_from_their_updates() -> None:
    ledger = bf.fold(
        [
            call("c1", "E000001", ivr={"HOTLINE_SITE": "234567"}),
            {
                "kind": "call",
                "call_id": "c1",
                "at": "x",
                "fields": {
                    "agent": "alice",
                    "answered_at": "2026-11-22T08:01:00+00:00",
                    "paper_number": "E9",
                },
            },
            {
                "kind": "call",
                "call_id": "c1",
                "at": "x",
                "fields": {
                    "ended_at": "2026-11-22T08:05:30+00:00",
                    "outcome": "answered",
                    "talk_seconds": 270,
                    "ivr": {"HOTLINE_LEVEL": "1"},
                },
            },
        ]
    )
    c = ledger.calls["c1"]
    assert c.paper_number == "E000001"  # never changed by an update
    assert c.agent == "alice" and c.outcome == "answered" and c.talk_seconds == 270
    assert c.duration_seconds == 330.0
    assert dict(c.ivr) == {"HOTLINE_SITE": "234567", "HOTLINE_LEVEL": "1"}


def test_update_without_a_first_record_is_ignored() -> None:
    ledger = bf.fold([{"kind": "call", "call_id": "c9", "at": "x", "fields": {"agent": "a"}}])
    assert ledger.calls == {}


def test_reconciliation_table() -> None:
    records = [
        call("c1", "E000001", at="2026-11-22T08:00:00+00:00"),
        call("c2", "E000002", at="2026-11-22T08:03:00+00:00"),
        call("c3", "E000003", at="2026-11-22T08:01:00+00:00"),
        call("c4", "E000004", caller=""),
        {"kind": "backfill", "paper_number": "E000001", "call_id": "c1", "ticket_number": "T1"},
        {"kind": "waive", "paper_number": "E000003", "reason": "test call", "by": "lead"},
        {"kind": "paper", "paper_number": "E000050", "caller_number": "01088886666"},
        {"kind": "backfill", "paper_number": "E000050", "call_id": None, "ticket_number": "T2"},
    ]
    items = bf.open_items(bf.fold(records))
    # Oldest first, then paper numbers entered without a call.
    assert [i.paper_number for i in items] == [
        "E000001",
        "E000004",
        "E000003",
        "E000002",
        "E000050",
    ]
    result = bf.reconcile(items)
    assert [i.paper_number for i in result.calls_without_ticket] == ["E000004", "E000002"]
    assert [i.paper_number for i in result.paper_without_call] == ["E000050"]
    assert [(i.paper_number, i.waive_reason) for i in result.waived] == [("E000003", "test call")]
    assert (result.total, result.ticketed, result.done) == (5, 2, False)

    records += [
        {"kind": "backfill", "paper_number": "E000002", "call_id": "c2", "ticket_number": "T3"},
        {"kind": "waive", "paper_number": "E000004", "reason": "wrong number", "by": "lead"},
    ]
    assert bf.reconcile(bf.open_items(bf.fold(records))).done

    records.append(
        {
            "kind": "backfill_closed",
            "paper_numbers": ["E000001", "E000002", "E000003", "E000004", "E000050"],
        }
    )
    ledger = bf.fold(records)
    assert bf.open_items(ledger) == []
    assert bf.reconcile([]).done


def test_callback_list_groups_by_caller_and_skips_anonymous() -> None:
    records = [
        call("c1", "E000001", caller="13800138000"),
        call("c2", "E000002", caller="13800138000"),
        call("c3", "E000003", caller=""),
        call("c4", "E000004", caller="01066667777"),
        {"kind": "backfill", "paper_number": "E000001", "call_id": "c1", "ticket_number": "T1"},
        {"kind": "backfill_closed", "paper_numbers": ["E000001", "E000002", "E000003"]},
        {
            "kind": "callback",
            "caller_number": "13800138000",
            "by": "lead",
            "at": "2026-11-22T09:00:00+00:00",
        },
    ]
    targets = {t.caller_number: t for t in bf.callback_targets(bf.fold(records))}
    assert set(targets) == {"13800138000", "01066667777"}
    first = targets["13800138000"]
    assert first.call_ids == ("c1", "c2")
    assert first.ticket_numbers == ("T1",)
    assert first.last_called_by == "lead"
    assert targets["01066667777"].last_called_at is None


def test_a_paper_is_typed_in_or_waived_once() -> None:
    records = [
        call("c1", "E000001"),
        call("c2", "E000002"),
        call("c3", "E000003"),
        {"kind": "backfill", "paper_number": "E000001", "ticket_number": "T1", "by": "bob"},
        {"kind": "waive", "paper_number": "E000002", "reason": "test call", "by": "lead"},
        # Linked to its automatic ticket by the reconciliation: the paper is still to come.
        {
            "kind": "backfill",
            "paper_number": "E000003",
            "ticket_number": "T3",
            "by": bf.SYSTEM,
            "content": False,
        },
    ]
    ledger = bf.fold(records)
    refusals = {p: bf.refusal(ledger, p) for p in ("E000001", "E000002", "E000003", "E000009")}
    assert refusals == {
        "E000001": "paper ticket E000001 is already entered as ticket T1 by bob",
        "E000002": "paper ticket E000002 was waived: test call",
        "E000003": None,
        "E000009": None,
    }
