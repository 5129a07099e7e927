"""The event spool: a tickets stage retrying through a database outage keeps its events on
disk, a crash loses none of them, and the spool stays bounded and readable."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from calls import (
    AgentNoAnswer,
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallIdentified,
    CallLeftQueue,
    CallOutcome,
    CallQueued,
    CallStarted,
    CallState,
    DomainCallEvent,
)
from calls.codec import event_from_json, event_to_json
from pipeline import CallPipeline, RetryPolicy, Stage
from pipeline.spool import EventSpool
from testkit.call_snapshots import call_snapshot

T0 = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)


class StoreDown(Exception):
    pass


SNAP = call_snapshot(
    "1795303935.4",
    T0,
    caller_name='王力 "Wang"',
    state=CallState.ENDED,
    answered_at=T0 + timedelta(seconds=30),
    ended_at=T0 + timedelta(minutes=3),
    outcome=CallOutcome.ANSWERED,
    site_code="4401001",
    level=1,
    variables={"HOTLINE_SITE": "4401001", "HOTLINE_LEVEL": "1"},
    resynced=True,
)
EVERY_EVENT: list[DomainCallEvent] = [
    CallStarted(SNAP, T0),
    CallIdentified(SNAP, T0, "HOTLINE_LEVEL", "1"),
    CallQueued(SNAP, T0, 2),
    AgentRinging(SNAP, T0, "PJSIP/1001", "alice"),
    AgentNoAnswer(SNAP, T0, "PJSIP/1001", 8000),
    CallAnswered(SNAP, T0, "PJSIP/1002", "bob", 12),
    CallAbandoned(SNAP, T0, 40),
    CallLeftQueue(SNAP, T0, "hotline-main"),
    CallEnded(SNAP, T0 + timedelta(minutes=3)),
]


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: type(e).__name__)
def test_every_event_survives_the_round_trip(event: DomainCallEvent) -> None:
    assert event_from_json(event_to_json(event)) == event


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {},
        {"kind": "Nope"},
        {"kind": "CallEnded", "at": "2026-12-05T01:00:00"},
        {"kind": "CallEnded", "at": "2026-12-05T01:00:00+00:00", "call": {"call_id": "x"}},
    ],
)
def test_damaged_records_are_refused(raw: object) -> None:
    with pytest.raises(ValueError):
        event_from_json(raw)


class Store:
    """The tickets stage's database: down until `up` is set."""

    def __init__(self) -> None:
        self.up = asyncio.Event()
        self.written: list[tuple[str, str]] = []

    async def handle(self, event: DomainCallEvent) -> None:
        if not self.up.is_set():
            raise StoreDown("database down")
        self.written.append((event.call_id, type(event).__name__))


def tickets(store: Store) -> Stage:
    return Stage("tickets", 20, store.handle, RetryPolicy((StoreDown,), 0.001, 0.005), spool=True)


def events(call_id: str) -> list[DomainCallEvent]:
    snap = call_snapshot(call_id, T0)
    return [CallStarted(snap, T0), CallQueued(snap, T0, 1), CallEnded(snap, T0)]


async def test_a_crash_during_an_outage_loses_no_event(tmp_path: Path) -> None:
    """Not only the event being retried: the call's events queued behind it are spooled
    too (a call that ended before the crash has no other way back)."""
    path = tmp_path / "spool.jsonl"
    store = Store()
    spool = EventSpool(path)
    spool.open()
    pipe = CallPipeline([tickets(store)], spool=spool)
    for call in ("c1", "c2"):
        for event in events(call):
            pipe.submit(event)
    async with asyncio.timeout(5):
        while spool.pending < 6:  # each call's first event retrying, the rest behind it
            await asyncio.sleep(0.005)
    late = CallAnswered(call_snapshot("c1", T0), T0, "PJSIP/1001", "alice", 3)
    pipe.submit(late)  # arrives while c1's first event is still being retried
    async with asyncio.timeout(5):
        while spool.pending < 7:
            await asyncio.sleep(0.005)
    await pipe.stop(timeout=0.05)  # the process dies (the lanes are cancelled)
    assert store.written == []

    store.up.set()
    again = EventSpool(path)
    spooled = again.open()
    by_call: dict[str, list[str]] = {}
    for s in spooled:
        by_call.setdefault(s.event.call_id, []).append(type(s.event).__name__)
    assert by_call == {
        "c1": ["CallStarted", "CallQueued", "CallEnded", "CallAnswered"],
        "c2": ["CallStarted", "CallQueued", "CallEnded"],
    }
    pipe = CallPipeline([tickets(store)], spool=again)
    assert pipe.replay(spooled) == 7
    await pipe.settled("tickets", 5)
    assert [k for c, k in store.written if c == "c1"] == by_call["c1"]
    assert [k for c, k in store.written if c == "c2"] == by_call["c2"]
    assert again.pending == 0 and path.read_bytes() == b""  # emptied once all are done
    await pipe.stop(timeout=0.05)


