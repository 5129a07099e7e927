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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI

from ami.client import AmiClient
from ami.component import AmiLink
from ami.tracker import CallTracker
from bus import MessageBus
from bus.redis import RedisBus
from cluster import ClusterController, SoleLeader
from console.server import ConsoleServer, ConsoleServerError
from console.shared_state import ConsoleState
from fallback import components as emergency_parts
from fallback.components import JournalRefresh
from fallback.drill import EmergencyDrill
from fallback.service import EmergencyService
from hotline.assembly import (
    Edges,
    RecordingPurgeRun,
    SystemHealth,
    ami_login_hooks,
    build_edges,
    call_path_on,
    console_on,
    console_state_for,
    database_check,
    dispatch_on,
    emergency_on,
    ivr_on,
    recording_purge_on,
    supervision_on,
)
from hotline.oncall_wiring import OnCallParts, oncall_on
from hotline.schema import DatabaseAtStart
from hotline.settings import ConfigError, Settings
from ivr import components as ivr_parts
from ivr.mode import IvrMode
from ivr.outage import OutageAnnouncements
from ivr.server import IvrServer
from lifecycle import Component, LeaderLoop, Lifecycle, Resource
from pipeline import CallPipeline
from pipeline.components import PipelineRun, SpoolReplay
from routing import components as routing_parts
from routing.fanout import ConsoleFanout
from routing.tickets import CallTicketService
from routing.unseen import UnseenCallSweep
from storage.calls import CallRepository
from storage.database import Database
from storage.recordings import RecordingPurge
from storage.site_cache import SiteCacheKeeper
from storage.sites import SiteRepository
from storage.tickets import TicketRepository
from storage.users import UserRepository
from supervision import components as supervision_parts
from supervision.dispatch.service import DispatchService
from supervision.service import SupervisionService

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
    dispatch: DispatchService
    # Site profiles in memory for the IVR and the tickets (storage.site_cache).
    site_cache: SiteCacheKeeper
    # Daily retention purge of call recordings (leader only).
    recording_purge: RecordingPurge
    # On-call paging (leader only) and the repeat-call store.
    oncall: OnCallParts
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
        edges = build_edges(settings, bus)
        ami, db = edges.ami, edges.db
        oncall = oncall_on(settings, edges, lambda: _address(settings, console.http))
        routing = routing_parts.build(settings, oncall.routing_deps(edges.routing_deps()))
        console_state = console_state_for(settings, db)
        emergency = emergency_on(
            settings, edges, paper_notice=routing.paper_notice, console_state=console_state
        )
        database = database_check(settings, edges, emergency.service, check_schema=check_schema)
        supervision = supervision_on(
            settings, edges, database=database, emergency=emergency.service
        )
        dispatch = dispatch_on(settings, edges, supervision.service)
        pipeline, sweep = call_path_on(
            settings, edges, routing=routing, emergency=emergency, supervision=supervision
        )
        ivr = ivr_on(settings, edges, routing=routing, emergency=emergency.service)
        console = console_on(
            settings, edges, pipeline=pipeline, emergency=emergency,
            supervision=supervision.service, ivr=ivr, console_state=console_state,
            dispatch=dispatch, routers=oncall.console_routers(settings, routing.call_tickets),
        )  # fmt: skip
        site_cache, purge = SiteCacheKeeper(edges.sites), recording_purge_on(settings, edges)
        handover = ami_login_hooks(edges, emergency.service, sweep.sweep)
        lifecycle = _lifecycle(
            settings,
            edges,
            emergency=emergency,
            supervision=supervision,
            ivr=ivr,
            run=PipelineRun(pipeline),
            database=database,
            console_state=console_state,
            http=console.http,
            leader_first=[handover] if handover is not None else [],
            sweep=sweep,
            dispatch=dispatch,
            site_cache=Resource("site-cache", open=site_cache.start, close=site_cache.stop),
            purge=RecordingPurgeRun(purge),
            oncall=oncall,
        )
        return cls(
            settings=settings,
            db=db,
            bus=edges.bus,
            tracker=edges.tracker,
            ami=ami,
            pipeline=pipeline,
            tickets=edges.tickets,
            calls=edges.calls,
            sites=edges.sites,
            users=edges.users,
            call_tickets=routing.call_tickets,
            fanout=routing.fanout,
            emergency=emergency.service,
            drill=emergency.drill,
            ivr=ivr.server,
            ivr_mode=ivr.mode,
            supervision=supervision.service,
            outage=ivr.outage,
            dispatch=dispatch,
            site_cache=site_cache,
            recording_purge=purge,
            oncall=oncall,
            app=console.app,
            console_state=console_state,
            health=console.health,
            http=console.http,
            unseen=sweep.sweep,
            database=database,
            leadership=edges.leadership,
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
        return _address(self.settings, self.http)


def _address(settings: Settings, http: ConsoleServer) -> str:
    """The console's address: its bound port once it listens, the configured one before."""
    try:
        port = http.port
    except ConsoleServerError:
        port = settings.http_port
    return f"http://{settings.http_host}:{port}"


def _opening(bus: MessageBus) -> Callable[[], Awaitable[None]] | None:
    """Redis is connected at start, so that `/healthz` describes the link from then on."""
    return bus.start if isinstance(bus, RedisBus) else None


def _lifecycle(
    settings: Settings,
    edges: Edges,
    *,
    emergency: emergency_parts.Emergency,
    supervision: supervision_parts.Supervision,
    ivr: ivr_parts.Ivr,
    run: PipelineRun,
    database: DatabaseAtStart,
    console_state: ConsoleState,
    http: ConsoleServer,
    leader_first: list[Component],
    sweep: routing_parts.CdrSweep,
    dispatch: DispatchService,
    site_cache: Resource,
    purge: RecordingPurgeRun,
    oncall: OnCallParts,
) -> Lifecycle:
    """The components in start order; everything stops in reverse (the console first, the
    database last). Leadership tells the lifecycle when to start the leader-only ones."""
    lifecycle = Lifecycle(_components_in_order(
        settings, edges, emergency=emergency, supervision=supervision, ivr=ivr, run=run,
        database=database, console_state=console_state, http=http,
        leader_first=leader_first, sweep=sweep, dispatch=dispatch, site_cache=site_cache,
        purge=purge, oncall=oncall,
    ))  # fmt: skip
    edges.leadership.subscribe(lifecycle)
    return lifecycle


def _components_in_order(
    settings: Settings,
    edges: Edges,
    *,
    emergency: emergency_parts.Emergency,
    supervision: supervision_parts.Supervision,
    ivr: ivr_parts.Ivr,
    run: PipelineRun,
    database: DatabaseAtStart,
    console_state: ConsoleState,
    http: ConsoleServer,
    leader_first: list[Component],
    sweep: routing_parts.CdrSweep,
    dispatch: DispatchService,
    site_cache: Resource,
    purge: RecordingPurgeRun,
    oncall: OnCallParts,
) -> list[Component]:
    paging_client, paging = oncall.components()
    return [
        Resource("database", close=edges.db.dispose),
        Resource("bus", open=_opening(edges.bus), close=edges.bus.close),
        Resource("console-state", close=console_state.close),
        Resource("supervision", close=supervision.run.close),
        Resource("dispatch", close=dispatch.stop),
        paging_client,
        emergency.journal,  # says whether we restart in the middle of an outage
        run,
        database,
        site_cache,  # site profiles in memory for the IVR and the tickets
        ivr.outage_component(),
        *([ivr.listener] if settings.role != "console" else []),
        edges.leadership,
        http,
        # Leader only, started at each election in this order:
        *leader_first,
        SpoolReplay(run),
        JournalRefresh(emergency.service),  # before the resync adopts live calls
        AmiLink(edges.ami),
        supervision.run,
        *emergency.watches(),
        *([sweep.loop] if sweep.loop is not None else []),
        # Dispatch notices the last run left unsent go out once, from the leader.
        LeaderLoop("dispatch-resend", functools.partial(_resend_unsent, dispatch, database)),
        purge,
        paging,  # on-call pages for level-1 tickets
    ]


async def _resend_unsent(dispatch: DispatchService, database: DatabaseAtStart) -> None:
    if database.up_at_start:
        await dispatch.resend_unsent()
