"""Composition root: each package builds its parts (`<package>.components.build(settings,
deps)`); this module hands each the ports it needs, in dependency order, and the
components, in start order, to a `lifecycle.Lifecycle`.

Leadership (`ClusterController` when `HOTLINE_REDIS_URL` is set, `SoleLeader` otherwise)
tells the lifecycle when this process leads: the leader-only components start then and
stop when it is demoted. Nothing is set on a part after it is built; the PBX link, the
tracker and leadership only take subscribers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ami import components as ami_parts
from bus import components as bus_parts
from cluster import ModeHandover, default_node_name
from cluster import components as leadership_parts
from console import components as console_parts
from console.server import ConsoleServerError
from console.shared_state import ConsoleState
from fallback import components as emergency_parts
from hotline.settings import ConfigError, Settings
from ivr import components as ivr_parts
from lifecycle import Component, Lifecycle, SettledHeap, ThreadHandoff
from pipeline import components as pipeline_parts
from routing import components as routing_parts
from storage import components as storage_parts
from storage.readiness import DatabaseAtStart, DatabaseNotReady
from supervision import components as supervision_parts
from supervision.dispatch import components as dispatch_parts
from supervision.oncall import components as oncall_parts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Edges:
    """The bus, the database, leadership and the PBX link: what the other parts are
    built on."""

    bus: bus_parts.BusLink
    store: storage_parts.Storage
    leadership: leadership_parts.Leadership
    ami: ami_parts.Ami
    console_state: ConsoleState

    @classmethod
    def build(cls, settings: Settings) -> Edges:
        bus = bus_parts.build(settings)
        store = storage_parts.build(
            settings, storage_parts.StorageDeps(settings.sla_policy(), bus.bus)
        )
        leadership = leadership_parts.build(settings, store.fence())
        try:
            ami = ami_parts.build(settings, standby=leadership.standby)
        except ami_parts.AmiSettingsMissing as exc:
            raise ConfigError(str(exc)) from exc
        node = settings.node_name or default_node_name()
        return cls(
            bus,
            store,
            leadership,
            ami,
            console_parts.shared_state(settings, store.revocations(), node=node),
        )


@dataclass(frozen=True)
class CallPath:
    """Everything between the PBX and the consoles."""

    oncall: oncall_parts.OnCall
    routing: routing_parts.Routing
    emergency: emergency_parts.Emergency
    database: DatabaseAtStart
    supervision: supervision_parts.Supervision
    dispatch: dispatch_parts.Dispatch
    pipeline: pipeline_parts.Pipeline
    sweep: routing_parts.CdrSweep
    ivr: ivr_parts.Ivr
    # With a cluster: after a takeover the PBX's routing mode wins (the first log-in hook).
    handovers: list[ModeHandover]

    @classmethod
    def build(
        cls, settings: Settings, e: Edges, console_url: Callable[[], str], check_schema: bool
    ) -> CallPath:
        store, bus, ami, pbx = e.store, e.bus.bus, e.ami, e.ami.client
        config = settings.supervision_config()  # the [supervision] table, checked once
        oncall = oncall_parts.build(
            settings, oncall_parts.OnCallDeps(store.oncall(), config, console_url, bus)
        )
        calls = store.routing_deps(bus, pbx, pager=oncall.service)
        routing = routing_parts.build(settings, calls)
        emergency_deps = emergency_parts.EmergencyDeps(
            pbx,
            store.probe_table(),
            store.backfill_sink(),
            bus,
            routing.paper_notice,
            store.calls,
            e.console_state.heartbeats_by_source,
        )
        emergency = emergency_parts.build(settings, emergency_deps)
        ami.hear(emergency.drill.on_ami_message, emergency.drill.HEARS)
        database = store.readiness(emergency_active=emergency.active, check_schema=check_schema)
        supervision = supervision_parts.build(
            settings,
            supervision_parts.SupervisionDeps(
                store, bus, pbx, config, lambda: database.up_at_start, emergency.service.status
            ),
        )
        dispatch = dispatch_parts.build(
            settings, dispatch_parts.DispatchDeps(store, config, lambda: database.up_at_start)
        )
        # The one path of call events: the tracker and the CDR sweep feed the pipeline,
        # nothing else subscribes. The leader-only stages are fenced.
        stages = [*routing.stages(), *emergency.stages(), *supervision.stages()]
        pipeline = pipeline_parts.build(
            settings, pipeline_parts.PipelineDeps(stages, ami.live_calls, e.leadership.fenced)
        )
        ami.tracker.subscribe(pipeline.pipeline.submit)
        sweep = routing_parts.cdr_sweep(settings, calls, store.cdr(), pipeline.pipeline, ami)
        ivr = ivr_parts.build(
            settings,
            ivr_parts.IvrDeps(store, routing.call_tickets, routing.advisor, bus, emergency.active),
        )
        handovers = e.leadership.handovers(pbx, emergency.service)
        ami.at_login(*handovers, emergency.after_login, sweep.after_login)
        parts = (oncall, routing, emergency, database, supervision, dispatch, pipeline, sweep)
        return cls(*parts, ivr, handovers)


def console_on(settings: Settings, e: Edges, p: CallPath) -> console_parts.Console:
    """The console; `/healthz` asks each watched part in turn, and supervision, dispatch
    and on-call paging mount their routes."""
    ports = console_parts.ConsolePorts(
        stores=e.store,
        bus=e.bus.bus,
        call_control=e.ami.client,
        emergency=p.emergency.service,
        heartbeats=p.emergency.heartbeats,
        state=e.console_state,
        outage=p.ivr.outage,
        splitter=p.routing.call_tickets,
        ticket_clocks=p.dispatch.service.ticket_clocks,
        watched=[e.ami, e.store, e.bus, e.leadership, p.ivr, p.emergency, p.pipeline],
        routes=[p.supervision.routes, p.dispatch.routes, p.oncall.routes],
    )
    return console_parts.build(settings, ports)


def components_in_order(
    s: Settings, e: Edges, p: CallPath, console: console_parts.Console
) -> list[Component]:
    """Everywhere ones start in this order and stop in reverse (the console first, the
    database last); leader-only ones start in this order at each election."""
    pool, site_cache, purge = e.store.components()
    supervision_client, supervision = p.supervision.components()
    dispatch_client, dispatch_resend = p.dispatch.components()
    oncall_client, paging = p.oncall.components()
    console_state, http = console.components()
    return [
        ThreadHandoff(),  # first: the database's threads need it from the first statement
        pool,
        e.bus,
        console_state,
        supervision_client,
        dispatch_client,
        oncall_client,
        p.emergency.journal,  # says whether we restart in the middle of an outage
        p.pipeline.run,
        p.database,
        site_cache,
        *p.ivr.components(),
        e.leadership,
        http,
        *([SettledHeap([e.store.site_cache.warm])] if s.gc_freeze else []),
        # Leader only:
        *p.handovers,
        p.pipeline.replay,
        p.emergency.refresh,  # before AMI adopts live calls
        e.ami.link,
        supervision,
        *p.emergency.watches(),
        *p.sweep.components(),
        dispatch_resend,  # the notices the last run left unsent, once per election
        purge,
        paging,
    ]


@dataclass(frozen=True)
class HotlineService:
    """The built controller: its lifecycle, and the parts the demo and tests reach into."""

    settings: Settings
    edges: Edges
    path: CallPath
    console: console_parts.Console
    lifecycle: Lifecycle

    @classmethod
    def build(cls, settings: Settings, *, check_schema: bool = False) -> HotlineService:
        """`check_schema`: refuse to start on a database behind the newest migration."""
        edges = Edges.build(settings)
        path = CallPath.build(settings, edges, lambda: console.url(settings), check_schema)
        console = console_on(settings, edges, path)
        lifecycle = Lifecycle(components_in_order(settings, edges, path, console))
        edges.leadership.subscribe(lifecycle)
        return cls(settings, edges, path, console, lifecycle)

    async def start(self) -> None:
        try:
            await self.lifecycle.start()
        except (ConsoleServerError, DatabaseNotReady) as exc:
            raise ConfigError(str(exc)) from exc
        log.info("console on %s", self.console_url)

    async def stop(self) -> None:
        await self.lifecycle.stop()

    @property
    def console_url(self) -> str:
        return self.console.url(self.settings)
