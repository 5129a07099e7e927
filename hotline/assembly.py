"""Builders the composition root uses for parts that other wiring (tests, the drill
command) builds the same way: emergency mode, the console's shared state and its
access settings, and the system health behind `/healthz`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ami.client import AmiClient, LinkState
from ami.tracker import CallTracker
from bus import MessageBus
from bus.redis import RedisBus
from calls.clock import utc_now
from cluster import ClusterController, default_node_name
from console.shared_state import ConsoleState
from fallback.domain.mode import EmergencyPolicy
from fallback.drill import EmergencyDrill
from fallback.health import ConsoleHeartbeats, HealthWatch, ReadyAgentsProbe, SqlWriteProbe
from fallback.journal import EmergencyJournal
from fallback.paper import PaperNumberAllocator
from fallback.ports import BackfillTicketSink, PaperNumberNotice
from fallback.replica import RedisJournalReplica
from fallback.service import EmergencyService
from fallback.switching import PbxSwitch
from hotline.settings import Settings
from ivr.server import IvrServer
from pipeline import CallPipeline
from pipeline.spool import EventSpool
from routing.ports import CallStore
from storage.audit import AuditRepository
from storage.database import Database
from storage.revocations import RevocationRepository


def access_settings(settings: Settings, db: Database, state: ConsoleState) -> dict[str, Any]:
    """The console's access settings (`ConsoleDeps` fields): proxies, cookies, idle
    time-out, audit trail and its retention."""
    idle = settings.session_idle_minutes
    return {
        "trusted_proxies": tuple(settings.trusted_proxies),
        "secure_cookies": settings.cookies_secure(),
        "session_idle": timedelta(minutes=idle) if idle else None,
        "session_activity": state.activity,
        "audit": AuditRepository(db),
        "audit_retention": timedelta(days=settings.audit_retention_days),
    }


def console_state_for(settings: Settings, db: Database) -> ConsoleState:
    """Log-outs in the database; log-in throttle and open consoles through Redis when
    `HOTLINE_REDIS_URL` is set, in this process otherwise."""
    return ConsoleState.build(
        RevocationRepository(db),
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        node=settings.node_name or default_node_name(),
    )


@dataclass(frozen=True)
class EmergencyParts:
    """Emergency mode as `hotline serve` builds it. The service journals, switches and
    backfills; the health watch decides when to switch; console heartbeats are one of
    its probes; the drill tests the emergency pool."""

    service: EmergencyService
    health_watch: HealthWatch
    heartbeats: ConsoleHeartbeats
    drill: EmergencyDrill


def build_emergency(
    settings: Settings,
    *,
    ami: AmiClient,
    engine: AsyncEngine,
    sink: BackfillTicketSink,
    bus: MessageBus | None = None,
    paper_notice: PaperNumberNotice | None = None,
    call_records: CallStore | None = None,
) -> EmergencyParts:
    """Emergency mode from `settings` on the AMI client `ami`; `engine` is the ticket
    database the health watch writes to. The drill listens to `ami` from here on."""
    heartbeats = ConsoleHeartbeats(clock=utc_now, critical="consoles" in settings.health_critical)
    health_watch = HealthWatch(
        [
            SqlWriteProbe(
                engine,
                timeout=settings.health_timeout,
                critical="database" in settings.health_critical,
            ),
            heartbeats,
            ReadyAgentsProbe(
                ami, queue=settings.main_queue, critical="agents" in settings.health_critical
            ),
        ],
        utc_now,
    )
    replica = (
        RedisJournalReplica(
            settings.journal_redis_url,
            prefix=settings.redis_prefix,
            replicas=settings.journal_replicas,
            wait_ms=settings.journal_wait_ms,
        )
        if settings.journal_redis_url
        else None
    )
    emergency = EmergencyService(
        control=ami,
        switch=PbxSwitch(
            ami,
            pool=settings.emergency_members,
            main_queue=settings.main_queue,
            emergency_queue=settings.emergency_queue,
        ),
        journal=EmergencyJournal(settings.journal_dir, replica),
        paper=PaperNumberAllocator(settings.journal_dir, replica=replica),
        sink=sink,
        clock=utc_now,
        policy=EmergencyPolicy(
            failures_to_enter=settings.health_failures,
            hold_down=timedelta(seconds=settings.emergency_hold_down),
        ),
        bus=bus,
        health=health_watch,
        paper_notice=paper_notice,
        call_records=call_records,
        require_paper=settings.backfill_require_paper,
    )
    # Emergency-pool drill: `hotline drill` on demand, and every drill_interval_hours.
    drill = EmergencyDrill(
        ami,
        utc_now,
        results=EmergencyDrill.results_log(settings.journal_dir),
        queue=settings.emergency_queue,
        timeout=settings.drill_timeout,
        on_result=emergency.on_drill_result,
    )
    ami.add_listener(
        lambda event: drill.on_ami_message(event.message),
        events=("AgentConnect", "OriginateResponse"),
    )
    return EmergencyParts(emergency, health_watch, heartbeats, drill)


@dataclass(frozen=True)
class SystemHealth:
    """Component states for `/healthz` and the supervisor page."""

    settings: Settings
    db: Database
    bus: MessageBus
    ami: AmiClient
    tracker: CallTracker
    pipeline: CallPipeline
    emergency: EmergencyService
    ivr: IvrServer
    cluster: ClusterController | None
    spool: EventSpool

    async def __call__(self) -> Mapping[str, Any]:
        standby = self.cluster is not None and not self.cluster.is_leader
        ami: dict[str, Any] = {
            # A standby leaves AMI to the leader by design: that is not a fault.
            "status": "disabled"
            if standby
            else ("ok" if self.ami.state is LinkState.CONNECTED else "down"),
            "state": self.ami.state.value,
            "connections": self.ami.connections,
        }
        if self.ami.last_error:
            ami["error"] = self.ami.last_error
        try:
            async with asyncio.timeout(self.settings.health_timeout):
                await self.db.ping()
            database: dict[str, Any] = {"status": "ok"}
        except Exception as exc:  # the page shows the reason, never a stack trace
            database = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:200]}
        status = self.emergency.status()
        return {
            "ami": ami,
            "database": database,
            "redis": self.bus.state()
            if isinstance(self.bus, RedisBus)
            else ("not_configured" if not self.settings.redis_url else "in_process"),
            "controller": await self.cluster.state()
            if self.cluster is not None
            else {"status": "ok", "role": "leader", "note": "single instance"},
            "ivr": {"status": "ok" if self.ivr.port else "down", "port": self.ivr.port}
            if self.settings.role != "console"
            else {"status": "disabled", "port": None},
            "emergency": {"status": "ok", "active": status.active, "state": status.state},
            # The emergency journal's copy on the replicas.
            "journal": self.emergency.journal.state(),
            "calls": {
                "status": "ok",
                "live": len(self.tracker.calls),
                "pipeline_backlog": self.pipeline.backlog,
            },
            # Call events waiting for the database, on disk: warn before the bound.
            "spool": {
                "status": "warning" if self.spool.near_full else "ok",
                "events": self.spool.pending,
                "bytes": self.spool.size,
                "limit_bytes": self.spool.max_bytes,
                "refused": self.spool.refused,
            },
        }
