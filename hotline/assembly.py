"""The steps `HotlineService.build` takes, each a few lines of wiring: the edges
(database, stores, bus, AMI client, leadership); emergency mode, supervision, the IVR and
the start-up database check on them; the call path (the pipeline with its stages and the
CDR sweep); the AMI log-in hooks; the web console with the supervision and outage
routes, its shared state and access settings, and the system health behind `/healthz`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI

from ami.client import AmiClient, LinkState
from ami.tracker import CallTracker
from bus import InProcessBus, MessageBus
from bus.redis import RedisBus
from calls.clock import utc_now
from cluster import ClusterController, ModeHandover, SoleLeader, build_controller, default_node_name
from console import ConsoleDeps, create_app
from console.outage import outage_router
from console.recordings import recordings_router
from console.runtime import current_username, record, require, wallboard_session
from console.server import ConsoleServer
from console.shared_state import ConsoleState
from console.websocket_auth import websocket_role_check
from fallback import components as emergency_parts
from fallback.health import ConsoleHeartbeats
from fallback.service import EmergencyService, emergency_journal_stage
from fallback.tickets import TicketStoreBackfillSink
from hotline.dispatch_wiring import build_dispatch
from hotline.schema import DatabaseAtStart
from hotline.settings import ConfigError, Settings
from ivr import components as ivr_parts
from ivr.components import Ivr
from ivr.outage import OutageAnnouncements
from ivr.server import IvrServer
from pipeline import CallPipeline, Origin
from pipeline.spool import EventSpool
from routing import components as routing_parts
from routing.domain.levels import SlaPolicy
from routing.errors import StoreUnavailable
from routing.paper_notice import PaperNumberToAgent
from routing.records import UserRole
from routing.unseen import UnseenCallSweep
from storage.audit import AuditRepository
from storage.call_events import CallEventWriter
from storage.calls import CallRepository
from storage.cdr import CdrRepository
from storage.database import Database
from storage.fence import FenceStore
from storage.group_commit import GroupCommit
from storage.health_probe import HealthProbeTable
from storage.recordings import RecordingArchive, RecordingPurge
from storage.reports import ReportRepository
from storage.revocations import RevocationRepository
from storage.sites import SiteRepository
from storage.supervision import SupervisionRepository
from storage.tickets import TicketRepository
from storage.users import UserRepository
from supervision import components as supervision_parts
from supervision.dispatch.service import DispatchService
from supervision.dispatch.web import router as dispatch_router
from supervision.service import SupervisionService
from supervision.wallboard import wallboard_stage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Edges:
    """The database and its stores, the bus, the PBX link and leadership: what every
    package's parts are built on."""

    policy: SlaPolicy
    db: Database
    bus: MessageBus
    tickets: TicketRepository
    calls: CallRepository
    sites: SiteRepository
    users: UserRepository
    tracker: CallTracker
    ami: AmiClient
    # Each call event's ticket change and call record in one transaction (group commit).
    writes: CallEventWriter
    # ClusterController when HOTLINE_REDIS_URL is set: leader-only stages are fenced.
    leadership: ClusterController | SoleLeader

    @property
    def cluster(self) -> ClusterController | None:
        return self.leadership if isinstance(self.leadership, ClusterController) else None

    def routing_deps(self) -> routing_parts.RoutingDeps:
        return routing_parts.RoutingDeps(
            self.tickets,
            self.calls,
            self.sites,
            self.users,
            self.bus,
            self.policy,
            self.ami,
            writes=self.writes,
            cached_site=self.sites.cached_profile,
        )


def build_edges(settings: Settings, bus: MessageBus | None) -> Edges:
    if not settings.ami_user or settings.ami_secret is None:
        raise ConfigError("HOTLINE_AMI_USER and HOTLINE_AMI_SECRET are required")
    if settings.role == "console" and not settings.redis_url:
        raise ConfigError("HOTLINE_ROLE=console needs HOTLINE_REDIS_URL (screen-pops)")
    policy = settings.sla_policy()
    db = Database(
        settings.db_url, write_pool=settings.db_write_pool, read_pool=settings.db_read_pool
    )
    if bus is None:
        redis_url = settings.redis_url
        bus = RedisBus(redis_url, prefix=settings.redis_prefix) if redis_url else InProcessBus()
    tracker = CallTracker()
    # With the policy, a level/site change by an agent recomputes the SLA deadlines.
    tickets = TicketRepository(db, policy=policy, tz=settings.tz())
    calls = CallRepository(db)
    return Edges(
        policy=policy,
        db=db,
        bus=bus,
        tickets=tickets,
        calls=calls,
        sites=SiteRepository(db, tz=settings.tz()),
        users=UserRepository(db),
        tracker=tracker,
        ami=AmiClient(
            host=settings.ami_host,
            port=settings.ami_port,
            username=settings.ami_user,
            secret=settings.ami_secret.get_secret_value(),
            tracker=tracker,
            ping_interval=settings.ami_ping_interval,
        ),
        writes=CallEventWriter(
            GroupCommit(db, window=settings.db_batch_window_ms / 1000), tickets, calls
        ),
        leadership=(
            build_controller(settings, FenceStore(db.engine))
            if settings.redis_url
            else SoleLeader()
        ),
    )


