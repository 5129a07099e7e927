"""The emergency service: mode, PBX switching, paper numbers, journal and backfill.

Implements `EmergencyControl`, `BackfillDesk`, `HealthBoard` (see `fallback.ports`).

Durability order: every decision is written to the journal (fsync) before it is acted on
or announced; after a crash `start()` resumes in the journaled mode, keeps the paper numbers
already given and never allocates a second one to the same call.

Wiring (the composition root, `hotline.runtime`)::

    service = EmergencyService(control=ami, switch=PbxSwitch(ami, pool=settings.emergency_members),
                               journal=EmergencyJournal(dir), paper=PaperNumberAllocator(dir),
                               sink=TicketStoreBackfillSink(tickets, sla, clock), clock=clock,
                               policy=..., bus=bus, health=HealthWatch(probes, clock),
                               paper_notice=notify_agent)
    await service.start()
    stages.append(emergency_journal_stage(service))   # the call pipeline hands it events
    ami.on_connected.append(lambda _c: service.on_ami_connected())
    task = asyncio.create_task(service.run_health_watch(settings.health_interval))
    ...
    await service.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bus.base import MessageBus
from bus.topics import EMERGENCY
from calls import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallIdentified,
    CallLeftQueue,
    CallOutcome,
    CallQueued,
    CallSnapshot,
    CallState,
    DomainCallEvent,
)
from calls.clock import Clock
from calls.control import CallControl
from calls.errors import CallControlError
from fallback.domain import backfill as bf
from fallback.domain import mode as md
from fallback.errors import (
    BackfillConflict,
    BackfillIncomplete,
    FallbackError,
    InvalidRequest,
    JournalError,
    JournalNotReplicated,
    PbxError,
    TicketSystemUnavailable,
    UnknownPaperNumber,
)
from fallback.health import HealthRound, HealthWatch
from fallback.journal import EmergencyJournal
from fallback.paper import PaperNumberAllocator
from fallback.ports import BackfillTicket, BackfillTicketSink, PaperNumberNotice
from fallback.records import (
    AuditRecord,
    BackfillItem,
    CallbackTarget,
    CheckResult,
    DrillResult,
    EmergencyStatus,
    Reconciliation,
)
from fallback.switching import PbxSwitch, SwitchReport
from pipeline import RetryPolicy, Stage
from routing.ports import CallStore

log = logging.getLogger(__name__)

TOPIC = EMERGENCY
SYSTEM = bf.SYSTEM
_NUMBER = re.compile(r"\+?[0-9]{2,20}")
_SITE = re.compile(r"[0-9]{1,20}")


def _line(value: str | None, what: str, *, required: bool = True, limit: int = 500) -> str:
    raw = value or ""
    text = raw.strip()
    if required and not text:
        raise InvalidRequest(f"{what} is required")
    if "\r" in raw or "\n" in raw:
        raise InvalidRequest(f"{what} must be a single line")
    if len(text) > limit:
        raise InvalidRequest(f"{what} is longer than {limit} characters")
    return text


def _call_fields(call: CallSnapshot) -> dict[str, Any]:
    ivr = {k: v for k, v in call.variables.items() if k.startswith("HOTLINE_")}
    return {
        "caller_number": call.caller_number,
        "caller_name": call.caller_name,
        "channel": call.channel,
        "started_at": call.started_at.isoformat(),
        "queued_at": None if call.queued_at is None else call.queued_at.isoformat(),
        "queue": call.queue,
        "site_code": call.site_code,
        "level": call.level,
        "ivr": ivr,
    }


class EmergencyService:
    def __init__(
        self,
        *,
        control: CallControl,
        switch: PbxSwitch,
        journal: EmergencyJournal,
        paper: PaperNumberAllocator,
        sink: BackfillTicketSink,
        clock: Clock,
        policy: md.EmergencyPolicy | None = None,
        bus: MessageBus | None = None,
        health: HealthWatch | None = None,
        paper_notice: PaperNumberNotice | None = None,
        callback_context: str = "hotline-callback",
        drill_context: str = "hotline-drill",
        ticket_timeout: float = 5.0,
        outage_margin: timedelta = timedelta(seconds=30),
        call_records: CallStore | None = None,
        require_paper: bool = True,
    ) -> None:
        """`call_records`: the main call records; a backfilled or linked emergency call's
        record is completed from the journal (paper number, ticket, and the whole record
        when the outage or a crash lost it). `require_paper`: a call whose ticket was
        opened automatically counts as reconciled only once its paper is typed in."""
        self.control = control
        self.switch = switch
        self.journal = journal
        self.paper = paper
        self.sink = sink
        self.clock = clock
        self.policy = policy or md.EmergencyPolicy()
        self.bus = bus
        self.health_watch = health
        self.paper_notice = paper_notice
        self.callback_context = _line(callback_context, "callback context")
        self.drill_context = drill_context
        # The ticket system may hang as well as refuse; the supervisor page must not.
        self.ticket_timeout = ticket_timeout
        self._state = md.ModeState()
        self._audit: list[AuditRecord] = []
        self._mode_lock = asyncio.Lock()
        self._backfill_lock = asyncio.Lock()
        self._pbx_in_sync = False
        self.last_switch: SwitchReport | None = None
        self.last_drill: DrillResult | None = None
        self.journal_error: str | None = None  # the last journal write failure, for the page
        # Calls: paper number per call id; calls known to be talking; first queue seen.
        self._paper_by_call: dict[str, str] = {}
        self._talking: set[str] = set()
        self._first_queue: dict[str, str] = {}
        # Calls seen lately (latest snapshot, end time): on entry, the ones taken while the
        # seat system was already failing are journaled too (their tickets may be lost).
        self._recent: dict[str, tuple[CallSnapshot, datetime | None]] = {}
        self._last_healthy_at: datetime | None = None
        self.outage_margin = outage_margin
        self.call_records = call_records
        self.require_paper = require_paper
        self._call_lock = asyncio.Lock()
        # Call events handed in and not yet journaled (the pipeline's emergency stage).
        self._in_flight = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        # Whether the journal is in step with its replica, as last announced.
        self._replicated = True
        # Calls whose paper number is journaled but not yet confirmed on the replica:
        # nobody is told that number (the backfill lists it once it is replicated).
        self._unconfirmed: set[str] = set()
        switch.is_connected = self._talking.__contains__

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the journal and the allocator and resume the journaled mode."""
        await self.journal.open()
        await self.paper.open()
        # The mode is this host's: a takeover adopts the PBX's (cluster.handover).
        for record in self.journal.local_records("mode"):
            self._state = md.ModeState.from_json(record["state"])
            for raw in record.get("audit", ()):
                self._audit.append(_audit_from_json(raw))
        self._learn_papers()
        if self.journal.damage:
            log.error("emergency journal damage on open: %s", self.journal.damage)
        log.info(
            "emergency service started in mode %s (%d journaled calls)",
            self._state.mode,
            len(self._paper_by_call),
        )

    async def stop(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), 5.0)
        await self.journal.close()
        await self.paper.close()

    async def on_ami_connected(self) -> None:
        """AMI (re)connected: read what the other controllers journaled (a takeover), then
        restore the pool and the journaled mode on the PBX."""
        await self.refresh_journal()
        await self._sync_pbx()

    async def refresh_journal(self) -> None:
        """Push this host's unreplicated records and read the other controllers' ones: the
        calls they journaled keep their paper numbers, and numbering goes on above them."""
        await self.journal.catch_up()
        self._learn_papers()
        await self._publish_replication()

    def _learn_papers(self) -> None:
        for call in bf.fold(self.journal.records()).calls.values():
            self._paper_by_call.setdefault(call.call_id, call.paper_number)
            self.paper.raise_floor(call.paper_number)

    async def _publish_replication(self) -> None:
        state = self.journal.state()
        replicated = state["replication"] != "degraded"
        if replicated == self._replicated:
            return
        self._replicated = replicated
        await self._publish({"type": "journal", **state})

    async def run_health_watch(self, interval: float) -> None:
        if self.health_watch is None:
            raise FallbackError("no health watch configured")
        await self.health_watch.run(interval, self.on_health_round)

    # --- EmergencyControl ---------------------------------------------------------------

    def status(self) -> EmergencyStatus:
        s = self._state
        return EmergencyStatus(
            active=s.active, since=s.since, reason=s.reason, by=s.by, state=s.mode.value
        )

    @property
    def pbx_in_sync(self) -> bool:
        return self._pbx_in_sync

    @property
    def exit_recommended(self) -> bool:
        return self._state.exit_recommended

    async def set_active(self, active: bool, *, reason: str, by: str) -> EmergencyStatus:
        async with self._mode_lock:
            step = md.request(self._state, active, by=by, reason=reason, at=self.clock())
            await self._apply(step)
        return self.status()

    async def on_health_round(self, health_round: HealthRound) -> None:
        if health_round.verdict is md.Verdict.HEALTHY:
            self._last_healthy_at = health_round.at
            self._forget_calls_before(health_round.at - self.outage_margin)
        async with self._mode_lock:
            step = md.observe(
                self._state,
                self.policy,
                health_round.verdict,
                health_round.at,
                health_round.detail,
            )
            await self._apply(step)
            if step.command is None and not self._pbx_in_sync:
                await self._reapply_locked()
        await self._publish(
            {
                "type": "health",
                "verdict": health_round.verdict.value,
                "checks": [r.as_json() for r in health_round.results],
                "exit_recommended": self._state.exit_recommended,
                "pbx_in_sync": self._pbx_in_sync,
            }
        )

    async def _apply(self, step: md.Step) -> None:
        """Journal the step, then act on it. Caller holds the mode lock."""
        if step.audit:
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
                self.journal_error = str(exc)
                log.critical("emergency switch NOT journaled (switching anyway): %s", exc)
            self._audit.extend(step.audit)
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
        previous = self._state
        self._state = step.state
        if step.command is not None:
            self._pbx_in_sync = False
            await self._switch(step.command)
            if step.command is md.SwitchCommand.ENTER:
                await self._journal_calls_caught_by_the_outage()
        if previous.mode is not self._state.mode or step.command is not None:
            await self._publish(
                {"type": "mode", **self.status().as_json(), "pbx_in_sync": self._pbx_in_sync}
            )
        if step.command is md.SwitchCommand.EXIT:
            await self._close_if_nothing_to_backfill()

    async def _switch(self, command: md.SwitchCommand) -> None:
        if command is md.SwitchCommand.ENTER:
            report = await self.switch.enter()
        else:
            report = await self.switch.exit()
        self._record_switch(report)

    def _record_switch(self, report: SwitchReport) -> None:
        self.last_switch = report
        self._pbx_in_sync = report.complete
        if not report.complete:
            log.error(
                "PBX not fully switched to %s (will retry): %s; not moved: %s",
                report.mode,
                "; ".join(report.errors),
                ", ".join(m.call_id for m in report.failed_moves) or "none",
            )

    async def _reapply_locked(self) -> None:
        report = await self.switch.reapply(self._state.active)
        self._record_switch(report)

    async def _sync_pbx(self) -> None:
        async with self._mode_lock:
            await self._reapply_locked()

    async def _close_if_nothing_to_backfill(self) -> None:
        # Call events still queued may be emergency calls: journal them before deciding.
        try:
            await asyncio.wait_for(self.drain(), 5.0)
        except TimeoutError:
            log.warning("call events still pending: backfill left open")
            return
        # The seat system is back: the calls that got their ticket anyway are linked now,
        # so the backfill screen shows which papers still need typing in.
        async with self._backfill_lock:
            await self._link_automatic_tickets()
        if self._open_items() or self._state.mode is not md.Mode.RECOVERING:
            return
        step = md.close_backfill(self._state, by=SYSTEM, at=self.clock(), missing=0)
        step = replace(
            step,
            audit=tuple(replace(a, reason="no emergency calls to backfill") for a in step.audit),
        )
        await self._apply(step)

    # --- call events ------------------------------------------------------------------------

    async def handle_call_event(self, event: DomainCallEvent) -> None:
        """The pipeline's emergency-journal stage: journal what `event` changes. A journal
        write failure is shown on the supervisor's page and raised (the stage retries)."""
        self._in_flight += 1
        self._quiet.clear()
        try:
            await self.process_call_event(event)
        except JournalError as exc:
            # Disk or replica trouble may pass (space freed, replica back); the stage
            # retries. A wasted (refused) paper number is fine.
            self.journal_error = str(exc)
            log.error("call %s: journal write failed: %s", event.call_id, exc)
            if isinstance(exc, JournalNotReplicated):
                self.journal.replication_failed(exc)
            await self._publish_replication()
            raise
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._quiet.set()
        await self._publish_replication()

    async def drain(self) -> None:
        """Wait until every call event handed in is processed (journaled)."""
        await self._quiet.wait()

    def _is_drill(self, call: CallSnapshot) -> bool:
        return f"@{self.drill_context}-" in call.channel or "HOTLINE_DRILL" in call.variables

    def _forget_calls_before(self, cutoff: datetime) -> None:
        for call_id, (_call, ended) in list(self._recent.items()):
            if ended is not None and ended < cutoff:
                del self._recent[call_id]

    async def _journal_calls_caught_by_the_outage(self) -> None:
        """Calls that reached a queue since the last healthy check (or are still live) may
        have lost their ticket and call record with the database: journal them as well, so
        the backfill lists them (a call whose ticket did get written is linked to it)."""
        since = None if self._last_healthy_at is None else self._last_healthy_at
        for call, ended in list(self._recent.values()):
            if call.queued_at is None or call.call_id in self._paper_by_call:
                continue  # never queued: no ticket by design; or already journaled
            if ended is None and call.state in (CallState.QUEUED, CallState.AGENT_RINGING):
                continue  # still waiting: journaled as it joins the emergency queue
            if ended is not None and since is not None and ended < since - self.outage_margin:
                continue
            if self._is_drill(call):
                continue
            try:
                await self._journal_call(call, self.clock(), {"caught_by_switch": True})
            except JournalError as exc:
                self.journal_error = str(exc)
                log.error("call %s: not journaled at the switch: %s", call.call_id, exc)
                continue
            if ended is None and call.agent_interface:
                await self._notify(
                    call.agent_interface, call.agent_member_name or "", call.call_id, call
                )

    async def process_call_event(self, event: DomainCallEvent) -> None:
        call = event.call
        call_id = event.call_id
        self._recent[call_id] = (call, event.at if isinstance(event, CallEnded) else None)
        if len(self._recent) > 5000:  # no healthy rounds to prune on: keep it bounded
            self._forget_calls_before(event.at - 10 * self.outage_margin)
        if isinstance(event, CallQueued):
            self._talking.discard(call_id)
            queue = call.queue or ""
            self._first_queue.setdefault(call_id, queue)
            if self._is_drill(call):
                pass
            elif queue == self.switch.emergency_queue:
                await self._journal_emergency_call(event)
            elif self._state.active:
                # A straggler: its IVR chose the main queue just before the switch. It is an
                # emergency-mode call all the same (its ticket may be lost); the next health
                # round moves it to the pool.
                log.warning("call %s: joined %s in emergency mode", call_id, queue)
                self._pbx_in_sync = False
                await self._journal_emergency_call(event)
        elif isinstance(event, CallAnswered):
            self._talking.add(call_id)
            if call_id in self._paper_by_call:
                await self._update(
                    call_id,
                    event.at,
                    {
                        "agent": event.member_name or event.interface,
                        "agent_interface": event.interface,
                        "answered_at": event.at.isoformat(),
                        "hold_seconds": event.hold_seconds,
                    },
                )
                await self._notify_agent(event)
        elif isinstance(event, CallIdentified):
            if call_id in self._paper_by_call:
                fields: dict[str, Any] = {"ivr": {event.variable: event.value}}
                if event.variable == "HOTLINE_SITE":
                    fields["site_code"] = event.value
                elif event.variable == "HOTLINE_LEVEL":
                    fields["level"] = event.value
                await self._update(call_id, event.at, fields)
        elif isinstance(event, CallAbandoned):
            if call_id in self._paper_by_call:
                await self._update(
                    call_id, event.at, {"outcome": "abandoned", "hold_seconds": event.hold_seconds}
                )
        elif isinstance(event, CallLeftQueue):
            pass  # answered, redirected or timed out: the next event says which
        elif isinstance(event, CallEnded):
            self._talking.discard(call_id)
            self._first_queue.pop(call_id, None)
            if call_id in self._paper_by_call:
                await self._update(
                    call_id,
                    event.at,
                    {
                        "ended_at": (call.ended_at or event.at).isoformat(),
                        "outcome": None if call.outcome is None else call.outcome.value,
                        "talk_seconds": call.talk_seconds,
                        "agent": call.agent_member_name or call.agent_interface,
                        "agent_interface": call.agent_interface,
                    },
                )

    async def _journal_emergency_call(self, event: CallQueued) -> None:
        call = event.call
        call_id = event.call_id
        extra: dict[str, Any] = {}
        first = self._first_queue.get(call_id)
        if first and first != call.queue:
            extra["moved_from"] = first
        if call_id in self._paper_by_call:
            await self._update(call_id, event.at, {"queue": call.queue} | extra)
            return
        await self._journal_call(call, event.at, extra)

    async def _journal_call(self, call: CallSnapshot, at: datetime, extra: dict[str, Any]) -> None:
        call_id = call.call_id
        async with self._call_lock:  # the worker and the switch may both get here
            if call_id in self._paper_by_call:
                return
            number = await self.paper.allocate(call_id, at)
            fields = _call_fields(call) | {"paper_number": number} | extra
            for key in ("answered_at", "ended_at"):
                value = getattr(call, key)
                if value is not None:
                    fields[key] = value.isoformat()
            if call.agent_interface:
                fields["agent"] = call.agent_member_name or call.agent_interface
                fields["agent_interface"] = call.agent_interface
            if call.outcome is not None:
                fields["outcome"] = call.outcome.value
            self._paper_by_call[call_id] = number
            try:
                await self.journal.append(
                    {"kind": "call", "call_id": call_id, "at": at.isoformat(), "fields": fields},
                    confirm=True,
                )
            except JournalNotReplicated as exc:
                # On this host's disk, not yet on the replica: acknowledge nothing.
                self._unconfirmed.add(call_id)
                log.error(
                    "call %s: paper number %s journaled on this host only, not announced: %s",
                    call_id,
                    number,
                    exc,
                )
                return
            except JournalError:
                del self._paper_by_call[call_id]
                raise
        log.info("call %s: emergency call journaled with paper number %s", call_id, number)
        await self._publish(
            {
                "type": "paper_number",
                "call_id": call_id,
                "paper_number": number,
                "caller_number": call.caller_number,
            }
        )
        if call.ended_at is not None or call.outcome is not None:
            return  # caught by the switch after it ended: no channel left to label
        try:
            # The dialplan/IVR may speak or show it; failing here loses nothing.
            await self.control.setvar("HOTLINE_PAPER", number, channel=call.channel)
        except CallControlError as exc:
            log.warning("call %s: could not set HOTLINE_PAPER: %s", call_id, exc)

    async def _update(self, call_id: str, at: datetime, fields: dict[str, Any]) -> None:
        await self.journal.append(
            {"kind": "call", "call_id": call_id, "at": at.isoformat(), "fields": fields}
        )

    async def _notify_agent(self, event: CallAnswered) -> None:
        await self._notify(event.interface, event.member_name, event.call_id, event.call)

    async def _notify(
        self, interface: str, member_name: str, call_id: str, call: CallSnapshot
    ) -> None:
        if self.paper_notice is None or call_id in self._unconfirmed:
            return
        try:
            await self.paper_notice(
                interface=interface,
                member_name=member_name,
                call_id=call_id,
                paper_number=self._paper_by_call[call_id],
                caller_number=call.caller_number,
            )
        except Exception:
            log.exception("call %s: could not tell the agent the paper number", call_id)

    def paper_number_of(self, call_id: str) -> str | None:
        return self._paper_by_call.get(call_id)

    async def _publish(self, message: dict[str, Any]) -> None:
        if self.bus is None:
            return
        try:
            await self.bus.publish(TOPIC, message)
        except Exception:
            log.exception("could not publish %s on the bus", message.get("type"))

    # --- BackfillDesk -----------------------------------------------------------------------

    def _ledger(self) -> bf.BackfillLedger:
        return bf.fold(self.journal.records())

    def _open_items(self) -> list[BackfillItem]:
        return bf.open_items(self._ledger(), require_paper=self.require_paper)

    async def run_reconciliation(self, interval: float) -> None:
        """The leader's reconciliation pass, every `interval` seconds while the backfill has
        calls without a ticket: links the tickets those calls got automatically."""
        while True:
            await asyncio.sleep(interval)
            if any(i.call_id is not None and i.ticket_number is None for i in self._open_items()):
                await self.link_automatic_tickets()

    async def link_automatic_tickets(self) -> None:
        """Calls that got their ticket anyway (database still up when they came in) are
        linked to that ticket, never given a second one. The paper's content may still
        be typed in afterwards; it then goes into that ticket."""
        async with self._backfill_lock:
            await self._link_automatic_tickets()

    async def _link_automatic_tickets(self) -> None:
        ledger = self._ledger()
        for item in bf.open_items(ledger):
            if item.call_id is None or item.ticket_number is not None or item.waived:
                continue
            try:
                async with asyncio.timeout(self.ticket_timeout):
                    number = await self.sink.ticket_for_call(item.call_id)
            except Exception as exc:  # opportunistic: the call simply stays unaccounted for
                log.warning(
                    "call %s: ticket system unavailable while reconciling: %r", item.call_id, exc
                )
                return
            if number is not None:
                await self.journal.append(
                    {
                        "kind": "backfill",
                        "paper_number": item.paper_number,
                        "call_id": item.call_id,
                        "ticket_number": number,
                        "linked": True,
                        "content": False,
                        "by": SYSTEM,
                        "at": self.clock().isoformat(),
                    }
                )
                log.info("call %s: already had ticket %s", item.call_id, number)
                await self._restore_call_record(item.call_id, number)

    async def _restore_call_record(self, call_id: str, ticket_number: str) -> None:
        if self.call_records is None:
            return
        call = self._ledger().calls.get(call_id)
        if call is None:
            return
        try:
            outcome = None if call.outcome is None else CallOutcome(call.outcome)
        except ValueError:
            outcome = None
        snapshot = CallSnapshot(
            call_id=call.call_id,
            channel=call.channel or "",
            caller_number=call.caller_number,
            caller_name=call.caller_name,
            state=CallState.ENDED if call.ended_at is not None else CallState.QUEUED,
            started_at=call.started_at or call.queued_at or self.clock(),
            queue=call.queue,
            queued_at=call.queued_at,
            agent_interface=call.agent_interface,
            agent_member_name=call.agent,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            outcome=outcome,
            hold_seconds=call.hold_seconds,
            talk_seconds=call.talk_seconds,
            site_code=call.site_code,
            level=call.level,
            variables=dict(call.ivr),
            resynced=True,
        )
        # The journal names pool desks by interface; the record's agent is a console user.
        agent = call.agent if call.agent and call.agent != call.agent_interface else None
        try:
            async with asyncio.timeout(self.ticket_timeout):
                await self.call_records.upsert(
                    snapshot,
                    agent=agent,
                    ticket_number=ticket_number,
                    paper_number=call.paper_number,
                )
        except Exception as exc:  # the ticket is what counts; the record can be redone
            log.warning("call %s: call record not completed from the journal: %r", call_id, exc)

    async def items(self) -> list[BackfillItem]:
        """The open backfill as the journal has it: every controller's calls (reads only)."""
        await self.refresh_journal()
        return self._open_items()

    async def reconciliation(self) -> Reconciliation:
        """Where the backfill stands (reads only)."""
        await self.refresh_journal()
        return bf.reconcile(self._open_items())

    async def submit(
        self,
        paper_number: str,
        *,
        site_code: str | None,
        level: int,
        description: str,
        caller_number: str | None,
        by: str,
    ) -> str:
        paper = self.paper.format.normalise(paper_number)
        by = _line(by, "who types the paper ticket in", limit=100)
        text = (description or "").strip()
        if not text:
            raise InvalidRequest("description is required")
        if "\r" in text:
            raise InvalidRequest("description must not contain CR")
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 4:
            raise InvalidRequest(f"level must be 1, 2, 3 or 4, not {level!r}")
        site = _line(site_code, "site code", required=False, limit=20) or None
        if site is not None and not _SITE.fullmatch(site):
            raise InvalidRequest(f"site code must be digits: {site!r}")
        number = _line(caller_number, "caller number", required=False, limit=25) or None
        if number is not None and not _NUMBER.fullmatch(number):
            raise InvalidRequest(f"caller number must be digits (optionally +): {number!r}")
        await self.refresh_journal()
        async with self._backfill_lock:
            ledger = self._ledger()
            entry = ledger.entries.get(paper)
            if entry is not None:
                raise BackfillConflict(
                    f"paper ticket {paper} is already entered as ticket {entry.ticket_number} "
                    f"by {entry.by}"
                )
            if paper in ledger.waivers:
                raise BackfillConflict(
                    f"paper ticket {paper} was waived: {ledger.waivers[paper][0]}"
                )
            if paper in ledger.closed:
                raise BackfillConflict(f"the backfill of paper ticket {paper} is closed")
            call = ledger.call_by_paper(paper)
            if call is None and not self.paper.is_issued(paper):
                raise UnknownPaperNumber(f"paper number {paper} was never issued")
            now = self.clock()
            ticket = BackfillTicket(
                paper_number=paper,
                call_id=None if call is None else call.call_id,
                site_code=site or (None if call is None else call.site_code),
                level=level,
                description=text,
                caller_number=number or ("" if call is None else call.caller_number),
                caller_name="" if call is None else call.caller_name,
                started_at=(call.started_at or call.queued_at or now) if call else now,
                agent=None if call is None else call.agent,
                by=by,
            )
            try:
                async with asyncio.timeout(self.ticket_timeout):
                    outcome = await self.sink.backfill(ticket)
            except TimeoutError as exc:
                raise TicketSystemUnavailable(
                    f"the ticket system did not answer within {self.ticket_timeout:g} s"
                ) from exc
            if call is None:
                await self.journal.append(
                    {
                        "kind": "paper",
                        "paper_number": paper,
                        "caller_number": number,
                        "by": by,
                        "at": now.isoformat(),
                    }
                )
            await self.journal.append(
                {
                    "kind": "backfill",
                    "paper_number": paper,
                    "call_id": ticket.call_id,
                    "ticket_number": outcome.ticket_number,
                    "linked": not outcome.created,
                    "content": True,
                    "by": by,
                    "at": now.isoformat(),
                }
            )
        if ticket.call_id is not None:
            await self._restore_call_record(ticket.call_id, outcome.ticket_number)
        log.info(
            "paper ticket %s (call %s) entered as ticket %s by %s",
            paper,
            ticket.call_id,
            outcome.ticket_number,
            by,
        )
        await self._publish(
            {
                "type": "backfill",
                "paper_number": paper,
                "ticket_number": outcome.ticket_number,
                "call_id": ticket.call_id,
            }
        )
        return outcome.ticket_number

    async def waive(self, paper_number: str, *, reason: str, by: str) -> None:
        paper = self.paper.format.normalise(paper_number)
        reason = _line(reason, "a reason")
        by = _line(by, "who waives", limit=100)
        await self.refresh_journal()
        async with self._backfill_lock:
            ledger = self._ledger()
            entry = ledger.entries.get(paper)
            if entry is not None:
                raise BackfillConflict(
                    f"paper ticket {paper} is already entered as ticket {entry.ticket_number}"
                )
            if paper in ledger.waivers:
                raise BackfillConflict(f"paper ticket {paper} is already waived")
            if ledger.call_by_paper(paper) is None and not self.paper.is_issued(paper):
                raise UnknownPaperNumber(f"paper number {paper} was never issued")
            await self.journal.append(
                {
                    "kind": "waive",
                    "paper_number": paper,
                    "reason": reason,
                    "by": by,
                    "at": self.clock().isoformat(),
                }
            )
        log.info("paper ticket %s waived by %s: %s", paper, by, reason)
        await self._publish({"type": "backfill", "paper_number": paper, "waived": True})

    async def close_backfill(self, by: str) -> None:
        by = _line(by, "who closes the backfill", limit=100)
        await self.refresh_journal()
        async with self._mode_lock, self._backfill_lock:
            await self._link_automatic_tickets()
            items = self._open_items()
            result = bf.reconcile(items)
            if not result.done:
                raise BackfillIncomplete([i.paper_number for i in items if not i.accounted_for])
            step = md.close_backfill(self._state, by=by, at=self.clock(), missing=0)
            await self.journal.append(
                {
                    "kind": "backfill_closed",
                    "paper_numbers": [i.paper_number for i in items],
                    "by": by,
                    "at": self.clock().isoformat(),
                }
            )
            await self._apply(step)
        log.info("backfill closed by %s (%d items)", by, len(items))

    async def on_drill_result(self, result: DrillResult) -> None:
        """Hook for `EmergencyDrill(on_result=...)`: keep the last result, tell the page."""
        self.last_drill = result
        await self._publish({"type": "drill", **result.as_json()})

    # --- HealthBoard ------------------------------------------------------------------------

    def health(self) -> list[CheckResult]:
        return [] if self.health_watch is None else self.health_watch.latest()

    def audit_log(self, limit: int = 100) -> list[AuditRecord]:
        return list(reversed(self._audit[-limit:])) if limit > 0 else []

    async def callback_list(self) -> list[CallbackTarget]:
        await self.refresh_journal()
        return bf.callback_targets(self._ledger())

    async def call_back(self, caller_number: str, *, interface: str, by: str) -> str:
        number = _line(caller_number, "caller number", limit=25)
        if not _NUMBER.fullmatch(number):
            raise InvalidRequest(f"caller number must be digits (optionally +): {number!r}")
        interface = _line(interface, "agent interface", limit=200)
        by = _line(by, "who calls back", limit=100)
        try:
            action_id = await self.control.originate(
                interface,
                context=self.callback_context,
                exten=number,
                caller_id=f"Hotline callback <{number}>",
                variables={"HOTLINE_CALLBACK": number},
            )
        except CallControlError as exc:
            raise PbxError(f"callback to {number} via {interface}: {exc}") from exc
        await self.journal.append(
            {
                "kind": "callback",
                "caller_number": number,
                "interface": interface,
                "action_id": action_id,
                "by": by,
                "at": self.clock().isoformat(),
            }
        )
        log.info("callback to %s via %s by %s (action %s)", number, interface, by, action_id)
        return action_id


def _audit_from_json(raw: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        at=datetime.fromisoformat(str(raw["at"])),
        action=str(raw["action"]),
        outcome=str(raw["outcome"]),
        from_state=str(raw["from_state"]),
        to_state=str(raw["to_state"]),
        by=str(raw["by"]),
        reason=str(raw["reason"]),
        automatic=bool(raw["automatic"]),
        duration_seconds=raw.get("duration_seconds"),
    )


def emergency_journal_stage(service: EmergencyService) -> Stage:
    """The emergency journal's place in the call pipeline: on every node that tracks
    calls, independent of the database. A journal write that failed (disk, or no paper
    number without the replica) is retried until it succeeds, the event kept in the
    pipeline's spool meanwhile: no emergency call goes unjournaled."""
    return Stage(
        "emergency-journal",
        30,
        service.handle_call_event,
        retry=RetryPolicy((JournalError,), initial=0.2, longest=2.0),
        spool=True,
    )
