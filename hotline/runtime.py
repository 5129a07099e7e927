"""Composition root: builds every component from `Settings` and runs them in one process.

`HotlineService` = the AMI controller (client + call tracker + event pipeline), the
FastAGI IVR server, the emergency service with its health watch, the supervision
scheduler and wallboard, and the web console (`console.server.ConsoleServer`), sharing
one event loop. Nothing here holds domain rules; it only wires ports to adapters.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from ami.client import AmiClient, LinkState
from ami.tracker import CallTracker
from bus import InProcessBus, MessageBus
from bus.redis import RedisBus
from calls.clock import utc_now
from cluster import ClusterController, ModeHandover, build_controller
from console import ConsoleDeps, create_app
from console.outage import outage_router
from console.recordings import recordings_router
from console.runtime import current_username, record, require, wallboard_session
from console.server import ConsoleServer, ConsoleServerError
from console.shared_state import ConsoleState
from console.websocket_auth import websocket_role_check
from fallback.drill import DrillSchedule, EmergencyDrill
from fallback.health import ConsoleHeartbeats, HealthWatch
from fallback.replica import keep_in_step
from fallback.service import EmergencyService, emergency_journal_stage
from fallback.tickets import TicketStoreBackfillSink
from hotline.assembly import SystemHealth, access_settings, build_emergency, console_state_for
from hotline.dispatch_wiring import build_dispatch
from hotline.oncall_wiring import OnCallParts, build_oncall
from hotline.settings import ConfigError, Settings
from ivr.menu_file import load_menu
from ivr.mode import IvrMode
from ivr.outage import OutageAnnouncements
from ivr.server import IvrServer
from ivr.sites import IvrSiteDirectory
from pipeline import CallPipeline, Origin
from pipeline.spool import EventSpool, Spooled
from routing.advice import IvrRoutingAdvisor
from routing.errors import StoreUnavailable
from routing.fanout import ConsoleFanout
from routing.paper_notice import PaperNumberToAgent
from routing.records import UserRole
from routing.router import CallRouter
from routing.stages import screen_pop_stage, tickets_stage
from routing.tickets import CallTicketService
from routing.unseen import UnseenCallSweep
from storage.call_events import CallEventWriter
from storage.calls import CallRepository
from storage.cdr import CdrRepository
from storage.database import Database
from storage.group_commit import GroupCommit
from storage.recordings import RecordingArchive, RecordingPurge
from storage.reports import ReportRepository
from storage.site_cache import SiteCacheKeeper
from storage.sites import SiteRepository
from storage.supervision import SupervisionRepository
from storage.tickets import TicketRepository
from storage.users import UserRepository
from supervision.config import SupervisionConfig
from supervision.dispatch.service import DispatchService
from supervision.dispatch.web import router as dispatch_router
from supervision.service import SupervisionService
from supervision.wallboard import wallboard_stage

log = logging.getLogger(__name__)


async def _unbound_hook(_arg: Any) -> None:
    raise RuntimeError("cluster hook used before the service was built")


@dataclass
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
    health_watch: HealthWatch
    ivr: IvrServer
    ivr_mode: IvrMode
    supervision: SupervisionService
    outage: OutageAnnouncements
    dispatch: DispatchService
    app: FastAPI
    # Log-outs (database), log-in throttle and open consoles (Redis) shared by consoles.
    console_state: ConsoleState
    health: SystemHealth
    http: ConsoleServer | None = None
    http_port: int | None = None
    drill: EmergencyDrill | None = None
    # False when the database did not answer at start (restart during an outage).
    database_up_at_start: bool = True
    _supervision_started: bool = False
    # Set when HOTLINE_REDIS_URL is: AMI, health watch, drills and schedulers run on the
    # elected leader only (cluster); the IVR and the console run everywhere.
    cluster: ClusterController | None = None
    _leading: bool = False
    _leader_tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _mode_handover: ModeHandover | None = None
    _drill_records: list[dict[str, Any]] = field(default_factory=list)
    # Call events a crash left in the spool, replayed once this node leads.
    _spooled: list[Spooled] = field(default_factory=list)
    # Records calls no controller saw on AMI, from the PBX's CDR (leader only).
    unseen: UnseenCallSweep | None = None
    # Site profiles in memory for the IVR and the tickets (storage.site_cache).
    site_cache: SiteCacheKeeper | None = None
    # Daily retention purge of call recordings (leader only).
    recording_purge: RecordingPurge | None = None
    # On-call paging (leader only) and repeat calls.
    oncall: OnCallParts | None = None

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def build(cls, settings: Settings, *, bus: MessageBus | None = None) -> HotlineService:
        if not settings.ami_user or settings.ami_secret is None:
            raise ConfigError("HOTLINE_AMI_USER and HOTLINE_AMI_SECRET are required")
        policy = settings.sla_policy()
        db = Database(
            settings.db_url, write_pool=settings.db_write_pool, read_pool=settings.db_read_pool
        )
        if settings.role == "console" and not settings.redis_url:
            raise ConfigError("HOTLINE_ROLE=console needs HOTLINE_REDIS_URL (screen-pops)")
        if bus is None:
            bus = (
                RedisBus(settings.redis_url, prefix=settings.redis_prefix)
                if settings.redis_url
                else InProcessBus()
            )
        # With the policy, a level/site change by an agent recomputes the SLA deadlines.
        tickets = TicketRepository(db, policy=policy, tz=settings.tz())
        calls = CallRepository(db)
        sites = SiteRepository(db, tz=settings.tz())
        users = UserRepository(db)
        tracker = CallTracker()
        ami = AmiClient(
            host=settings.ami_host,
            port=settings.ami_port,
            username=settings.ami_user,
            secret=settings.ami_secret.get_secret_value(),
            tracker=tracker,
            ping_interval=settings.ami_ping_interval,
        )
        try:
            supervision_config = SupervisionConfig.from_mapping(settings.supervision)
        except ValueError as exc:
            raise ConfigError(f"bad [supervision] configuration: {exc}") from exc
        oncall = build_oncall(settings, db, supervision_config)
        call_tickets = CallTicketService(
            tickets=tickets,
            calls=calls,
            writes=CallEventWriter(
                GroupCommit(db, window=settings.db_batch_window_ms / 1000), tickets, calls
            ),
            sites=sites,
            users=users,
            policy=policy,
            repeats=oncall.repeats,
            repeat_window=oncall.repeat_window,
            pager=oncall.service,
        )
        fanout = ConsoleFanout(
            users=users,
            tickets=tickets,
            sites=sites,
            bus=bus,
            open_ticket=call_tickets.open_ticket,
            known_ticket=call_tickets.known_ticket,
            cached_site=sites.cached_profile,
            repeat_of=call_tickets.repeat_of,
        )
        cluster: ClusterController | None = None
        if settings.redis_url:
            # The hooks are bound to the service once it exists (below).
            cluster = build_controller(
                settings, db.engine, on_elected=_unbound_hook, on_demoted=_unbound_hook
            )
        parts = build_emergency(
            settings,
            ami=ami,
            engine=db.engine,
            sink=TicketStoreBackfillSink(tickets, policy, utc_now),
            bus=bus,
            paper_notice=PaperNumberToAgent(fanout, bus),
            call_records=calls,
        )
        emergency, heartbeats, drill = parts.service, parts.heartbeats, parts.drill
        supervision_store = SupervisionRepository(db)
        supervision = SupervisionService(
            store=supervision_store,
            tickets=supervision_store,
            calls=supervision_store,
            reports=ReportRepository(db),
            bus=bus,
            config=supervision_config,
            sla=policy,
            call_control=ami,
            queues=[settings.main_queue, settings.emergency_queue],
            service_level_target=timedelta(seconds=settings.service_level_target_seconds),
            emergency_status=emergency.status,
            language=settings.locale,
        )
        dispatch = build_dispatch(settings, db, tickets, sites, supervision_config, policy)
        spool = EventSpool(
            settings.journal_dir / "pipeline-spool.jsonl",
            max_bytes=settings.spool_max_mb * 1024 * 1024,
        )
        # The one path of call events: the tracker and the CDR sweep feed it, nothing else
        # subscribes. Stages run independently, each in call order.
        pipeline = CallPipeline(
            [
                screen_pop_stage(fanout),
                tickets_stage(call_tickets),
                emergency_journal_stage(emergency),
                wallboard_stage(supervision.publisher),
            ],
            fence=cluster.fenced if cluster is not None else None,
            spool=spool,
        )
        tracker.subscribe(pipeline.submit)
        ivr_mode = IvrMode(lambda: emergency.status().active)
        ivr = IvrServer(
            load_menu(settings.menu_file),
            IvrSiteDirectory(sites),
            ivr_mode,
            call_tickets,
            policy=policy,
            main_queue=settings.main_queue,
            emergency_queue=settings.emergency_queue,
            sounds_dir=settings.sounds_dir,
            max_connections=settings.agi_max_connections,
            recording_notice=settings.recording_notice,
            router=IvrRoutingAdvisor(
                CallRouter(
                    sites,
                    policy,
                    main_queue=settings.main_queue,
                    preferred_ring_seconds=settings.preferred_ring_seconds,
                    tz=settings.tz(),
                ),
                ami,
            ),
        )
        outage = OutageAnnouncements(
            menu=ivr.menu,
            sounds_dir=settings.sounds_dir,
            journal_dir=settings.journal_dir,
            ivr_mode=ivr_mode,
            tickets=tickets,
            bus=bus,
        )
        health = SystemHealth(
            settings, db, bus, ami, tracker, pipeline, emergency, ivr, cluster, spool
        )
        console_state = console_state_for(settings, db)
        heartbeats.elsewhere = console_state.heartbeats_by_source
        app = _console_app(
            settings,
            db,
            ami,
            bus,
            tickets,
            calls,
            sites,
            users,
            emergency,
            heartbeats,
            console_state,
            health,
            supervision,
            outage,
            dispatch,
        )
        for extra in oncall.routers(
            settings,
            call_tickets,
            require_supervisor=require(UserRole.SUPERVISOR),
            current_user=current_username,
            audit=record,
        ):
            app.include_router(extra)
        service = cls(
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
            call_tickets=call_tickets,
            fanout=fanout,
            emergency=emergency,
            health_watch=parts.health_watch,
            ivr=ivr,
            ivr_mode=ivr_mode,
            supervision=supervision,
            outage=outage,
            dispatch=dispatch,
            app=app,
            console_state=console_state,
            health=health,
            drill=drill,
            cluster=cluster,
            oncall=oncall,
            unseen=UnseenCallSweep(
                CdrRepository(db),
                sites,
                functools.partial(pipeline.submit, origin=Origin.CDR),
                live_calls=lambda: tracker.calls.keys() | pipeline.pending_call_ids("tickets"),
                calls=calls,
                pbx_synced=lambda: ami.state is LinkState.CONNECTED,
            ),
            site_cache=SiteCacheKeeper(sites),
            recording_purge=RecordingPurge(
                calls, RecordingArchive(settings.recordings_dir), days=settings.recording_days
            ),
        )
        if cluster is not None:
            cluster.on_elected = service._take_lead
            cluster.on_demoted = service._step_down
            # First AMI hook: after a takeover the PBX's routing mode wins (cluster.handover).
            service._mode_handover = ModeHandover(ami, emergency, cluster.node)
            ami.on_connected.insert(0, service._mode_handover)
        return service

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self, *, check_schema: bool = False) -> None:
        s = self.settings
        s.journal_dir.mkdir(parents=True, exist_ok=True)
        if self.pipeline.spool is not None:
            self._spooled = self.pipeline.spool.open()
        # The journal first: it says whether we are restarting in the middle of an outage.
        await self.emergency.start()
        try:
            # A hung (black-holed) database must not hang the start for minutes.
            async with asyncio.timeout(s.health_timeout * s.health_failures):
                await self.db.ping()
        except Exception as exc:
            if not self.emergency.status().active:
                await self.emergency.stop()
                raise ConfigError(f"database {s.db_url} unreachable: {exc!r}") from exc
            # Restart during an outage: keep answering in emergency mode, catch up later.
            self.database_up_at_start = False
            log.error("database unreachable at start (%r): serving in emergency mode", exc)
        if check_schema and self.database_up_at_start:
            from hotline.schema import check_current

            try:
                await asyncio.to_thread(check_current, s.db_url)
            except ConfigError:
                await self.emergency.stop()
                raise
        if self.drill is not None and self.drill.results is not None:
            self._drill_records = await self.drill.results.open()
        if self.site_cache is not None:
            await self.site_cache.start()

        async def on_connected(_client: AmiClient) -> None:
            await self.emergency.on_ami_connected()
            if self.unseen is not None:
                # The resync just told the tracker which calls are live: the records of
                # the others end now (a crash or a cut link left them open).
                try:
                    await self.unseen.close_open()
                except StoreUnavailable as exc:
                    log.warning("open call records not closed at log-in (%s)", exc)

        self.ami.on_connected.append(on_connected)
        if isinstance(self.bus, RedisBus):
            await self.bus.start()  # /healthz describes the link from the start
        await self.outage.start()
        if self.cluster is None:
            await self._take_lead(0)
        if s.role != "console":
            await self.ivr.start(s.agi_host, s.agi_port)
        if self.cluster is not None:
            await self.cluster.start()  # campaigns; `_take_lead` runs once elected
        # X-Forwarded-For is believed from HOTLINE_TRUSTED_PROXIES only (console.middleware).
        self.http = ConsoleServer(self.app, host=s.http_host, port=s.http_port)
        try:
            await self.http.start()
        except ConsoleServerError as exc:
            self.http = None
            raise ConfigError(str(exc)) from exc
        self.http_port = self.http.port
        if self.oncall is not None and not self.oncall.service.has_ack_base_url:
            self.oncall.service.set_ack_base_url(self.console_url)
        log.info("console on http://%s:%s", s.http_host, self.http_port)

    async def _take_lead(self, token: int) -> None:
        """The leader's part: AMI (login resyncs calls and queues), supervision's
        scheduler and wallboard, drills and the health watch. Token 0 = no cluster."""
        s = self.settings
        self._leading = True
        if token:
            log.warning("leader (fencing token %d): connecting AMI", token)
            if self._mode_handover is not None:
                self._mode_handover.arm()
        if self._spooled:
            # Written by the (fenced) tickets stage: only the leader may replay them.
            replayed = self.pipeline.replay(self._spooled)
            self._spooled = []
            log.warning("replaying %d call events spooled before a restart", replayed)
        # Before the resync adopts live calls: the calls the old leader journaled keep
        # their paper numbers, and numbering goes on above them.
        await self.emergency.refresh_journal()
        self.ami.start()
        # Give Asterisk a moment so the first health round and wallboard see real state;
        # if it is down we serve anyway (the IVR and console work; AMI keeps retrying).
        with contextlib.suppress(TimeoutError):
            await self.ami.wait_connected(5)
        if self._supervision_started:  # leading again after a demotion
            await self.supervision.seed_today()
            await self.supervision.publisher.start()
            await self.supervision.scheduler.start()
        elif self.database_up_at_start:
            await self.supervision.start()
            self._supervision_started = True
        else:
            self._leader_tasks.append(
                asyncio.create_task(self._start_supervision_later(), name="supervision-later")
            )
        if self.database_up_at_start:
            # Dispatch notices the last run left unsent go out once, from the leader.
            self._leader_tasks.append(
                asyncio.create_task(self.dispatch.resend_unsent(), name="dispatch-resend")
            )
        if self.drill is not None and s.drill_interval_hours > 0:
            schedule = DrillSchedule(
                self.drill,
                timedelta(hours=s.drill_interval_hours),
                utc_now,
                last_run=DrillSchedule.last_run_in(self._drill_records),
            )
            self._leader_tasks.append(asyncio.create_task(schedule.run_forever(), name="drills"))
        self._leader_tasks.append(
            asyncio.create_task(
                self.emergency.run_health_watch(s.health_interval), name="health-watch"
            )
        )
        self._leader_tasks.append(
            asyncio.create_task(
                self.emergency.run_reconciliation(s.backfill_reconcile_interval),
                name="backfill-reconciliation",
            )
        )
        if s.journal_redis_url:
            self._leader_tasks.append(
                asyncio.create_task(
                    keep_in_step(self.emergency.refresh_journal, s.health_interval),
                    name="journal-replication",
                )
            )
        if self.oncall is not None:
            await self.oncall.service.start()
        if self.unseen is not None and s.cdr_sweep_interval > 0:
            self._leader_tasks.append(
                asyncio.create_task(self.unseen.run_forever(s.cdr_sweep_interval), name="cdr-sweep")
            )
        if self.recording_purge is not None:
            self.recording_purge.start()

    async def _step_down(self, reason: str) -> None:
        """Stop the leader's part; the IVR and the console keep serving."""
        self._leading = False
        tasks, self._leader_tasks = self._leader_tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._supervision_started:
            await self.supervision.scheduler.stop()
            await self.supervision.publisher.stop()
        if self.recording_purge is not None:
            await self.recording_purge.stop()
        if self.oncall is not None:
            await self.oncall.service.stop()
        await self.ami.stop()
        log.warning("no longer leading (%s): AMI and schedulers stopped", reason)

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.stop()  # open requests finish, websockets close
        if self.cluster is not None:
            await self.cluster.stop()  # steps down and releases the lease at once
        elif self._leading:
            await self._step_down("shutdown")
        await self.ivr.stop()
        await self.ami.stop()
        await self.pipeline.stop()
        if self.site_cache is not None:
            await self.site_cache.stop()
        await self.emergency.stop()
        await self.outage.stop()
        if self.drill is not None and self.drill.results is not None:
            await self.drill.results.close()
        if self._supervision_started:
            await self.supervision.stop()
        await self.dispatch.stop()
        if self.oncall is not None:
            await self.oncall.close()
        await self.console_state.close()
        await self.bus.close()
        await self.db.dispose()

    async def _start_supervision_later(self) -> None:
        """Supervision reads the database at start: begin once it answers again."""
        s = self.settings
        while True:
            try:
                async with asyncio.timeout(s.health_timeout):
                    await self.db.ping()
                break
            except Exception as exc:
                log.debug("database still unreachable (%r); supervision waits", exc)
            await asyncio.sleep(s.health_interval)
        await self.supervision.start()
        self._supervision_started = True
        log.info("database reachable again: supervision started")

    @property
    def console_url(self) -> str:
        return f"http://{self.settings.http_host}:{self.http_port or self.settings.http_port}"


def _console_app(
    settings: Settings,
    db: Database,
    ami: AmiClient,
    bus: MessageBus,
    tickets: TicketRepository,
    calls: CallRepository,
    sites: SiteRepository,
    users: UserRepository,
    emergency: EmergencyService,
    heartbeats: ConsoleHeartbeats,
    console_state: ConsoleState,
    health: SystemHealth,
    supervision: SupervisionService,
    outage: OutageAnnouncements,
    dispatch: DispatchService,
) -> FastAPI:
    """The web console with the supervision and outage routes."""
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
    app.include_router(
        dispatch_router(
            dispatch,
            require_agent=require(UserRole.AGENT),
            current_user=current_username,
            timezone=settings.timezone,
        )
    )
    app.include_router(recordings_router(RecordingArchive(settings.recordings_dir)))
    return app