async def test_events_are_spooled_in_order_and_released_when_written(tmp_path: Path) -> None:
    store = Store()
    spool = EventSpool(tmp_path / "spool.jsonl")
    spool.open()
    pipe = CallPipeline([tickets(store)], spool=spool)
    for event in events("c1"):
        pipe.submit(event)
    async with asyncio.timeout(5):
        while spool.pending < 1:
            await asyncio.sleep(0.005)
    assert spool.size > 0
    store.up.set()
    await pipe.drain(5)
    assert [k for _, k in store.written] == ["CallStarted", "CallQueued", "CallEnded"]
    assert spool.pending == 0 and spool.size == 0


async def test_a_full_spool_refuses_and_warns_first(tmp_path: Path) -> None:
    spool = EventSpool(tmp_path / "spool.jsonl", max_bytes=3000)
    spool.open()
    ids = [await spool.add("tickets", e) for e in EVERY_EVENT]
    assert ids[0] == 1 and None in ids and spool.refused >= 1
    assert spool.near_full
    kept = [i for i in ids if i is not None]
    for spool_id in kept:
        await spool.done(spool_id)
    assert spool.size == 0 and not spool.near_full


async def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "spool.jsonl"
    spool = EventSpool(path)
    spool.open()
    await spool.add("tickets", EVERY_EVENT[0])
    await spool.add("tickets", EVERY_EVENT[2])
    with path.open("ab") as handle:
        handle.write(b'{"id": 3, "stage": "tickets", "event": {"kind": "CallEn')  # crash
    assert [type(s.event).__name__ for s in EventSpool(path).open()] == [
        "CallStarted",
        "CallQueued",
    ]


async def test_a_long_outage_with_calls_throughout_keeps_the_spool_compact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One call's event stays pending (its store write keeps failing) while thousands of
    others are spooled and written: the done ones are compacted away, nothing is
    refused, and a restart replays exactly what is still pending, in order."""
    # What counts here is the file's size and content: 8,000 fsyncs would only wait on the
    # disk.
    monkeypatch.setattr("pipeline.spool.os.fsync", lambda fd: None)
    path = tmp_path / "spool.jsonl"
    spool = EventSpool(path, max_bytes=256 * 1024)
    spool.open()
    stuck = [
        await spool.add("tickets", EVERY_EVENT[0]),
        await spool.add("tickets", EVERY_EVENT[-1]),
    ]
    largest = 0
    for n in range(4000):
        spool_id = await spool.add("tickets", EVERY_EVENT[n % len(EVERY_EVENT)])
        assert spool_id is not None
        await spool.done(spool_id)
        largest = max(largest, spool.size)
    assert spool.refused == 0 and spool.compactions > 0
    # Bounded by the compaction threshold, far below the 4000 events' worth of lines.
    assert largest <= 64 * 1024 + 4096 and path.stat().st_size == spool.size
    path.with_name(path.name + ".compact").write_bytes(b"half a rewrite, then a crash")
    again = EventSpool(path)
    replay = again.open()
    assert [s.id for s in replay] == stuck
    assert [type(s.event).__name__ for s in replay] == ["CallStarted", "CallEnded"]


async def test_a_hung_database_spools_within_a_second(tmp_path: Path) -> None:
    """A hung database answers nothing (no error to retry on) for as long as the driver
    waits: the event still reaches the spool within `SPOOL_AFTER`, with the call's events
    behind it, so a crash meanwhile loses none."""
    path = tmp_path / "spool.jsonl"
    hung = asyncio.Event()

    async def hangs(event: DomainCallEvent) -> None:
        await hung.wait()

    spool = EventSpool(path)
    spool.open()
    stage = Stage("tickets", 20, hangs, RetryPolicy((StoreDown,), 0.001, 0.005), spool=True)
    pipe = CallPipeline([stage], spool=spool)
    for event in events("c1"):
        pipe.submit(event)
    async with asyncio.timeout(3):
        while spool.pending < 3:
            await asyncio.sleep(0.01)
    # Still hung: what the call does next is spooled as well, within a second.
    pipe.submit(CallAnswered(call_snapshot("c1", T0), T0, "PJSIP/1001", "alice", 3))
    async with asyncio.timeout(3):
        while spool.pending < 4:
            await asyncio.sleep(0.01)
    await pipe.stop(timeout=0.05)  # the crash
    kinds = [type(s.event).__name__ for s in EventSpool(path).open()]
    assert kinds == ["CallStarted", "CallQueued", "CallEnded", "CallAnswered"]


async def test_a_quick_write_is_never_spooled(tmp_path: Path) -> None:
    store = Store()
    store.up.set()
    spool = EventSpool(tmp_path / "spool.jsonl")
    spool.open()
    pipe = CallPipeline([tickets(store)], spool=spool)
    for event in events("c1"):
        pipe.submit(event)
    await pipe.settled("tickets", 5)
    assert len(store.written) == 3 and spool.size == 0 and not (tmp_path / "spool.jsonl").exists()
    await pipe.stop(timeout=0.05)