def emergency_on(
    settings: Settings,
    edges: Edges,
    *,
    paper_notice: PaperNumberToAgent,
    console_state: ConsoleState,
) -> emergency_parts.Emergency:
    """Emergency mode on the edges; the drill hears the PBX from here on."""
    emergency = emergency_parts.build(
        settings,
        emergency_parts.EmergencyDeps(
            control=edges.ami,
            probe_table=HealthProbeTable(edges.db.engine),
            sink=TicketStoreBackfillSink(edges.tickets, edges.policy, utc_now),
            bus=edges.bus,
            paper_notice=paper_notice,
            call_records=edges.calls,
            consoles_elsewhere=console_state.heartbeats_by_source,
        ),
    )
    edges.ami.add_listener(
        lambda event: emergency.drill.on_ami_message(event.message),
        events=("AgentConnect", "OriginateResponse"),
    )
    return emergency


def supervision_on(
    settings: Settings,
    edges: Edges,
    *,
    database: DatabaseAtStart,
    emergency: EmergencyService,
) -> supervision_parts.Supervision:
    try:
        return supervision_parts.build(
            settings,
            supervision_parts.SupervisionDeps(
                stores=SupervisionRepository(edges.db),
                reports=ReportRepository(edges.db),
                bus=edges.bus,
                sla=edges.policy,
                call_control=edges.ami,
                ping=edges.db.ping,
                database_up_at_start=lambda: database.up_at_start,
                emergency_status=emergency.status,
            ),
        )
    except ValueError as exc:
        raise ConfigError(f"bad [supervision] configuration: {exc}") from exc


def ami_login_hooks(
    edges: Edges, emergency: EmergencyService, sweep: UnseenCallSweep
) -> ModeHandover | None:
    """What runs at each AMI log-in, in order. With a cluster the first is the mode
    hand-over (after a takeover the PBX's routing mode wins); it is returned as the
    leader-only component that arms it at each election."""
    handover = None
    if edges.cluster is not None:
        handover = ModeHandover(edges.ami, emergency, edges.cluster.node)
        edges.ami.on_connected.append(handover)

    async def on_connected(_client: AmiClient) -> None:
        await emergency.on_ami_connected()
        # The resync just told the tracker which calls are live: the records of the
        # others end now (a crash or a cut link left them open).
        try:
            await sweep.close_open()
        except StoreUnavailable as exc:
            log.warning("open call records not closed at log-in (%s)", exc)

    edges.ami.on_connected.append(on_connected)
    return handover


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


