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
import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fallback.errors import JournalError, JournalNotReplicated
from fallback.ports import JournalReplica

log = logging.getLogger(__name__)

JOURNAL_FILE = "emergency-journal.jsonl"
# Records per replica write when catching up.
PUSH_BATCH = 200


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
    """The emergency call journal: the local fsynced file first, then the replica.

    Every record gets a unique `id` and goes to the local file (fsync) before anything
    else; with a `replica` it is then pushed to the replicated journal and confirmed
    there. A record the replica did not confirm stays in the backlog, is pushed again
    (in order, before any newer record) at the next append or `catch_up`, and the
    journal reports itself degraded meanwhile; `append(..., confirm=True)` raises
    `JournalNotReplicated` in that case so the caller acknowledges nothing.

    `records()` is the union of the replicated journal (every controller's records, in
    the order the primary took them, as of the last `refresh`) and this host's records
    the replica does not have yet; each record once.
    """

    def __init__(self, directory: Path, replica: JournalReplica | None = None) -> None:
        self.directory = directory
        self.replica = replica
        self._log = JsonLinesLog(directory / JOURNAL_FILE)
        self._local: list[dict[str, Any]] = []
        self._remote: list[dict[str, Any]] = []
        self._remote_ids: set[str] = set()
        self._backlog: list[dict[str, Any]] = []
        self._push_lock = asyncio.Lock()
        self._opened = False
        # The last replication failure (None: in step with the replica).
        self.replication_error: str | None = None

    @property
    def damage(self) -> list[JournalDamage]:
        return list(self._log.damage)

    async def open(self) -> None:
        self._local = [_with_id(r, n) for n, r in enumerate(await self._log.open())]
        self._opened = True
        log.info(
            "emergency journal %s: %d records, %d damaged",
            self._log.path,
            len(self._local),
            len(self._log.damage),
        )
        if self.replica is not None:
            self._backlog = list(self._local)  # the replica skips those it already has
            await self.catch_up()

    async def append(self, record: Mapping[str, Any], *, confirm: bool = False) -> None:
        """Write `record` locally (fsync), then to the replica. With `confirm`, raise
        `JournalNotReplicated` unless the replica confirmed it (it is kept all the same)."""
        if not self._opened:
            raise JournalError("emergency journal is not open")
        entry = _with_id(record)
        await self._log.append(entry)
        self._local.append(entry)
        if self.replica is None:
            return
        self._backlog.append(entry)
        await self._push()
        if confirm and entry["id"] not in self._remote_ids:
            raise JournalNotReplicated(
                f"journal record not confirmed by the replica: {self.replication_error}"
            )

    async def catch_up(self) -> bool:
        """Push the backlog and read what the other controllers wrote; True when this host
        is in step with the replica."""
        if self.replica is None:
            return True
        await self._push()
        await self.refresh()
        return not self._backlog and self.replication_error is None

    async def refresh(self) -> None:
        """Read the records added to the replicated journal since the last read."""
        if self.replica is None:
            return
        try:
            fresh = await self.replica.read_from(len(self._remote))
        except JournalError as exc:
            self.replication_failed(exc)
            return
        self._take_remote(fresh)

    async def _push(self) -> None:
        assert self.replica is not None
        async with self._push_lock:
            pending = [r for r in self._backlog if r["id"] not in self._remote_ids]
            pushed: set[str] = set()
            try:
                # In bounded batches, oldest first: a long backlog after an outage.
                for first in range(0, len(pending), PUSH_BATCH):
                    batch = pending[first : first + PUSH_BATCH]
                    await self.replica.append(batch)
                    pushed.update(r["id"] for r in batch)
            except JournalError as exc:
                self.replication_failed(exc)
                return
            finally:
                # Records appended meanwhile stay in the backlog for the next push.
                self._backlog = [
                    r
                    for r in self._backlog
                    if r["id"] not in pushed and r["id"] not in self._remote_ids
                ]
                self._remote_ids.update(pushed)
            if self.replication_error is not None:
                log.warning("emergency journal replicated again (%d records)", len(pending))
            self.replication_error = None
            if pending:
                # Read them back in the primary's order (with the other controllers' records).
                await self.refresh()

    def _take_remote(self, fresh: list[dict[str, Any]]) -> None:
        for record in fresh:
            self._remote.append(record)
            if "id" in record:
                self._remote_ids.add(str(record["id"]))

    def replication_failed(self, exc: JournalError) -> None:
        """Something that needed the replica (a write, a read, a paper number) failed: the
        journal is degraded until its next confirmed write."""
        if self.replication_error is None:
            log.error("emergency journal not replicated (kept on this host): %s", exc)
        self.replication_error = str(exc)

    def records(self, kind: str | None = None) -> list[dict[str, Any]]:
        seen: set[str] = set()
        merged: list[dict[str, Any]] = []
        for record in (*self._remote, *self._local):
            key = str(record.get("id", ""))
            if key in seen:
                continue
            seen.add(key)
            if kind is None or record.get("kind") == kind:
                merged.append(record)
        return merged

    def local_records(self, kind: str | None = None) -> list[dict[str, Any]]:
        """This host's own records, in its order."""
        return [r for r in self._local if kind is None or r.get("kind") == kind]

    def state(self) -> dict[str, Any]:
        """For `/healthz`: whether every record is on the replicas too."""
        if self.replica is None:
            return {"status": "ok", "replication": "off", "records": len(self._local)}
        in_step = self.replication_error is None and not self._backlog
        state: dict[str, Any] = {
            "status": "ok" if in_step else "degraded",
            "replication": "ok" if in_step else "degraded",
            "records": len(self.records()),
            "unreplicated": len(self._backlog),
        }
        if self.replication_error is not None:
            state["error"] = self.replication_error[:200]
        return state

    async def close(self) -> None:
        await self._log.close()
        self._opened = False
        if self.replica is not None:
            await self.replica.close()


def _with_id(record: Mapping[str, Any], line: int | None = None) -> dict[str, Any]:
    """The record with its unique id. A record written before ids existed (`line`: its
    place in the file) gets one from its place and content, the same at every start, so
    the catch-up never pushes it twice."""
    entry = dict(record)
    if "id" not in entry:
        if line is None:
            entry["id"] = uuid.uuid4().hex
        else:
            digest = hashlib.sha256(_encode(entry)).hexdigest()[:24]
            entry["id"] = f"l{line}-{digest}"
    return entry
