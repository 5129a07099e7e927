"""Emergency mode as components: `build(settings, deps)` makes the emergency service,
its health watch (with the database write probe, console heartbeats and ready agents),
the emergency-pool drill, and the two components the composition root runs.

* `journal` runs everywhere: the journal, the paper numbers and the drill results are
  opened at start (the journal says whether we restart in the middle of an outage).
* `watches` are leader only: the health watch, the backfill reconciliation, the
  scheduled drills and the journal's replication act on the PBX, the ticket database and
  the replicas; `refresh` (`JournalRefresh`) reads the replicated journal at each
  election.

Its `/healthz` entries are `emergency` (the mode) and `journal` (its replicas).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from bus import MessageBus
from calls.clock import Clock, utc_now
from calls.control import CallControl
from fallback.call_journal import emergency_journal_stage
from fallback.domain.mode import EmergencyPolicy
from fallback.drill import DrillSchedule, EmergencyDrill
from fallback.health import ConsoleHeartbeats, DatabaseWriteProbe, HealthWatch, ReadyAgentsProbe
from fallback.journal import EmergencyJournal
from fallback.paper import PaperNumberAllocator
from fallback.ports import BackfillTicketSink, PaperNumberNotice, ProbeTable
from fallback.replica import RedisJournalReplica, keep_in_step
from fallback.service import EmergencyService
from fallback.switching import PbxSwitch
from lifecycle import HealthEntry, TaskLoop
from pipeline import Stage
from routing.ports import CallStore


class EmergencySettings(Protocol):
    """The settings emergency mode reads (`hotline.settings.Settings` has them)."""

    @property
    def journal_dir(self) -> Path: ...
    @property
    def emergency_members(self) -> Sequence[str]: ...
    @property
    def main_queue(self) -> str: ...
    @property
    def emergency_queue(self) -> str: ...
    @property
    def health_critical(self) -> Sequence[str]: ...
    @property
    def health_interval(self) -> float: ...
    @property
    def health_failures(self) -> int: ...
    @property
    def health_timeout(self) -> float: ...
    @property
    def emergency_hold_down(self) -> float: ...
    @property
    def drill_interval_hours(self) -> float: ...
    @property
    def drill_timeout(self) -> float: ...
    @property
    def backfill_require_paper(self) -> bool: ...
    @property
    def backfill_reconcile_interval(self) -> float: ...
    @property
    def journal_redis_url(self) -> str | None: ...
    @property
    def redis_prefix(self) -> str: ...
    @property
    def journal_replicas(self) -> int: ...
    @property
    def journal_wait_ms(self) -> int: ...


@dataclass(frozen=True)
class EmergencyDeps:
    """`control`: the PBX. `probe_table`: the ticket database's write probe row.
    `consoles_elsewhere`: heartbeats the other console processes saw (shared state)."""

    control: CallControl
    probe_table: ProbeTable
    sink: BackfillTicketSink
    bus: MessageBus | None = None
    paper_notice: PaperNumberNotice | None = None
    call_records: CallStore | None = None
    consoles_elsewhere: Callable[[], Awaitable[Mapping[str, datetime]]] | None = None
    clock: Clock = utc_now


class EmergencyJournalRun:
    """Everywhere: the journal and the drill results open at start, close at stop."""

    name = "emergency-journal"
    leader_only = False

    def __init__(self, service: EmergencyService, drill: EmergencyDrill) -> None:
        self.service = service
        self.drill = drill
        self.drill_records: list[dict[str, Any]] = []

    async def start(self) -> None:
        # The journal, the paper numbers, the drill results and the pipeline's spool.
        self.service.journal.directory.mkdir(parents=True, exist_ok=True)
        await self.service.start()
        if self.drill.results is not None:
            self.drill_records = await self.drill.results.open()

    async def stop(self) -> None:
        await self.service.stop()
        if self.drill.results is not None:
            await self.drill.results.close()


class JournalRefresh:
    """Leader only, at each election before AMI connects: the calls the old leader
    journaled keep their paper numbers, and numbering goes on above them."""

    name = "journal-refresh"
    leader_only = True

    def __init__(self, service: EmergencyService) -> None:
        self.service = service

    async def start(self) -> None:
        await self.service.refresh_journal()

    async def stop(self) -> None:
        return None


@dataclass(frozen=True)
class Emergency:
    """Emergency mode as `hotline serve` runs it."""

    service: EmergencyService
    health_watch: HealthWatch
    heartbeats: ConsoleHeartbeats
    drill: EmergencyDrill
    journal: EmergencyJournalRun
    refresh: JournalRefresh
    settings: EmergencySettings
    clock: Clock

    async def after_login(self, _pbx: object) -> None:
        """A PBX log-in hook: the other controllers' journal read, then the emergency pool
        and the journaled mode restored on the PBX."""
        await self.service.on_ami_connected()

    def stages(self) -> list[Stage]:
        """The emergency journal (30): every call's journal record and paper number."""
        return [emergency_journal_stage(self.service)]

    def active(self) -> bool:
        """Whether emergency mode is on (calls go to the emergency queue)."""
        return self.service.status().active

    def health_entries(self) -> Mapping[str, HealthEntry]:
        return {"emergency": self.health, "journal": self.journal_health}

    def health(self) -> Mapping[str, Any]:
        """`/healthz`'s emergency entry: the mode and the state machine's state."""
        status = self.service.status()
        return {"status": "ok", "active": status.active, "state": status.state}

    def journal_health(self) -> Mapping[str, Any]:
        """`/healthz`'s journal entry: the emergency journal's copy on the replicas."""
        return self.service.journal.state()

    def watches(self) -> list[TaskLoop]:
        """The leader's loops: scheduled drills, health watch, backfill reconciliation,
        and with a replicated journal, keeping it in step with the replicas."""
        s = self.settings
        loops = [
            TaskLoop("health-watch", lambda: self.service.run_health_watch(s.health_interval)),
            TaskLoop(
                "backfill-reconciliation",
                lambda: self.service.run_reconciliation(s.backfill_reconcile_interval),
            ),
        ]
        if s.drill_interval_hours > 0:
            loops.insert(0, TaskLoop("drills", self._drills))
        if s.journal_redis_url:
            loops.append(
                TaskLoop(
                    "journal-replication",
                    lambda: keep_in_step(self.service.refresh_journal, s.health_interval),
                )
            )
        return loops

    async def _drills(self) -> None:
        schedule = DrillSchedule(
            self.drill,
            timedelta(hours=self.settings.drill_interval_hours),
            self.clock,
            last_run=DrillSchedule.last_run_in(self.journal.drill_records),
        )
        await schedule.run_forever()


