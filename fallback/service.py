"""The emergency service: emergency mode as one object for the console, the API and the
composition root. It implements `EmergencyControl`, `BackfillDesk` and `HealthBoard` (see
`fallback.ports`) by handing each request to the part that owns it:

* `fallback.switchover.Switchover`: the mode, its audit trail, the PBX switch;
* `fallback.call_journal.CallJournal`: emergency calls and their paper numbers, journaled;
* `fallback.backfill_desk.PaperBackfill`: paper tickets typed in, reconciliation, closing;
* `fallback.callbacks.OutageCallbacks`: calling back the callers the outage affected;
* `fallback.feed.SupervisorFeed`: what the supervisor's page hears.

Durability order: every decision is written to the journal (fsync) before it is acted on
or announced; after a crash `start()` resumes in the journaled mode, keeps the paper numbers
already given and never allocates a second one to the same call.

Wiring (`fallback.components.build` does it from the settings)::

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
from datetime import timedelta

from bus.base import MessageBus
from calls import DomainCallEvent
from calls.clock import Clock
from calls.control import CallControl
from fallback.backfill_desk import PaperBackfill
from fallback.call_journal import CallJournal, emergency_journal_stage
from fallback.callbacks import OutageCallbacks
from fallback.domain import backfill as bf
from fallback.domain import mode as md
from fallback.errors import FallbackError
from fallback.feed import SupervisorFeed
from fallback.health import HealthRound, HealthWatch
from fallback.journal import EmergencyJournal
from fallback.paper import PaperNumberAllocator
from fallback.ports import BackfillTicketSink, PaperNumberNotice
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
from fallback.switchover import Switchover
from routing.ports import CallStore

log = logging.getLogger(__name__)


class EmergencyService:
    """Emergency mode for one controller: its parts share the journal, the paper numbers
    and the supervisor feed; the mode lock orders switches and the backfill's closing."""

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
        opened automatically counts as reconciled only once its paper is typed in.
        `outage_margin`: calls that ended this long before the last healthy round are not
        taken as caught by the outage."""
        self.control = control
        self.switch = switch
        self.journal = journal
        self.paper = paper
        self.sink = sink
        self.clock = clock
        self.policy = policy or md.EmergencyPolicy()
        self.bus = bus
        self.health_watch = health
        self.last_drill: DrillResult | None = None
        self.feed = SupervisorFeed(bus, journal)
        self.mode = Switchover(
            switch=switch,
            journal=journal,
            feed=self.feed,
            clock=clock,
            policy=self.policy,
            after_enter=self._after_enter,
            after_exit=self._after_exit,
        )
        self.calls = CallJournal(
            control=control,
            journal=journal,
            paper=paper,
            mode=self.mode,
            feed=self.feed,
            clock=clock,
            paper_notice=paper_notice,
            drill_context=drill_context,
            outage_margin=outage_margin,
        )
        self.backfill = PaperBackfill(
            journal=journal,
            paper=paper,
            sink=sink,
            calls=self.calls,
            mode=self.mode,
            feed=self.feed,
            clock=clock,
            call_records=call_records,
            require_paper=require_paper,
            # The ticket system may hang as well as refuse; the supervisor page must not.
            ticket_timeout=ticket_timeout,
        )
        self.callbacks = OutageCallbacks(
            control=control,
            journal=journal,
            calls=self.calls,
            clock=clock,
            context=callback_context,
        )
        switch.is_connected = self.calls.is_talking

    async def _after_enter(self) -> None:
        await self.calls.journal_calls_caught_by_the_outage()

    async def _after_exit(self) -> None:
        await self.backfill.close_if_nothing_to_backfill()

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the journal and the allocator and resume the journaled mode."""
        await self.journal.open()
        await self.paper.open()
        # The mode is this host's: a takeover adopts the PBX's (cluster.handover).
        self.mode.resume(self.journal.local_records("mode"))
        self.calls.learn_papers()
        if self.journal.damage:
            log.error("emergency journal damage on open: %s", self.journal.damage)
        log.info(
            "emergency service started in mode %s (%d journaled calls)",
            self.mode.state.mode,
            len(self.calls.paper_by_call),
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
        await self.mode.sync_pbx()

    async def refresh_journal(self) -> None:
        """Push this host's unreplicated records and read the other controllers' ones: the
        calls they journaled keep their paper numbers, and numbering goes on above them."""
        await self.calls.refresh()

    async def run_health_watch(self, interval: float) -> None:
        if self.health_watch is None:
            raise FallbackError("no health watch configured")
        await self.health_watch.run(interval, self.on_health_round)

    # --- EmergencyControl ---------------------------------------------------------------

    def status(self) -> EmergencyStatus:
        return self.mode.status()

    @property
    def pbx_in_sync(self) -> bool:
        return self.mode.pbx_in_sync

    @property
    def exit_recommended(self) -> bool:
        return self.mode.state.exit_recommended

    @property
    def last_switch(self) -> SwitchReport | None:
        return self.mode.last_switch

    @property
    def journal_error(self) -> str | None:
        """The last journal write that failed, for the supervisor's page."""
        return self.feed.journal_error

    async def set_active(self, active: bool, *, reason: str, by: str) -> EmergencyStatus:
        await self.mode.request(active, reason=reason, by=by)
        return self.status()

    async def on_health_round(self, health_round: HealthRound) -> None:
        if health_round.verdict is md.Verdict.HEALTHY:
            self.calls.saw_healthy(health_round.at)
        await self.mode.observe(health_round)

    # --- call events ----------------------------------------------------------------------

    async def handle_call_event(self, event: DomainCallEvent) -> None:
        """The pipeline's emergency-journal stage: journal what `event` changes. A journal
        write failure is shown on the supervisor's page and raised (the stage retries)."""
        await self.calls.handle_call_event(event)

    async def process_call_event(self, event: DomainCallEvent) -> None:
        await self.calls.process_call_event(event)

    async def drain(self) -> None:
        """Wait until every call event handed in is processed (journaled)."""
        await self.calls.drain()

    def paper_number_of(self, call_id: str) -> str | None:
        return self.calls.paper_number_of(call_id)

    # --- BackfillDesk -----------------------------------------------------------------------

    def ledger(self) -> bf.BackfillLedger:
        """The backfill as the journal has it now (no refresh)."""
        return self.backfill.ledger()

    async def run_reconciliation(self, interval: float) -> None:
        await self.backfill.run_reconciliation(interval)

    async def link_automatic_tickets(self) -> None:
        await self.backfill.link_automatic_tickets()

    async def items(self) -> list[BackfillItem]:
        return await self.backfill.items()

    async def reconciliation(self) -> Reconciliation:
        return await self.backfill.reconciliation()

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
        return await self.backfill.submit(
            paper_number,
            site_code=site_code,
            level=level,
            description=description,
            caller_number=caller_number,
            by=by,
        )

    async def waive(self, paper_number: str, *, reason: str, by: str) -> None:
        await self.backfill.waive(paper_number, reason=reason, by=by)

    async def close_backfill(self, by: str) -> None:
        await self.backfill.close_backfill(by)

    async def on_drill_result(self, result: DrillResult) -> None:
        """Hook for `EmergencyDrill(on_result=...)`: keep the last result, tell the page."""
        self.last_drill = result
        await self.feed.publish({"type": "drill", **result.as_json()})

    # --- HealthBoard ------------------------------------------------------------------------

    def health(self) -> list[CheckResult]:
        return [] if self.health_watch is None else self.health_watch.latest()

    def audit_log(self, limit: int = 100) -> list[AuditRecord]:
        return self.mode.audit_log(limit)

    async def callback_list(self) -> list[CallbackTarget]:
        return await self.callbacks.callback_list()

    async def call_back(self, caller_number: str, *, interface: str, by: str) -> str:
        return await self.callbacks.call_back(caller_number, interface=interface, by=by)


__all__ = ["EmergencyService", "emergency_journal_stage"]
