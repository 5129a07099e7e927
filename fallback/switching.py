"""Switching the PBX between the main queue and the emergency pool (DIALPLAN CONTRACT).

* The mode lives in AstDB (`hotline/mode` = `normal` | `emergency`): `[hotline-in]` reads it,
  so new calls go to the right queue even while the controller is unreachable.
* The emergency pool is kept in `hotline-emergency` at all times (`ensure_pool`).
* Entering moves the callers waiting in `hotline-main` to `hotline-emergency`, one by one in
  queue order: `Setvar HOTLINE_QUEUE` on the caller channel, then `Redirect` to
  `hotline-requeue,s,1` (QUEUE_PRIO stays on the channel, so priorities are kept). A failed
  redirect is retried; a caller that cannot be moved stays where it is, waiting in the main
  queue, and is reported — never dropped.
* Leaving moves nobody who is talking: only callers still waiting in the emergency queue,
  and only when `move_back_on_exit` is set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from calls.control import CallControl, QueueEntry
from calls.errors import CallControlError, PbxActionFailed, PbxNotConnected
from fallback.errors import InvalidRequest, SwitchError

log = logging.getLogger(__name__)

ASTDB_FAMILY = "hotline"
ASTDB_KEY = "mode"
REQUEUE_CONTEXT = "hotline-requeue"


@dataclass(frozen=True, slots=True)
class MoveResult:
    call_id: str
    channel: str
    position: int
    outcome: str  # moved | gone (left the queue by itself) | skipped (talking) | failed
    attempts: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PoolReport:
    added: tuple[str, ...] = ()
    present: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (interface, error)

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True, slots=True)
class SwitchReport:
    mode: str
    astdb_written: bool
    pool: PoolReport = field(default_factory=PoolReport)
    moves: tuple[MoveResult, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def moved(self) -> int:
        return sum(1 for m in self.moves if m.outcome == "moved")

    @property
    def failed_moves(self) -> tuple[MoveResult, ...]:
        return tuple(m for m in self.moves if m.outcome == "failed")

    @property
    def complete(self) -> bool:
        """AstDB written and nobody left behind: nothing to retry."""
        return self.astdb_written and not self.failed_moves and not self.errors


def _check(value: str, what: str) -> str:
    if not value or "\r" in value or "\n" in value:
        raise InvalidRequest(f"{what} must be a non-empty single line: {value!r}")
    return value


class PbxSwitch:
    """Applies the mode on the PBX through `CallControl`. One operation at a time."""

    def __init__(
        self,
        control: CallControl,
        *,
        pool: Sequence[str],
        main_queue: str = "hotline-main",
        emergency_queue: str = "hotline-emergency",
        requeue_context: str = REQUEUE_CONTEXT,
        move_back_on_exit: bool = False,
        redirect_attempts: int = 3,
        retry_delay: float = 0.2,
        is_connected: Callable[[str], bool] | None = None,
    ) -> None:
        """`is_connected(call_id)` says a call is known to be talking to an agent (from the
        call tracker's events); such a caller is never redirected."""
        self.control = control
        self.pool = tuple(_check(m.strip(), "emergency pool member") for m in pool)
        self.main_queue = _check(main_queue, "main queue")
        self.emergency_queue = _check(emergency_queue, "emergency queue")
        self.requeue_context = _check(requeue_context, "requeue context")
        self.move_back_on_exit = move_back_on_exit
        self.redirect_attempts = max(1, redirect_attempts)
        self.retry_delay = retry_delay
        self.is_connected = is_connected or (lambda _call_id: False)
        self._lock = asyncio.Lock()
        if not self.pool:
            log.warning("no emergency pool members configured (HOTLINE_EMERGENCY_MEMBERS)")

    async def ensure_pool(self) -> PoolReport:
        """QueueAdd every pool member to the emergency queue; "already there" is fine.
        Call at start and after every AMI reconnect."""
        added: list[str] = []
        present: list[str] = []
        failed: list[tuple[str, str]] = []
        for interface in self.pool:
            try:
                await self.control.queue_add(self.emergency_queue, interface)
                added.append(interface)
            except PbxActionFailed as exc:
                if "already there" in exc.message.lower():
                    present.append(interface)
                else:
                    failed.append((interface, str(exc)))
                    log.error("emergency pool member %s not added: %s", interface, exc)
            except CallControlError as exc:
                failed.append((interface, str(exc)))
                log.error("emergency pool member %s not added: %s", interface, exc)
        if added:
            log.info("emergency pool: added %s to %s", ", ".join(added), self.emergency_queue)
        return PoolReport(tuple(added), tuple(present), tuple(failed))

    async def enter(self) -> SwitchReport:
        """Route new calls to the emergency queue and move the waiting callers there."""
        async with self._lock:
            return await self._apply(emergency=True, move=True)

    async def exit(self) -> SwitchReport:
        """Route new calls to the main queue again; talking callers are never touched."""
        async with self._lock:
            return await self._apply(emergency=False, move=self.move_back_on_exit)

    async def reapply(self, emergency: bool) -> SwitchReport:
        """After a reconnect or a failed switch: write the mode again, restore the pool and
        move stragglers (callers that reached the old queue meanwhile)."""
        async with self._lock:
            return await self._apply(emergency=emergency, move=emergency or self.move_back_on_exit)

    async def _apply(self, *, emergency: bool, move: bool) -> SwitchReport:
        mode = "emergency" if emergency else "normal"
        errors: list[str] = []
        astdb = False
        # New calls first: once AstDB says so, no new caller joins the old queue.
        try:
            await self.control.db_put(ASTDB_FAMILY, ASTDB_KEY, mode)
            astdb = True
        except CallControlError as exc:
            errors.append(f"DBPut {ASTDB_FAMILY}/{ASTDB_KEY}={mode}: {exc}")
            log.error("could not write AstDB mode %s: %s", mode, exc)
        pool = await self.ensure_pool()
        moves: tuple[MoveResult, ...] = ()
        if move:
            source, target = (
                (self.main_queue, self.emergency_queue)
                if emergency
                else (self.emergency_queue, self.main_queue)
            )
            try:
                moves = await self.move_waiting(source, target)
            except SwitchError as exc:
                errors.append(str(exc))
        report = SwitchReport(mode, astdb, pool, moves, tuple(errors))
        log.info(
            "PBX switched to %s: astdb=%s moved=%d failed=%d errors=%d",
            mode,
            astdb,
            report.moved,
            len(report.failed_moves),
            len(errors),
        )
        return report

    async def move_waiting(self, source: str, target: str) -> tuple[MoveResult, ...]:
        """Move every caller waiting in `source` to `target`, in queue order."""
        try:
            snapshot = await self.control.queue_status(source)
        except CallControlError as exc:
            raise SwitchError(f"QueueStatus {source}: {exc}") from exc
        entries = sorted(
            (e for e in snapshot.entries if e.queue == source), key=lambda e: e.position
        )
        results: list[MoveResult] = []
        for entry in entries:
            results.append(await self._move_one(entry, source, target))
        return tuple(results)

    async def _move_one(self, entry: QueueEntry, source: str, target: str) -> MoveResult:
        call_id = entry.linkedid or entry.uniqueid
        if self.is_connected(call_id):
            log.info("call %s: talking to an agent, not moved", call_id)
            return MoveResult(call_id, entry.channel, entry.position, "skipped", 0)
        error = ""
        for attempt in range(1, self.redirect_attempts + 1):
            try:
                await self.control.setvar("HOTLINE_QUEUE", target, channel=entry.channel)
                await self.control.redirect(entry.channel, self.requeue_context, "s", 1)
                log.info(
                    "call %s: moved from %s (position %d) to %s",
                    call_id,
                    source,
                    entry.position,
                    target,
                )
                return MoveResult(call_id, entry.channel, entry.position, "moved", attempt)
            except PbxNotConnected as exc:
                error = str(exc)
                break  # no link: retrying now is pointless; reapply() after reconnect
            except CallControlError as exc:
                error = str(exc)
                if not await self._still_waiting(entry, source):
                    log.info("call %s: left %s by itself while being moved", call_id, source)
                    return MoveResult(call_id, entry.channel, entry.position, "gone", attempt)
                if attempt < self.redirect_attempts:
                    await asyncio.sleep(self.retry_delay * attempt)
        log.error(
            "call %s: NOT moved from %s to %s (still waiting there): %s",
            call_id,
            source,
            target,
            error,
        )
        return MoveResult(
            call_id, entry.channel, entry.position, "failed", attempt, error or "unknown"
        )

    async def _still_waiting(self, entry: QueueEntry, source: str) -> bool:
        try:
            snapshot = await self.control.queue_status(source)
        except CallControlError:
            return True  # cannot tell: assume it is still there and keep trying
        return any(e.channel == entry.channel for e in snapshot.entries if e.queue == source)
