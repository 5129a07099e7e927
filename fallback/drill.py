"""Emergency-pool drill: a test call into the emergency queue, answered or not.

The drill originates `Local/<drill id>@hotline-drill` (the narrow drill context, whose `_X.`
extension does `Queue(hotline-emergency,,,,<timeout>)`; the other half of the Local pair
runs `hotline-drill-hold,s,1`, which plays a short "this is a drill" notice and hangs up).
It then watches the AMI events it is handed (`on_ami_message`): an `AgentConnect` in the
emergency queue whose caller channel is the drill's Local channel means a pool member
answered; an `OriginateResponse` failure means the drill could not even start. No answer
within the timeout is a failed drill. Every result is appended to `drills.jsonl` in
HOTLINE_JOURNAL_DIR (its own file, so `hotline drill` can run beside the controller).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from calls.clock import Clock
from calls.control import CallControl
from calls.errors import CallControlError
from fallback.domain.drill import next_drill_due
from fallback.journal import JsonLinesLog
from fallback.ports import PbxFields
from fallback.records import DrillResult

log = logging.getLogger(__name__)

DRILL_FILE = "drills.jsonl"


class _Pending:
    def __init__(self, drill_id: str, channel: str) -> None:
        self.drill_id = drill_id
        self.channel = channel
        self.outcome: asyncio.Future[tuple[bool, str | None, str]] = (
            asyncio.get_running_loop().create_future()
        )

    def settle(self, answered: bool, member: str | None, detail: str) -> None:
        if not self.outcome.done():
            self.outcome.set_result((answered, member, detail))


class EmergencyDrill:
    # The AMI events `on_ami_message` needs: an answer in the pool, a failed originate.
    HEARS = ("AgentConnect", "OriginateResponse")

    def __init__(
        self,
        control: CallControl,
        clock: Clock,
        *,
        results: JsonLinesLog | None = None,
        queue: str = "hotline-emergency",
        context: str = "hotline-drill",
        hold_context: str = "hotline-drill-hold",
        timeout: float = 30.0,
        on_result: Callable[[DrillResult], Awaitable[None]] | None = None,
    ) -> None:
        self.control = control
        self.clock = clock
        self.results = results
        self.queue = queue
        self.context = context
        self.hold_context = hold_context
        self.timeout = timeout
        self.on_result = on_result
        self._pending: dict[str, _Pending] = {}
        self.last_result: DrillResult | None = None

    @classmethod
    def results_log(cls, journal_dir: Path) -> JsonLinesLog:
        return JsonLinesLog(journal_dir / DRILL_FILE)

    def on_ami_message(self, message: PbxFields) -> None:
        """Feed every AMI event (synchronous, cheap; unrelated events are ignored)."""
        event = message.get("Event")
        if event not in self.HEARS or not self._pending:
            return
        channel = message.get("Channel")
        for pending in self._pending.values():
            # `Local/<id>@hotline-drill-0000001f;1` once created; exactly the requested
            # name in an OriginateResponse failure (Uniqueid: <unknown>).
            if channel != pending.channel and not channel.startswith(pending.channel + "-"):
                continue
            if event == "AgentConnect" and message.get("Queue") == self.queue:
                member = message.get("MemberName") or message.get("Interface") or None
                pending.settle(True, member, f"answered by {member}")
            elif event == "OriginateResponse" and message.get("Response") != "Success":
                pending.settle(
                    False, None, f"originate failed (reason {message.get('Reason') or '?'})"
                )

    async def run(self, *, by: str = "schedule") -> DrillResult:
        drill_id = f"9{secrets.randbelow(10**7):07d}"  # digits: matches `_X.` in the context
        channel = f"Local/{drill_id}@{self.context}"
        pending = _Pending(drill_id, channel)
        self._pending[drill_id] = pending
        started = self.clock()
        log.info("drill %s: calling the emergency pool via %s", drill_id, channel)
        try:
            try:
                await self.control.originate(
                    channel,
                    context=self.hold_context,
                    exten="s",
                    caller_id=f"Hotline drill <{drill_id}>",
                    timeout_ms=int(self.timeout * 1000) + 5000,
                    variables={"HOTLINE_DRILL": drill_id, "DRILL_TIMEOUT": f"{self.timeout:g}"},
                )
            except CallControlError as exc:
                pending.settle(False, None, f"originate refused: {exc}")
            try:
                answered, member, detail = await asyncio.wait_for(
                    asyncio.shield(pending.outcome), self.timeout
                )
            except TimeoutError:
                answered, member, detail = (
                    False,
                    None,
                    f"no pool member answered within {self.timeout:g} s",
                )
        finally:
            self._pending.pop(drill_id, None)
        result = DrillResult(drill_id, started, self.clock(), answered, member, detail)
        self.last_result = result
        (log.info if answered else log.error)("drill %s: %s", drill_id, detail)
        if self.results is not None:
            await self.results.append({"kind": "drill", "by": by, **result.as_json()})
        if self.on_result is not None:
            await self.on_result(result)
        return result


class DrillSchedule:
    """Runs a drill every `interval` (the first at once unless `last_run` is given)."""

    def __init__(
        self,
        drill: EmergencyDrill,
        interval: timedelta,
        clock: Clock,
        *,
        last_run: datetime | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.drill = drill
        self.interval = interval
        self.clock = clock
        self.last_run = last_run
        self._sleep = sleep

    @staticmethod
    def last_run_in(records: list[dict[str, object]]) -> datetime | None:
        """The start of the newest drill in `drills.jsonl` records (resume the schedule)."""
        times = [
            datetime.fromisoformat(str(r["started_at"]))
            for r in records
            if r.get("kind") == "drill" and r.get("started_at")
        ]
        return max(times, default=None)

    async def run_once_due(self) -> DrillResult:
        now = self.clock()
        due = next_drill_due(self.last_run, self.interval, now)
        wait = (due - now).total_seconds()
        if wait > 0:
            await self._sleep(wait)
        result = await self.drill.run(by="schedule")
        self.last_run = result.started_at
        return result

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once_due()
            except Exception:  # a broken drill must not stop the schedule; it is logged
                log.exception("scheduled drill failed")
                self.last_run = self.clock()
