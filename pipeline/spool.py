"""A local, fsynced spool of the call events a stage could not hand to the database yet.

When a spooling stage (the tickets and call records) fails with a store outage, its
event is appended here before the first retry, and marked done once the stage took it.
After a crash the events not done are replayed, in their order, so a call's record and
ticket survive however long the database stays down and whatever happens meanwhile.

The file is JSON lines: `{"id": n, "stage": name, "event": {...}}` and `{"done": n}`.
It is bounded: past `max_bytes` nothing more is spooled (one error line; the event is
still retried in memory), and `near_full` turns true at 80 % so the health page warns
first. When every spooled event is done the file is emptied; while some are still
pending (a long outage with calls throughout), the file is compacted once the bytes of
done events and done marks outweigh the pending ones (and `COMPACT_MIN_BYTES`): the
pending events are written to a new file, fsynced, and renamed over the old one, so the
file stays under about twice what is really pending and a crash at any point leaves
either the old file or the new one whole.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from calls import DomainCallEvent
from calls.codec import event_from_json, event_to_json

log = logging.getLogger(__name__)

NEAR_FULL = 0.8
# Dead bytes below this are not worth a rewrite.
COMPACT_MIN_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Spooled:
    id: int
    stage: str
    event: DomainCallEvent


class EventSpool:
    def __init__(self, path: Path, *, max_bytes: int = 100 * 1024 * 1024) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._pending: dict[int, Spooled] = {}
        self._next_id = 1
        self._size = 0
        # Bytes each pending event's line takes (what a compacted file would hold).
        self._line_bytes: dict[int, int] = {}
        self._lock = asyncio.Lock()
        self.compactions = 0
        self.refused = 0  # events not spooled because the spool was full

    # --- reading what a crash left ----------------------------------------------------------

    def open(self) -> list[Spooled]:
        """Read the spool; returns the events not done, oldest first. Damaged lines (a
        crash in the middle of a write) are logged and skipped."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._pending.clear()
        self._line_bytes.clear()
        if self.path.exists():
            raw = self.path.read_bytes()
            self._size = len(raw)
            for number, line in enumerate(raw.splitlines(), 1):
                if line.strip():
                    self._read_line(number, line)
        if self._pending:
            self._next_id = max(self._pending) + 1
            log.warning("event spool: %d call events to replay", len(self._pending))
        return sorted(self._pending.values(), key=lambda s: s.id)

    def _read_line(self, number: int, line: bytes) -> None:
        try:
            record = json.loads(line)
            if "done" in record:
                self._pending.pop(int(record["done"]), None)
                self._line_bytes.pop(int(record["done"]), None)
                return
            spooled = Spooled(
                int(record["id"]), str(record["stage"]), event_from_json(record["event"])
            )
        except (ValueError, KeyError, TypeError) as exc:
            log.error("event spool %s line %d unreadable, skipped: %s", self.path, number, exc)
            return
        self._pending[spooled.id] = spooled
        self._line_bytes[spooled.id] = len(line) + 1
        self._next_id = max(self._next_id, spooled.id + 1)

    # --- writing ----------------------------------------------------------------------------

    async def add(self, stage: str, event: DomainCallEvent) -> int | None:
        """Spool `event` for `stage`; its id, or None when the spool is full."""
        async with self._lock:
            spooled = Spooled(self._next_id, stage, event)
            line = _line(spooled)
            if self._size + len(line) > self.max_bytes:
                self.refused += 1
                log.error(
                    "call %s: event spool full (%d bytes): %s kept in memory only",
                    event.call_id,
                    self._size,
                    type(event).__name__,
                )
                return None
            await asyncio.to_thread(self._append, line)
            self._next_id += 1
            self._pending[spooled.id] = spooled
            self._line_bytes[spooled.id] = len(line)
            return spooled.id

    async def done(self, spool_id: int) -> None:
        async with self._lock:
            if self._pending.pop(spool_id, None) is None:
                return
            self._line_bytes.pop(spool_id, None)
            if not self._pending:
                await asyncio.to_thread(self._truncate)
                return
            await asyncio.to_thread(self._append, json.dumps({"done": spool_id}).encode() + b"\n")
            live = sum(self._line_bytes.values())
            if self._size - live > max(live, COMPACT_MIN_BYTES):
                pending = sorted(self._pending.values(), key=lambda p: p.id)
                await asyncio.to_thread(self._compact, pending)

    def _append(self, line: bytes) -> None:
        with self.path.open("ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self._size += len(line)

    def _compact(self, pending: list[Spooled]) -> None:
        """Rewrite the file with the pending events only; the rename is atomic."""
        before = self._size
        lines = [_line(p) for p in pending]
        fresh = self.path.with_name(self.path.name + ".compact")
        with fresh.open("wb") as handle:
            handle.write(b"".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(fresh, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself must survive a crash
        finally:
            os.close(directory)
        self._size = sum(len(line) for line in lines)
        self._line_bytes = {p.id: len(line) for p, line in zip(pending, lines, strict=True)}
        self.compactions += 1
        log.info(
            "event spool compacted: %d bytes -> %d (%d events pending)",
            before,
            self._size,
            len(pending),
        )

    def _truncate(self) -> None:
        with self.path.open("wb") as handle:
            handle.flush()
            os.fsync(handle.fileno())
        self._size = 0

    # --- what the health page shows ---------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def size(self) -> int:
        return self._size

    @property
    def near_full(self) -> bool:
        return self._size >= NEAR_FULL * self.max_bytes


def _line(spooled: Spooled) -> bytes:
    record = {"id": spooled.id, "stage": spooled.stage, "event": event_to_json(spooled.event)}
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"