def _health_watch(
    settings: EmergencySettings, deps: EmergencyDeps
) -> tuple[HealthWatch, ConsoleHeartbeats]:
    """The watch over the seat system: the database write probe, console heartbeats and
    ready agents, each critical as `settings.health_critical` says."""
    critical = set(settings.health_critical)
    heartbeats = ConsoleHeartbeats(
        clock=deps.clock, critical="consoles" in critical, elsewhere=deps.consoles_elsewhere
    )
    health_watch = HealthWatch(
        [
            DatabaseWriteProbe(
                deps.probe_table, timeout=settings.health_timeout, critical="database" in critical
            ),
            heartbeats,
            ReadyAgentsProbe(
                deps.control, queue=settings.main_queue, critical="agents" in critical
            ),
        ],
        deps.clock,
    )
    return health_watch, heartbeats


def _replica(settings: EmergencySettings) -> RedisJournalReplica | None:
    """The journal's copy on the Redis replicas, when one is configured."""
    if not settings.journal_redis_url:
        return None
    return RedisJournalReplica(
        settings.journal_redis_url,
        prefix=settings.redis_prefix,
        replicas=settings.journal_replicas,
        wait_ms=settings.journal_wait_ms,
    )


def build(settings: EmergencySettings, deps: EmergencyDeps) -> Emergency:
    """Emergency mode from `settings` on the PBX `deps.control`."""
    health_watch, heartbeats = _health_watch(settings, deps)
    replica = _replica(settings)
    service = EmergencyService(
        control=deps.control,
        switch=PbxSwitch(
            deps.control,
            pool=settings.emergency_members,
            main_queue=settings.main_queue,
            emergency_queue=settings.emergency_queue,
        ),
        journal=EmergencyJournal(settings.journal_dir, replica),
        paper=PaperNumberAllocator(settings.journal_dir, replica=replica),
        sink=deps.sink,
        clock=deps.clock,
        policy=EmergencyPolicy(
            failures_to_enter=settings.health_failures,
            hold_down=timedelta(seconds=settings.emergency_hold_down),
        ),
        bus=deps.bus,
        health=health_watch,
        paper_notice=deps.paper_notice,
        call_records=deps.call_records,
        require_paper=settings.backfill_require_paper,
    )
    # Emergency-pool drill: `hotline drill` on demand, and every drill_interval_hours. It
    # hears the PBX through `EmergencyDrill.on_ami_message`, which the wiring connects.
    drill = EmergencyDrill(
        deps.control,
        deps.clock,
        results=EmergencyDrill.results_log(settings.journal_dir),
        queue=settings.emergency_queue,
        timeout=settings.drill_timeout,
        on_result=service.on_drill_result,
    )
    journal = EmergencyJournalRun(service, drill)
    return Emergency(
        service,
        health_watch,
        heartbeats,
        drill,
        journal,
        JournalRefresh(service),
        settings,
        deps.clock,
    )
