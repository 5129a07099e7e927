"""Everything emergency mode needs, built and started in one place for `hotline serve/demo`.

The composition root (the lead's `hotline` package) reads the settings and calls::

    stack = build_emergency_stack(
        EmergencyConfig.from_settings(settings), control=ami_client, engine=db.engine,
        ticket_store=tickets, sla_policy=settings.sla_policy(), clock=utc_now, bus=bus,
        paper_notice=tell_agent,
    )
    await stack.start(ami_client, tracker)   # journal, hooks, health watch, drills
    deps = ...(emergency=stack.service, backfill=stack.service, board=stack.service,
               heartbeat=stack.heartbeats)
    ...
    await stack.stop()

Nothing here is a module-level singleton; every piece stays reachable for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ami.client import AmiClient
from ami.control import CallControl
from ami.events import AmiEvent
from ami.tracker import CallTracker
from bus.base import MessageBus
from fallback.domain.mode import EmergencyPolicy
from fallback.drill import DrillSchedule, EmergencyDrill
from fallback.health import ConsoleHeartbeats, HealthWatch, ReadyAgentsProbe, SqlWriteProbe
from fallback.journal import EmergencyJournal, JsonLinesLog
from fallback.paper import PaperNumberAllocator
from fallback.ports import BackfillTicketSink, HealthProbe, PaperNumberNotice
from fallback.service import EmergencyService
from fallback.switching import PbxSwitch
from fallback.tickets import TicketStoreBackfillSink
from routing.domain.levels import SlaPolicy
from routing.ports import CallStore, TicketStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EmergencyConfig:
    journal_dir: Path
    pool: tuple[str, ...]
    main_queue: str = "hotline-main"
    emergency_queue: str = "hotline-emergency"
    health_interval: float = 5.0
    health_failures: int = 3
    health_timeout: float = 2.0
    hold_down: float = 60.0
    auto_exit: bool = False
    successes_to_exit: int = 3
    console_max_age: float = 30.0
    check_consoles: bool = True
    min_ready_agents: int = 1
    check_agents: bool = True
    agents_grace: float = 60.0
    move_back_on_exit: bool = False
    drill_interval: float | None = None  # seconds; None: no scheduled drills
    drill_timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> EmergencyConfig:
        """From `hotline.settings.Settings` (journal_dir, emergency_members, main_queue,
        emergency_queue, health_interval, health_failures, health_timeout,
        emergency_hold_down); anything else through `overrides`."""
        values: dict[str, Any] = {
            "journal_dir": Path(settings.journal_dir),
            "pool": tuple(settings.emergency_members),
            "main_queue": settings.main_queue,
            "emergency_queue": settings.emergency_queue,
            "health_interval": float(settings.health_interval),
            "health_failures": int(settings.health_failures),
            "health_timeout": float(settings.health_timeout),
            "hold_down": float(settings.emergency_hold_down),
        }
        values.update(overrides)
        return cls(**values)


@dataclass
class EmergencyStack:
    config: EmergencyConfig
    service: EmergencyService
    switch: PbxSwitch
    watch: HealthWatch
    heartbeats: ConsoleHeartbeats
    drill: EmergencyDrill
    drill_log: JsonLinesLog
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _detach: list[Callable[[], None]] = field(default_factory=list)

    async def start(
        self, client: AmiClient | None = None, tracker: CallTracker | None = None
    ) -> None:
        """Open the journal, hook into the AMI client and tracker, start the watch/drills."""
        await self.service.start()
        drill_records = await self.drill_log.open()
        if tracker is not None:
            self._detach.append(tracker.subscribe(self.service.on_call_event))
        if client is not None:

            async def on_connected(_client: AmiClient) -> None:
                await self.service.on_ami_connected()

            def on_event(event: AmiEvent) -> None:
                self.drill.on_ami_message(event.message)

            client.on_connected.append(on_connected)
            self._detach.append(lambda: client.on_connected.remove(on_connected))
            self._detach.append(client.add_listener(on_event))
            if client.connected_event.is_set():
                await self.service.on_ami_connected()
        loop = asyncio.get_running_loop()
        self._tasks.append(
            loop.create_task(
                self.service.run_health_watch(self.config.health_interval), name="health-watch"
            )
        )
        if self.config.drill_interval:
            schedule = DrillSchedule(
                self.drill,
                timedelta(seconds=self.config.drill_interval),
                self.service.clock,
                last_run=DrillSchedule.last_run_in(drill_records),
            )
            self._tasks.append(loop.create_task(schedule.run_forever(), name="drills"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for detach in self._detach:
            with contextlib.suppress(ValueError):
                detach()
        self._detach.clear()
        await self.service.stop()
        await self.drill_log.close()


def build_emergency_stack(
    config: EmergencyConfig,
    *,
    control: CallControl,
    clock: Callable[[], datetime],
    engine: AsyncEngine | None = None,
    ticket_store: TicketStore | None = None,
    sla_policy: SlaPolicy | None = None,
    sink: BackfillTicketSink | None = None,
    bus: MessageBus | None = None,
    paper_notice: PaperNumberNotice | None = None,
    extra_probes: tuple[HealthProbe, ...] = (),
    call_records: CallStore | None = None,
) -> EmergencyStack:
    """Give `engine` (the ticket database) for the SQL write/read probe, and either `sink` or
    `ticket_store` (+ `sla_policy`) for the backfill."""
    if sink is None:
        if ticket_store is None:
            raise ValueError("build_emergency_stack needs a ticket_store or a sink")
        sink = TicketStoreBackfillSink(ticket_store, sla_policy or SlaPolicy(), clock)
    heartbeats = ConsoleHeartbeats(
        clock, max_age=timedelta(seconds=config.console_max_age), critical=config.check_consoles
    )
    probes: list[HealthProbe] = []
    if engine is not None:
        probes.append(SqlWriteProbe(engine, timeout=config.health_timeout, clock=clock))
    probes.append(heartbeats)
    probes.append(
        ReadyAgentsProbe(
            control,
            queue=config.main_queue,
            min_ready=config.min_ready_agents,
            timeout=config.health_timeout,
            critical=config.check_agents,
            clock=clock,
            grace=timedelta(seconds=config.agents_grace),
        )
    )
    probes.extend(extra_probes)
    watch = HealthWatch(probes, clock)
    switch = PbxSwitch(
        control,
        pool=config.pool,
        main_queue=config.main_queue,
        emergency_queue=config.emergency_queue,
        move_back_on_exit=config.move_back_on_exit,
    )
    service = EmergencyService(
        control=control,
        switch=switch,
        journal=EmergencyJournal(config.journal_dir),
        paper=PaperNumberAllocator(config.journal_dir),
        sink=sink,
        clock=clock,
        policy=EmergencyPolicy(
            failures_to_enter=config.health_failures,
            successes_to_exit=config.successes_to_exit,
            hold_down=timedelta(seconds=config.hold_down),
            auto_exit=config.auto_exit,
        ),
        bus=bus,
        health=watch,
        paper_notice=paper_notice,
        call_records=call_records,
    )
    drill_log = EmergencyDrill.results_log(config.journal_dir)
    drill = EmergencyDrill(
        control,
        clock,
        results=drill_log,
        queue=config.emergency_queue,
        timeout=config.drill_timeout,
        on_result=service.on_drill_result,
    )
    return EmergencyStack(config, service, switch, watch, heartbeats, drill, drill_log)