def console_app(
    settings: Settings,
    db: Database,
    *,
    tickets: TicketRepository,
    calls: CallRepository,
    sites: SiteRepository,
    users: UserRepository,
    ami: AmiClient,
    bus: MessageBus,
    emergency: EmergencyService,
    heartbeats: ConsoleHeartbeats,
    console_state: ConsoleState,
    health: SystemHealth,
    supervision: SupervisionService,
    outage: OutageAnnouncements,
    dispatch: DispatchService,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The web console with the supervision, outage and dispatch routes, then `routers`."""
    secret = (
        settings.session_secret.get_secret_value()
        if settings.session_secret
        else secrets.token_hex(32)
    )
    app = create_app(
        ConsoleDeps(
            tickets=tickets,
            calls=calls,
            sites=sites,
            users=users,
            bus=bus,
            call_control=ami,
            emergency=emergency,
            backfill=emergency,
            health=health,
            session_secret=secret,
            main_queue=settings.main_queue,
            board=emergency,
            heartbeat=heartbeats,
            revocations=console_state.revocations,
            login_attempts=console_state.login_attempts,
            presence=console_state.presence,
            **access_settings(settings, db, console_state),
            locale=settings.locale,
            timezone=settings.timezone,
            ticket_clocks=dispatch.ticket_clocks,
        )
    )
    app.include_router(
        supervision.web_router(
            require_supervisor=require(UserRole.SUPERVISOR),
            require_agent=require(UserRole.AGENT),
            authorize_websocket=websocket_role_check(UserRole.SUPERVISOR, wallboard=True),
            require_wallboard=wallboard_session,
            current_user=current_username,
            audit=record,
        )
    )
    app.include_router(outage_router(outage))
    app.include_router(recordings_router(RecordingArchive(settings.recordings_dir)))
    app.include_router(
        dispatch_router(
            dispatch,
            require_agent=require(UserRole.AGENT),
            current_user=current_username,
            timezone=settings.timezone,
        )
    )
    for router in routers:
        app.include_router(router)
    return app


@dataclass(frozen=True)
class Console:
    health: SystemHealth
    app: FastAPI
    http: ConsoleServer


def console_on(
    settings: Settings,
    edges: Edges,
    *,
    pipeline: CallPipeline,
    emergency: emergency_parts.Emergency,
    supervision: SupervisionService,
    ivr: Ivr,
    console_state: ConsoleState,
    dispatch: DispatchService,
    routers: Sequence[APIRouter] = (),
) -> Console:
    """The console server with its app and the health it reports."""
    assert pipeline.spool is not None
    health = SystemHealth(
        settings,
        edges.db,
        edges.bus,
        edges.ami,
        edges.tracker,
        pipeline,
        emergency.service,
        ivr.server,
        edges.cluster,
        pipeline.spool,
    )
    app = console_app(
        settings,
        edges.db,
        tickets=edges.tickets,
        calls=edges.calls,
        sites=edges.sites,
        users=edges.users,
        ami=edges.ami,
        bus=edges.bus,
        emergency=emergency.service,
        heartbeats=emergency.heartbeats,
        console_state=console_state,
        health=health,
        supervision=supervision,
        outage=ivr.outage,
        dispatch=dispatch,
        routers=routers,
    )
    # X-Forwarded-For is believed from HOTLINE_TRUSTED_PROXIES only (console.middleware).
    return Console(
        health, app, ConsoleServer(app, host=settings.http_host, port=settings.http_port)
    )


def call_path_on(
    settings: Settings,
    edges: Edges,
    *,
    routing: routing_parts.Routing,
    emergency: emergency_parts.Emergency,
    supervision: supervision_parts.Supervision,
) -> tuple[CallPipeline, routing_parts.CdrSweep]:
    """The one path of call events: the tracker and the CDR sweep feed the pipeline,
    nothing else subscribes. Stages run independently, each in call order; with a
    cluster the leader-only stages are fenced."""
    cluster = edges.cluster
    pipeline = CallPipeline(
        [
            *routing.stages(),
            emergency_journal_stage(emergency.service),
            wallboard_stage(supervision.service.publisher),
        ],
        fence=cluster.fenced if cluster is not None else None,
        spool=EventSpool(
            settings.journal_dir / "pipeline-spool.jsonl",
            max_bytes=settings.spool_max_mb * 1024 * 1024,
        ),
    )
    edges.tracker.subscribe(pipeline.submit)
    sweep = routing_parts.cdr_sweep(
        settings,
        edges.routing_deps(),
        CdrRepository(edges.db),
        functools.partial(pipeline.submit, origin=Origin.CDR),
        live_calls=lambda: edges.tracker.calls.keys() | pipeline.pending_call_ids("tickets"),
        pbx_synced=lambda: edges.ami.state is LinkState.CONNECTED,
    )
    return pipeline, sweep


def ivr_on(
    settings: Settings,
    edges: Edges,
    *,
    routing: routing_parts.Routing,
    emergency: EmergencyService,
) -> ivr_parts.Ivr:
    return ivr_parts.build(
        settings,
        ivr_parts.IvrDeps(
            sites=edges.sites,
            tickets=edges.tickets,
            surveys=routing.call_tickets,
            advisor=routing.advisor,
            bus=edges.bus,
            policy=edges.policy,
            emergency_active=lambda: emergency.status().active,
        ),
    )


def database_check(
    settings: Settings, edges: Edges, emergency: EmergencyService, *, check_schema: bool
) -> DatabaseAtStart:
    """Up to health_failures probes' time for the database to answer at start."""
    return DatabaseAtStart(
        edges.db,
        settings.db_url,
        timeout=settings.health_timeout * settings.health_failures,
        emergency_active=lambda: emergency.status().active,
        check_schema=check_schema,
    )


class RecordingPurgeRun:
    """Leader only: the daily retention purge of call recordings."""

    name = "recording-purge"
    leader_only = True

    def __init__(self, purge: RecordingPurge) -> None:
        self.purge = purge

    async def start(self) -> None:
        self.purge.start()

    async def stop(self) -> None:
        await self.purge.stop()


def recording_purge_on(settings: Settings, edges: Edges) -> RecordingPurge:
    return RecordingPurge(
        edges.calls, RecordingArchive(settings.recordings_dir), days=settings.recording_days
    )


def dispatch_on(
    settings: Settings, edges: Edges, supervision: SupervisionService
) -> DispatchService:
    return build_dispatch(
        settings, edges.db, edges.tickets, edges.sites, supervision.config, edges.policy
    )
