"""The durable journal and the paper-number allocator on a real file system."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from datetime import UTC, datetime

import pytest

from fallback.errors import InvalidRequest
from fallback.journal import JOURNAL_FILE, EmergencyJournal, JsonLinesLog
from fallback.paper import PAPER_FILE, PaperNumberAllocator, PaperNumberFormat

AT = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


async def test_records_survive_reopen_in_order(tmp_path) -> None:
    journal = EmergencyJournal(tmp_path)
    await journal.open()
    for i in range(20):
        await journal.append(
            {
                "kind": "call",
                "call_id": f"c{i}",
                "fields": {"n": i, "note": "多行\r\nEvil: injected"},
            }
        )
    await journal.close()

    again = EmergencyJournal(tmp_path)
    await again.open()
    records = again.records("call")
    assert [r["call_id"] for r in records] == [f"c{i}" for i in range(20)]
    assert records[0]["fields"]["note"] == "多行\r\nEvil: injected"  # escaped, one line each
    assert again.damage == []
    lines = (tmp_path / JOURNAL_FILE).read_bytes().split(b"\n")
    assert len(lines) == 21 and lines[-1] == b""


@pytest.mark.parametrize(
    "torn",
    [b'{"kind":"call","call_id":"c3","fie', b'{"kind":"call","call_id":"c3"}', b"\x00\x00\x00"],
)
async def test_torn_last_record_is_detected_set_aside_and_the_rest_kept(tmp_path, torn) -> None:
    path = tmp_path / JOURNAL_FILE
    good = b"".join(
        json.dumps({"kind": "call", "call_id": f"c{i}"}).encode() + b"\n" for i in range(3)
    )
    path.write_bytes(good + torn)  # what a crash in the middle of a write leaves

    journal = EmergencyJournal(tmp_path)
    await journal.open()
    assert [r["call_id"] for r in journal.records()] == ["c0", "c1", "c2"]
    [damage] = journal.damage
    assert damage.torn_tail and damage.line == 4 and damage.offset == len(good)
    assert (tmp_path / (JOURNAL_FILE + ".torn")).read_bytes() == torn + b"\n"
    # The log is clean again: a new record lands on its own line and reads back.
    await journal.append({"kind": "call", "call_id": "c4"})
    await journal.close()
    again = EmergencyJournal(tmp_path)
    await again.open()
    assert [r["call_id"] for r in again.records()] == ["c0", "c1", "c2", "c4"]
    assert again.damage == []


async def test_damaged_middle_record_is_reported_and_skipped(tmp_path) -> None:
    path = tmp_path / JOURNAL_FILE
    path.write_bytes(b'{"kind":"a"}\n{not json}\n[1,2]\n{"kind":"b"}\n')
    journal = EmergencyJournal(tmp_path)
    await journal.open()
    assert [r["kind"] for r in journal.records()] == ["a", "b"]
    assert [(d.line, d.torn_tail) for d in journal.damage] == [(2, False), (3, False)]
    assert path.read_bytes().count(b"\n") == 4  # nothing removed from the middle


async def test_appends_do_not_block_the_loop_and_interleave_whole(tmp_path) -> None:
    log = JsonLinesLog(tmp_path / "x.jsonl")
    await log.open()
    ticks = 0
    stop = threading.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.gather(*(log.append({"n": i, "pad": "x" * 5000}) for i in range(100)))
    stop.set()
    await task
    await log.close()
    assert ticks > 0  # the loop kept running while the worker threads fsynced
    reread = JsonLinesLog(tmp_path / "x.jsonl")
    records = await reread.open()
    assert sorted(r["n"] for r in records) == list(range(100)) and reread.damage == []
    await reread.close()


async def test_append_before_open_is_refused(tmp_path) -> None:
    from fallback.errors import JournalError

    with pytest.raises(JournalError):
        await EmergencyJournal(tmp_path).append({"kind": "x"})


async def test_unwritable_directory_is_a_journal_error(tmp_path) -> None:
    from fallback.errors import JournalError

    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("not a directory")
        target = blocker / "journal"
    else:
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(0o500)
    with pytest.raises(JournalError):
        await EmergencyJournal(target).open()


async def test_paper_numbers_are_unique_and_never_reused_across_restarts(tmp_path) -> None:
    paper = PaperNumberAllocator(tmp_path)
    await paper.open()
    got = await asyncio.gather(*(paper.allocate(f"c{i}", AT) for i in range(50)))
    assert sorted(got) == [f"E{n:06d}" for n in range(1, 51)]
    await paper.close()

    # A crash tore the record of a 51st allocation: it was never handed out.
    path = tmp_path / PAPER_FILE
    path.write_bytes(path.read_bytes() + b'{"kind":"allocated","n":51,"numb')
    again = PaperNumberAllocator(tmp_path)
    await again.open()
    assert await again.allocate("c50", AT) == "E000051"
    assert again.call_of("E000051") == "c50" and again.call_of("E7") == "c6"
    await again.close()

    third = PaperNumberAllocator(tmp_path)
    await third.open()
    assert await third.allocate("c51", AT) == "E000052"
    await third.close()


async def test_printed_pads_are_issued_numbers(tmp_path) -> None:
    paper = PaperNumberAllocator(tmp_path)
    await paper.open()
    await paper.allocate("c1", AT)
    assert paper.next_unprinted == 2
    await paper.record_printed(2, 100, AT)
    assert paper.is_issued("E000101") and not paper.is_issued("E000102")
    assert paper.next_unprinted == 102
    await paper.close()


@pytest.mark.parametrize("text", ["E0", "X000001", "E0000001234", "", "E000001\r\n", "1"])
def test_bad_paper_numbers_are_refused(text: str) -> None:
    with pytest.raises(InvalidRequest):
        PaperNumberFormat().parse(text)


def test_paper_number_spellings() -> None:
    fmt = PaperNumberFormat()
    assert [fmt.normalise(t) for t in ("e42", "E-000042", " E000042 ")] == ["E000042"] * 3
    assert PaperNumberFormat("EP", 4).format(7) == "EP0007"
