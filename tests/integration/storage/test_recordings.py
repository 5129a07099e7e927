"""Recordings in storage: the call record keeps the file name the tracker found, tickets
find their calls, and the daily purge (driven by a fake clock) unlinks and deletes what
is older than the retention, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from calls import CallOutcome, CallState
from storage.calls import CallRepository
from storage.database import Database
from storage.recordings import RecordingArchive, RecordingPurge
from testkit.call_snapshots import call_snapshot

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def answered(call_id: str, started: datetime, recording: str | None = None) -> object:
    return call_snapshot(
        call_id,
        started,
        state=CallState.ENDED,
        answered_at=started + timedelta(seconds=30),
        ended_at=started + timedelta(minutes=5),
        outcome=CallOutcome.ANSWERED,
        recording=recording,
    )


async def test_the_recording_sticks_to_the_call_record(db: Database) -> None:
    calls = CallRepository(db)
    record = await calls.upsert(answered("100.1", T0, "100.1.wav"))  # type: ignore[arg-type]
    assert record.recording == "100.1.wav"
    # a later snapshot without it (a resync) keeps it
    again = await calls.upsert(answered("100.1", T0))  # type: ignore[arg-type]
    assert again.recording == "100.1.wav"


async def test_a_ticket_finds_its_calls(db: Database) -> None:
    calls = CallRepository(db)
    await calls.upsert(answered("200.1", T0, "200.1.wav"))  # type: ignore[arg-type]
    await calls.upsert(answered("200.2", T0 + timedelta(hours=1)), ticket_number="HL-2")  # type: ignore[arg-type]
    await calls.upsert(answered("200.3", T0 + timedelta(hours=2)), ticket_number="HL-3")  # type: ignore[arg-type]
    found = await calls.attached_to([("HL-2", "200.1"), ("HL-9", None)])
    assert [c.call_id for c in found["HL-2"]] == ["200.1", "200.2"]  # opener first
    assert found["HL-9"] == ()
    assert await calls.attached_to([]) == {}


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def write_recording(directory: Path, name: str, written: datetime) -> Path:
    path = directory / name
    path.write_bytes(b"RIFF....WAVE")
    os.utime(path, (written.timestamp(), written.timestamp()))
    return path


async def test_the_purge_keeps_the_retention_days(db: Database, tmp_path: Path) -> None:
    calls = CallRepository(db)
    old = T0
    recent = T0 + timedelta(days=25)
    await calls.upsert(answered("300.1", old, "300.1.wav"))  # type: ignore[arg-type]
    await calls.upsert(answered("300.2", recent, "300.2.wav"))  # type: ignore[arg-type]
    old_file = write_recording(tmp_path, "300.1.wav", old)
    recent_file = write_recording(tmp_path, "300.2.wav", recent)
    # the empty file of an unanswered call, linked to nothing
    stray = write_recording(tmp_path, "300.3.wav", old)
    unrelated = tmp_path / "notes.txt~"  # not a recording name: never touched
    unrelated.write_text("x")
    os.utime(unrelated, (old.timestamp(), old.timestamp()))

    clock = FakeClock(T0 + timedelta(days=29))
    naps: list[float] = []
    seen: list[bool] = []

    async def sleep(seconds: float) -> None:
        seen.append(old_file.exists())
        naps.append(seconds)
        clock.now += timedelta(seconds=seconds)
        if len(naps) >= 3:
            raise asyncio.CancelledError

    purge = RecordingPurge(calls, RecordingArchive(tmp_path), days=30, clock=clock, sleep=sleep)
    # Days 29 and 30: nothing is older than 30 days yet; day 31: the first call's goes.
    try:
        await purge.run_forever()
    except asyncio.CancelledError:
        pass
    assert naps == [86400.0] * 3
    assert seen == [True, True, False]
    assert not old_file.exists() and not stray.exists()
    assert recent_file.exists() and unrelated.exists()
    assert (await calls.get("300.1")).recording is None  # type: ignore[union-attr]
    assert (await calls.get("300.2")).recording == "300.2.wav"  # type: ignore[union-attr]

    clock.now = recent + timedelta(days=30, seconds=1)
    assert await purge.purge_once() == (1, 1)
    assert not recent_file.exists()
    assert await purge.purge_once() == (0, 0)


async def test_zero_days_keeps_everything(db: Database, tmp_path: Path) -> None:
    calls = CallRepository(db)
    await calls.upsert(answered("400.1", T0, "400.1.wav"))  # type: ignore[arg-type]
    kept = write_recording(tmp_path, "400.1.wav", T0)
    purge = RecordingPurge(
        calls, RecordingArchive(tmp_path), days=0, clock=FakeClock(T0 + timedelta(days=9999))
    )
    assert await purge.purge_once() == (0, 0)
    assert kept.exists()
    purge.start()  # days 0: no loop at all
    assert not purge.running
