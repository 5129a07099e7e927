"""The switch-over: the emergency state machine (`fallback.domain.mode`) acted out.

Health rounds and supervisors' requests go through the pure machine; each step it returns
is journaled (fsync) before it is acted on, then the PBX is switched (`PbxSwitch`), the
audit trail kept and the page told. After a restart the journaled mode is resumed, and a
PBX that did not take a switch completely is switched again at the next chance.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from calls.clock import Clock
from fallback.domain import mode as md
from fallback.errors import JournalError
from fallback.feed import SupervisorFeed
from fallback.health import HealthRound
from fallback.journal import EmergencyJournal
from fallback.records import AuditRecord, EmergencyStatus
from fallback.switching import PbxSwitch, SwitchReport

log = logging.getLogger(__name__)

AfterSwitch = Callable[[], Awaitable[None]]


class Switchover:
    """Owns the mode: its state, its audit trail, and whether the PBX routes as it says.

    `after_enter` runs once the PBX is switched to the emergency pool (calls the outage
    caught get journaled), `after_exit` once it routes normally again (the backfill
    closes at once if there is nothing to type in); both under `lock`."""

    def __init__(
        self,
        *,
        switch: PbxSwitch,
        journal: EmergencyJournal,
        feed: SupervisorFeed,
        clock: Clock,
        policy: md.EmergencyPolicy,
        after_enter: AfterSwitch,
        after_exit: AfterSwitch,
    ) -> None:
        self.switch = switch
        self.journal = journal
        self.feed = feed
        self.clock = clock
        self.policy = policy
        self.after_enter = after_enter
        self.after_exit = after_exit
        self.state = md.ModeState()
        self.audit: list[AuditRecord] = []
        # Held while a step is applied: one switch at a time, in journal order.
        self.lock = asyncio.Lock()
        self.pbx_in_sync = False
        self.last_switch: SwitchReport | None = None

    def resume(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Resume the mode and the audit trail from this host's journaled `mode` records."""
        for record in records:
            self.state = md.ModeState.from_json(record["state"])
            for raw in record.get("audit", ()):
                self.audit.append(AuditRecord.from_json(raw))

    def status(self) -> EmergencyStatus:
        s = self.state
        return EmergencyStatus(
            active=s.active, since=s.since, reason=s.reason, by=s.by, state=s.mode.value
        )

    def audit_log(self, limit: int = 100) -> list[AuditRecord]:
        return list(reversed(self.audit[-limit:])) if limit > 0 else []

    def mark_out_of_sync(self) -> None:
        """A call reached the main queue in emergency mode: the next round moves it."""
        self.pbx_in_sync = False

    async def request(self, active: bool, *, reason: str, by: str) -> None:
        """A supervisor flips the mode by hand."""
        async with self.lock:
            step = md.request(self.state, active, by=by, reason=reason, at=self.clock())
            await self.apply(step)

    async def observe(self, health_round: HealthRound) -> None:
        """One round of the health watch: maybe a switch, else a PBX out of step is
        switched again; the page sees the checks either way."""
        async with self.lock:
            step = md.observe(
                self.state,
                self.policy,
                health_round.verdict,
                health_round.at,
                health_round.detail,
            )
            await self.apply(step)
            if step.command is None and not self.pbx_in_sync:
                await self._reapply_locked()
        await self.feed.publish(
            {
                "type": "health",
                "verdict": health_round.verdict.value,
                "checks": [r.as_json() for r in health_round.results],
                "exit_recommended": self.state.exit_recommended,
                "pbx_in_sync": self.pbx_in_sync,
            }
        )

    async def apply(self, step: md.Step) -> None:
        """Journal the step, then act on it. Caller holds `lock`."""
        if step.audit:
            await self._journal(step)
        previous = self.state
        self.state = step.state
        if step.command is not None:
            self.pbx_in_sync = False
            await self._switch(step.command)
            if step.command is md.SwitchCommand.ENTER:
                await self.after_enter()
        if previous.mode is not self.state.mode or step.command is not None:
            await self.feed.publish(
                {"type": "mode", **self.status().as_json(), "pbx_in_sync": self.pbx_in_sync}
            )
        if step.command is md.SwitchCommand.EXIT:
            await self.after_exit()

    async def _journal(self, step: md.Step) -> None:
        entry: dict[str, Any] = {
            "kind": "mode",
            "at": self.clock().isoformat(),
            "state": step.state.as_json(),
            "audit": [a.as_json() for a in step.audit],
            "command": None if step.command is None else step.command.value,
        }
        try:
            await self.journal.append(entry)
        except JournalError as exc:
            if step.command is None:
                raise
            # Keeping the line answering beats keeping the audit: switch anyway, loudly.
            self.feed.journal_error = str(exc)
            log.critical("emergency switch NOT journaled (switching anyway): %s", exc)
        self.audit.extend(step.audit)
        for record in step.audit:
            log.warning(
                "emergency %s %s by %s (%s): %s -> %s",
                record.action,
                record.outcome,
                record.by,
                record.reason,
                record.from_state,
                record.to_state,
            )

    async def _switch(self, command: md.SwitchCommand) -> None:
        if command is md.SwitchCommand.ENTER:
            report = await self.switch.enter()
        else:
            report = await self.switch.exit()
        self._record_switch(report)

    def _record_switch(self, report: SwitchReport) -> None:
        self.last_switch = report
        self.pbx_in_sync = report.complete
        if not report.complete:
            log.error(
                "PBX not fully switched to %s (will retry): %s; not moved: %s",
                report.mode,
                "; ".join(report.errors),
                ", ".join(m.call_id for m in report.failed_moves) or "none",
            )

    async def _reapply_locked(self) -> None:
        report = await self.switch.reapply(self.state.active)
        self._record_switch(report)

    async def sync_pbx(self) -> None:
        """Route the PBX as the mode says and keep the pool in its queue (AMI login)."""
        async with self.lock:
            await self._reapply_locked()
