"""Routing as components: `build(settings, deps)` makes the call path's services (tickets
and call records, screen-pop fan-out, the paper-number notice, the IVR's routing advice)
and their pipeline stages; `cdr_sweep` makes the leader-only sweep of the PBX's CDR for
calls no controller saw, which feeds the pipeline like the live path.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta, tzinfo
from typing import Protocol

from bus import MessageBus
from calls.control import CallControl
from lifecycle import TaskLoop
from pipeline import CallPipeline, Origin, Stage
from routing.advice import IvrRoutingAdvisor
from routing.agent_names import AgentNames
from routing.domain.levels import SlaPolicy
from routing.errors import StoreUnavailable
from routing.fanout import ConsoleFanout
from routing.paper_notice import PaperNumberToAgent
from routing.ports import (
    CallEventStore,
    CallStore,
    CdrSource,
    LevelOnePager,
    RepeatCallStore,
    SiteDirectory,
    TicketStore,
    UserStore,
)
from routing.records import SiteRecord
from routing.router import CallRouter
from routing.stages import TICKETS_STAGE, screen_pop_stage, tickets_stage
from routing.tickets import CallTicketService
from routing.unseen import UnseenCallSweep

log = logging.getLogger(__name__)


class RoutingSettings(Protocol):
    """The settings routing reads (`hotline.settings.Settings` has them)."""

    @property
    def main_queue(self) -> str: ...
    @property
    def preferred_ring_seconds(self) -> int: ...
    @property
    def cdr_sweep_interval(self) -> float: ...
    @property
    def repeat_window_minutes(self) -> int: ...
    def tz(self) -> tzinfo: ...


@dataclass(frozen=True)
class RoutingDeps:
    """`writes` takes each call event's ticket change and call record in one
    transaction; `cached_site` gives a site's profile from memory (no database read)."""

    tickets: TicketStore
    calls: CallStore
    sites: SiteDirectory
    users: UserStore
    bus: MessageBus
    policy: SlaPolicy
    call_control: CallControl
    writes: CallEventStore
    cached_site: Callable[[str], SiteRecord | None] | None = None
    # Repeat calls join their site's open ticket (within HOTLINE_REPEAT_WINDOW_MINUTES);
    # level 1 pages the engineer on call.
    repeats: RepeatCallStore | None = None
    pager: LevelOnePager | None = None


@dataclass(frozen=True)
class Routing:
    call_tickets: CallTicketService
    fanout: ConsoleFanout
    paper_notice: PaperNumberToAgent
    advisor: IvrRoutingAdvisor

    def stages(self) -> list[Stage]:
        """Screen-pop (10) and tickets with call records (20), both leader only."""
        return [screen_pop_stage(self.fanout), tickets_stage(self.call_tickets)]


def build(settings: RoutingSettings, deps: RoutingDeps) -> Routing:
    agent_names = AgentNames(deps.users)
    call_tickets = CallTicketService(
        tickets=deps.tickets,
        calls=deps.calls,
        writes=deps.writes,
        sites=deps.sites,
        users=deps.users,
        policy=deps.policy,
        repeats=deps.repeats,
        repeat_window=timedelta(minutes=settings.repeat_window_minutes),
        pager=deps.pager,
        agent_names=agent_names,
    )
    fanout = ConsoleFanout(
        users=deps.users,
        tickets=deps.tickets,
        sites=deps.sites,
        bus=deps.bus,
        open_ticket=call_tickets.open_ticket,
        known_ticket=call_tickets.known_ticket,
        cached_site=deps.cached_site,
        repeat_of=call_tickets.repeat_of,
        ticket_of=call_tickets.ticket_of,
        agent_names=agent_names,
    )
    router = CallRouter(
        deps.sites,
        deps.policy,
        main_queue=settings.main_queue,
        preferred_ring_seconds=settings.preferred_ring_seconds,
        tz=settings.tz(),
    )
    return Routing(
        call_tickets=call_tickets,
        fanout=fanout,
        paper_notice=PaperNumberToAgent(fanout, deps.bus),
        advisor=IvrRoutingAdvisor(router, deps.call_control),
    )


@dataclass(frozen=True)
class CdrSweep:
    sweep: UnseenCallSweep
    # None when HOTLINE_CDR_SWEEP_INTERVAL is 0 (no periodic sweep).
    loop: TaskLoop | None

    def components(self) -> list[TaskLoop]:
        return [] if self.loop is None else [self.loop]

    async def after_login(self, _pbx: object) -> None:
        """A PBX log-in hook: the resync just told the tracker which calls are live, so
        the records of the others end now (a crash or a cut link left them open)."""
        try:
            await self.sweep.close_open()
        except StoreUnavailable as exc:
            log.warning("open call records not closed at log-in (%s)", exc)


class PbxPicture(Protocol):
    """The live calls as the PBX link sees them (`ami.components.Ami`)."""

    def tracked_calls(self) -> Collection[str]:
        """The calls the tracker follows now."""
        ...

    def synced(self) -> bool:
        """True while that picture is current (logged in, resynced)."""
        ...


def cdr_sweep(
    settings: RoutingSettings,
    deps: RoutingDeps,
    cdr: CdrSource,
    pipeline: CallPipeline,
    pbx: PbxPicture,
) -> CdrSweep:
    """The sweep submits to `pipeline` (origin `cdr`); the calls `pbx` follows, with those
    whose ticket events are still on their way, are live."""

    def live_calls() -> Collection[str]:
        return set(pbx.tracked_calls()) | pipeline.pending_call_ids(TICKETS_STAGE)

    sweep = UnseenCallSweep(
        cdr,
        deps.sites,
        functools.partial(pipeline.submit, origin=Origin.CDR),
        live_calls=live_calls,
        calls=deps.calls,
        pbx_synced=pbx.synced,
    )
    interval = settings.cdr_sweep_interval
    loop = TaskLoop("cdr-sweep", lambda: sweep.run_forever(interval)) if interval > 0 else None
    return CdrSweep(sweep, loop)
