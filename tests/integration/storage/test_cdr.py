"""Reading the PBX's CDR (`pbx_cdr`) for calls without a call record, on SQLite and
PostgreSQL, with rows inserted the way cdr_pgsql inserts them (pbx.cdr's table)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from calls import CallOutcome, CallState
from pbx.cdr import PBX_CDR
from storage.calls import CallRepository
from storage.cdr import CdrRepository
from storage.database import Database
from testkit.call_snapshots import call_snapshot

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def cdr(linkedid: str, at: datetime, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "calldate": at,
        "clid": '"Sun Mei" <13722223333>',
        "src": "13722223333",
        "dst": "4000",
        "dcontext": "hotline-in",
        "channel": "PJSIP/trunk-00000001",
        "dstchannel": "",
        "lastapp": "Queue",
        "lastdata": "hotline-main,c,,,300",
        "duration": 30,
        "billsec": 30,
        "disposition": "ANSWERED",
        "amaflags": 3,
        "accountcode": "",
        "uniqueid": linkedid,
        "userfield": "",
        "peeraccount": "",
        "linkedid": linkedid,
        "sequence": 0,
    }
    return row | kw


async def add(db: Database, rows: list[dict[str, Any]]) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(insert(PBX_CDR), rows)


async def test_unrecorded_hotline_calls_with_all_their_rows(db: Database) -> None:
    rows = [
        cdr("1.1", T0, dstchannel="PJSIP/1001-00000002", billsec=20),
        cdr("1.1", T0 + timedelta(seconds=30), dcontext="hotline-survey", lastapp="AGI"),
        cdr("2.2", T0 + timedelta(minutes=1)),  # will have a record
        cdr("3.3", T0 - timedelta(days=2)),  # before `since`
    ]
    # The PBX's other calls: many, older, never recorded; they must not fill the limit.
    rows += [
        cdr(f"9.{n}", T0 - timedelta(minutes=10) + timedelta(seconds=n), dcontext="agents")
        for n in range(20)
    ]
    rows.append(cdr("8.8", T0, dcontext="hotline-drill", channel="Local/90000001@hotline-drill"))
    # A leg of a hotline call whose caller row is missing is not a call to rebuild.
    rows.append(cdr("7.7", T0, uniqueid="7.8", channel="PJSIP/1001-00000009"))
    await add(db, rows)
    await CallRepository(db).upsert(
        call_snapshot(
            "2.2",
            T0,
            channel="PJSIP/trunk-00000003",
            caller_number="13722223333",
            state=CallState.ENDED,
            ended_at=T0 + timedelta(seconds=30),
            outcome=CallOutcome.ABANDONED,
        )
    )
    repo = CdrRepository(db)
    found = await repo.unrecorded(T0 - timedelta(hours=1), limit=3)
    assert [(e.linkedid, e.lastapp) for e in found] == [("1.1", "Queue"), ("1.1", "AGI")]
    first = found[0]
    assert first.calldate == T0 and first.calldate.tzinfo is not None
    assert (first.dstchannel, first.billsec, first.src) == (
        "PJSIP/1001-00000002",
        20,
        "13722223333",
    )
    assert first.clid == '"Sun Mei" <13722223333>' and first.dcontext == "hotline-in"
    assert await repo.unrecorded(T0 + timedelta(hours=1)) == []


async def test_the_limit_counts_calls_oldest_first(db: Database) -> None:
    await add(
        db,
        [cdr(f"5.{n}", T0 + timedelta(seconds=n)) for n in range(6)]
        + [cdr("5.0", T0 + timedelta(minutes=5), dcontext="hotline-survey", lastapp="AGI")],
    )
    found = await CdrRepository(db).unrecorded(T0 - timedelta(minutes=1), limit=2)
    assert [e.linkedid for e in found] == ["5.0", "5.1", "5.0"]


async def test_open_call_records_and_their_cdr_rows(db: Database) -> None:
    calls = CallRepository(db)
    live = call_snapshot("5.5", T0, state=CallState.QUEUED)
    ended = call_snapshot(
        "6.6",
        T0,
        state=CallState.ENDED,
        ended_at=T0 + timedelta(minutes=1),
        outcome=CallOutcome.ABANDONED,
    )
    young = call_snapshot("7.7", T0 + timedelta(minutes=30), state=CallState.QUEUED)
    for call in (live, ended, young):
        await calls.upsert(call)
    open_ = await calls.open_calls(T0 + timedelta(minutes=10))
    assert [r.call_id for r in open_] == ["5.5"]  # ended ones and younger ones are not
    await add(db, [cdr("5.5", T0, duration=95), cdr("8.8", T0), cdr("5.5", T0, uniqueid="5.6")])
    rows = await CdrRepository(db).rows_of(["5.5"])
    assert {(r.linkedid, r.uniqueid) for r in rows} == {("5.5", "5.5"), ("5.5", "5.6")}
    assert await CdrRepository(db).rows_of([]) == []
