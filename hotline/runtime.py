"""Composition root: builds every component from `Settings` and supervises their lifecycle.

`HotlineService.build` asks each package for its parts (`routing.components`,
`fallback.components`, `supervision.components`, `ivr.components`, ...), wires ports to
adapters and hands the components, in start order, to a `lifecycle.Lifecycle`.
Leadership (`ClusterController` when `HOTLINE_REDIS_URL` is set, `SoleLeader` otherwise)
tells the lifecycle when this process leads: the leader-only components start then and
stop when it is demoted. Nothing is set on a part after it is built.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from fastapi import FastAPI

from ami.client import AmiClient, LinkState
from ami.component import AmiLink
from ami.tracker import CallTracker
from bus import InProcessBus, MessageBus
from bus.redis import RedisBus
from calls.clock import utc_now
from cluster import ClusterController, ModeHandover, SoleLeader, build_controller
from console.server import ConsoleServer, ConsoleServerError
from console.shared_state import ConsoleState
from fallback import components as emergency_parts
from fallback.drill import EmergencyDrill
from fallback.service import EmergencyService, emergency_journal_stage
from fallback.tickets import TicketStoreBackfillSink
from hotline.assembly import SystemHealth, console_app, console_state_for
from hotline.schema import DatabaseAtStart
from hotline.settings import ConfigError, Settings
from ivr import components as ivr_parts
from ivr.mode import IvrMode
from ivr.outage import OutageAnnouncements
from ivr.server import IvrServer
from lifecycle import Component, Lifecycle, Resource
from pipeline import CallPipeline, Origin
from pipeline.components import PipelineRun, SpoolReplay
from pipeline.spool import EventSpool
from routing import components as routing_parts
from routing.errors import StoreUnavailable
from routing.fanout import ConsoleFanout
from routing.tickets import CallTicketService
from routing.unseen import UnseenCallSweep
from storage.calls import CallRepository
from storage.cdr import CdrRepository
from storage.database import Database
from storage.fence import FenceStore
from storage.health_probe import HealthProbeTable
from storage.reports import ReportRepository
from storage.sites import SiteRepository
from storage.supervision import SupervisionRepository
from storage.tickets import TicketRepository
from storage.users import UserRepository
from supervision import components as supervision_parts
from supervision.service import SupervisionService
from supervision.wallboard import wallboard_stage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HotlineService:
    settings: Settings
    db: Database
    bus: MessageBus
    tracker: CallTracker
    ami: AmiClient
    pipeline: CallPipeline
    tickets: TicketRepository
    calls: CallRepository
    sites: SiteRepository
    users: UserRepository
    call_tickets: CallTicketService
    fanout: ConsoleFanout
    emergency: EmergencyService
    drill: EmergencyDrill
    ivr: IvrServer
    ivr_mode: IvrMode
    supervision: SupervisionService
    outage: OutageAnnouncements
    app: FastAPI
    # Log-outs (database), log-in throttle and open consoles (Redis) shared by consoles.
    console_state: ConsoleState
    health: SystemHealth
    http: ConsoleServer
    # Records calls no controller saw on AMI, from the PBX's CDR (leader only).
    unseen: UnseenCallSweep
    database: DatabaseAtStart
    leadership: ClusterController | SoleLeader
    lifecycle: Lifecycle

    @classmethod
    def build(
        cls, settings: Settings, *, bus: MessageBus | None = None, check_schema: bool = False
    ) -> HotlineService:
        """`check_schema`: refuse to start on a database behind the newest migration."""
        if not settings.ami_user or settings.ami_secret is None:
            raise ConfigError("HOTLINE_AMI_USER and HOTLINE_AMI_SECRET are required")
        if settings.role == "console" and not settings.redis_url:
            raise ConfigError("HOTLINE_ROLE=console needs HOTLINE_REDIS_URL (screen-pops)")
        policy, db = settings.sla_policy(), Database(settings.db_url)
        if bus is None:
            redis_url = settings.redis_url
            bus = RedisBus(redis_url, prefix=settings.redis_prefix) if redis_url else InProcessBus()
        # With the policy, a level/site change by an agent recomputes the SLA deadlines.
        tickets = TicketRepository(db, policy=policy, tz=settings.tz())
        calls, sites, users = (
            CallRepository(db),
            SiteRepository(db, tz=settings.tz()),
            UserRepository(db),
        )
        tracker = CallTracker()
        ami = AmiClient(
            host=settings.ami_host,
            port=settings.ami_port,
            username=settings.ami_user,
            secret=settings.ami_secret.get_secret_value(),
            tracker=tracker,
            ping_interval=settings.ami_ping_interval,
        )
        leadership: ClusterController | SoleLeader = (
            build_controller(settings, FenceStore(db.engine))
            if settings.redis_url
            else SoleLeader()
        )
        cluster = leadership if isinstance(leadership, ClusterController) else None
        routing_deps = routing_parts.RoutingDeps(tickets, calls, sites, users, bus, policy, ami)
        routing = routing_parts.build(settings, routing_deps)
        console_state = console_state_for(settings, db)
        emergency = emergency_parts.build(
            settings,
            emergency_parts.EmergencyDeps(
                control=ami,
                probe_table=HealthProbeTable(db.engine),
                sink=TicketStoreBackfillSink(tickets, policy, utc_now),
                bus=bus,
                paper_notice=routing.paper_notice,
                call_records=calls,
                consoles_elsewhere=console_state.heartbeats_by_source,
            ),
        )
        ami.add_listener(
            lambda event: emergency.drill.on_ami_message(event.message),
            events=("AgentConnect", "OriginateResponse"),
        )
        database = DatabaseAtStart(
            db,
            settings.db_url,
            timeout=settings.health_timeout * settings.health_failures,
            emergency_active=lambda: emergency.service.status().active,
            check_schema=check_schema,
        )
        try:
            supervision = supervision_parts.build(
                settings,
                supervision_parts.SupervisionDeps(
                    stores=SupervisionRepository(db),
                    reports=ReportRepository(db),
                    bus=bus,
                    sla=policy,
                    call_control=ami,
                    ping=db.ping,
                    database_up_at_start=lambda: database.up_at_start,
                    emergency_status=emergency.service.status,
                ),
            )
        except ValueError as exc:
            raise ConfigError(f"bad [supervision] configuration: {exc}") from exc
        spool = EventSpool(
            settings.journal_dir / "pipeline-spool.jsonl",
            max_bytes=settings.spool_max_mb * 1024 * 1024,
        )
        # The one path of call events: the tracker and the CDR sweep feed it, nothing else
        # subscribes. Stages run independently, each in call order.
        pipeline = CallPipeline(
            [
                *routing.stages(),
                emergency_journal_stage(emergency.service),
                wallboard_stage(supervision.service.publisher),
            ],
            fence=cluster.fenced if cluster is not None else None,
            spool=spool,
        )
        tracker.subscribe(pipeline.submit)
        sweep = routing_parts.cdr_sweep(
            settings,
            routing_deps,
            CdrRepository(db),
            functools.partial(pipeline.submit, origin=Origin.CDR),
            live_calls=lambda: tracker.calls.keys() | pipeline.pending_call_ids("tickets"),
            pbx_synced=lambda: ami.state is LinkState.CONNECTED,
        )
        ivr = ivr_parts.build(
            settings,
            ivr_parts.IvrDeps(
                sites=sites,
                tickets=tickets,
                surveys=routing.call_tickets,
                advisor=routing.advisor,
                bus=bus,
                policy=policy,
                emergency_active=lambda: emergency.service.status().active,
            ),
        )
        health = SystemHealth(
            settings, db, bus, ami, tracker, pipeline, emergency.service, ivr.server, cluster, spool
        )
        app = console_app(
            settings,
            db,
            tickets=tickets,
            calls=calls,
            sites=sites,
            users=users,
            ami=ami,
            bus=bus,
            emergency=emergency.service,
            heartbeats=emergency.heartbeats,
            console_state=console_state,
            health=health,
            supervision=supervision.service,
            outage=ivr.outage,
        )
        # X-Forwarded-For is believed from HOTLINE_TRUSTED_PROXIES only (console.middleware).
        http = ConsoleServer(app, host=settings.http_host, port=settings.http_port)
        leader_only: list[Component] = []
        if cluster is not None:
            # First AMI hook: after a takeover the PBX's routing mode wins (cluster.handover).
            handover = ModeHandover(ami, emergency.service, cluster.node)
            ami.on_connected.append(handover)
            leader_only.append(handover)

        async def on_ami_connected(_client: AmiClient) -> None:
            await emergency.service.on_ami_connected()
            # The resync just told the tracker which calls are live: the records of the
            # others end now (a crash or a cut link left them open).
            try:
                await sweep.sweep.close_open()
            except StoreUnavailable as exc:
                log.warning("open call records not closed at log-in (%s)", exc)

        ami.on_connected.append(on_ami_connected)
        run = PipelineRun(pipeline)
        leader_only += [SpoolReplay(run), AmiLink(ami), supervision.run, *emergency.watches()]
        if sweep.loop is not None:
            leader_only.append(sweep.loop)
        # Start order; everything stops in reverse (the database last, the console first).
        lifecycle = Lifecycle(
            [
                Resource("database", close=db.dispose),
                Resource(
                    "bus", open=bus.start if isinstance(bus, RedisBus) else None, close=bus.close
                ),
                Resource("console-state", close=console_state.close),
                Resource("supervision", close=supervision.run.close),
                emergency.journal,  # says whether we restart in the middle of an outage
                run,
                database,
                ivr.outage_component(),
                *([ivr.listener] if settings.role != "console" else []),
                leadership,
                http,
                *leader_only,
            ]
        )
        leadership.subscribe(lifecycle)
        return cls(
            settings=settings,
            db=db,
            bus=bus,
            tracker=tracker,
            ami=ami,
            pipeline=pipeline,
            tickets=tickets,
            calls=calls,
            sites=sites,
            users=users,
            call_tickets=routing.call_tickets,
            fanout=routing.fanout,
            emergency=emergency.service,
            drill=emergency.drill,
            ivr=ivr.server,
            ivr_mode=ivr.mode,
            supervision=supervision.service,
            outage=ivr.outage,
            app=app,
            console_state=console_state,
            health=health,
            http=http,
            unseen=sweep.sweep,
            database=database,
            leadership=leadership,
            lifecycle=lifecycle,
        )

    async def start(self) -> None:
        try:
            await self.lifecycle.start()
        except ConsoleServerError as exc:
            raise ConfigError(str(exc)) from exc
        log.info("console on %s", self.console_url)

    async def stop(self) -> None:
        await self.lifecycle.stop()

    @property
    def database_up_at_start(self) -> bool:
        """False when the database did not answer at start (restart during an outage)."""
        return self.database.up_at_start

    @property
    def console_url(self) -> str:
        try:
            port = self.http.port
        except ConsoleServerError:
            port = self.settings.http_port
        return f"http://{self.settings.http_host}:{port}"
