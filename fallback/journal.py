"""Durable JSON-lines logs in HOTLINE_JOURNAL_DIR, independent of the main database.

`JsonLinesLog` is one append-only file: every record is one JSON object on one line,
written with a single `write` and `fsync`ed before `append` returns (the caller
acknowledges nothing before that). File I/O runs in a worker thread so the event loop
never waits on the disk.

Crash tolerance: a crash can leave the last line torn (no newline, or half an object).
`open()` detects it, reports it (`damage`), copies the torn bytes to `<file>.torn` so
nothing is thrown away, and truncates the log back to the last whole record so later
appends stay clean. A damaged line in the middle (disk corruption) is reported and
skipped; the records around it are kept.

`EmergencyJournal` is the emergency call journal on top of it (see
`fallback.domain.backfill` for the record kinds).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fallback.errors import JournalError

log = logging.getLogger(__name__)

JOURNAL_FILE = "emergency-journal.jsonl"


@dataclass(frozen=True, slots=True)
class JournalDamage:
    """A record that could not be read back."""

    path: Path
    line: int  # 1-based line number
    offset: int  # byte offset of the damaged record
    size: int
    torn_tail: bool  # True: the last record, cut short by a crash (removed, kept aside)
    detail: str


def _fsync_dir(directory: Path) -> None:
    # A new file's directory entry must be durable too, or a crash can lose the file.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode(record: Mapping[str, Any]) -> bytes:
    # json escapes CR/LF inside strings, so one record is always exactly one line.
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.encode("utf-8") + b"\n"


class JsonLinesLog:
    """One append-only, fsynced JSON-lines file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.damage: list[JournalDamage] = []

    # --- synchronous core (runs in a worker thread) --------------------------------------

    def _open_sync(self) -> list[dict[str, Any]]:
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                existed = self.path.exists()
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
                if not existed:
                    _fsync_dir(self.path.parent)
                with open(self.path, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                raise JournalError(f"cannot open journal {self.path}: {exc}") from exc
            records, damage, good_end = self._parse(data)
            if good_end < len(data):
                self._set_aside_torn_tail(fd, data[good_end:], good_end)
            self._fd = fd
            self.damage = damage
            for d in damage:
                log.error("journal %s line %d: %s", self.path, d.line, d.detail)
            return records

    def _parse(self, data: bytes) -> tuple[list[dict[str, Any]], list[JournalDamage], int]:
        records: list[dict[str, Any]] = []
        damage: list[JournalDamage] = []
        offset = 0
        good_end = 0
        line_no = 0
        while offset < len(data):
            line_no += 1
            newline = data.find(b"\n", offset)
            last = newline == -1
            end = len(data) if last else newline + 1
            raw = data[offset:end]
            record: Any = None
            problem = ""
            try:
                record = json.loads(raw.decode("utf-8"))
                if not isinstance(record, dict):
                    problem = "not a JSON object"
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                problem = f"unreadable record: {exc}"
            if last:
                # No newline: the single write of this record never completed, so it was
                # never acknowledged. Set it aside rather than guess.
                damage.append(
                    JournalDamage(
                        self.path,
                        line_no,
                        offset,
                        len(raw),
                        True,
                        f"torn last record ({len(raw)} bytes) set aside in {self.path.name}.torn",
                    )
                )
                break
            if problem:
                if raw.strip():
                    damage.append(
                        JournalDamage(self.path, line_no, offset, len(raw), False, problem)
                    )
            else:
                records.append(record)
            offset = end
            good_end = end
        return records, damage, good_end

    def _set_aside_torn_tail(self, fd: int, tail: bytes, good_end: int) -> None:
        torn = self.path.with_name(self.path.name + ".torn")
        with open(torn, "ab") as fh:
            fh.write(tail + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.ftruncate(fd, good_end)
        os.fsync(fd)

    def _append_sync(self, payload: bytes) -> None:
        with self._lock:
            if self._fd is None:
                raise JournalError(f"journal {self.path} is not open")
            try:
                written = os.write(self._fd, payload)
                if written != len(payload):
                    # A short write would leave a torn line; undo it and report.
                    size = os.fstat(self._fd).st_size
                    os.ftruncate(self._fd, size - written)
                    raise JournalError(f"short write to {self.path}")
                os.fsync(self._fd)
            except OSError as exc:
                raise JournalError(f"cannot write journal {self.path}: {exc}") from exc

    def _close_sync(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    # --- async API -------------------------------------------------------------------------

    async def open(self) -> list[dict[str, Any]]:
        """Open (creating if needed) and read back every whole record."""
        return await asyncio.to_thread(self._open_sync)

    async def append(self, record: Mapping[str, Any]) -> None:
        """Append one record; returns only once it is on disk (fsync)."""
        payload = _encode(record)
        await asyncio.to_thread(self._append_sync, payload)

    async def close(self) -> None:
        await asyncio.to_thread(self._close_sync)


class EmergencyJournal:
    """The emergency call journal: every record also kept in memory, in order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._log = JsonLinesLog(directory / JOURNAL_FILE)
        self._records: list[dict[str, Any]] = []
        self._opened = False

    @property
    def damage(self) -> list[JournalDamage]:
        return list(self._log.damage)

    async def open(self) -> None:
        self._records = await self._log.open()
        self._opened = True
        log.info(
            "emergency journal %s: %d records, %d damaged",
            self._log.path,
            len(self._records),
            len(self._log.damage),
        )

    async def append(self, record: Mapping[str, Any]) -> None:
        if not self._opened:
            raise JournalError("emergency journal is not open")
        await self._log.append(record)
        self._records.append(dict(record))

    def records(self, kind: str | None = None) -> list[dict[str, Any]]:
        if kind is None:
            return list(self._records)
        return [r for r in self._records if r.get("kind") == kind]

    async def close(self) -> None:
        await self._log.close()
        self._opened = False
