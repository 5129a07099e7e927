"""Routing as components: `build(settings, deps)` makes the call path's services (tickets
and call records, screen-pop fan-out, the paper-number notice, the IVR's routing advice)
and their pipeline stages; `cdr_sweep` makes the leader-only sweep of the PBX's CDR for
calls no controller saw, which feeds the pipeline like the live path.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta, tzinfo
from typing import Protocol

from bus import MessageBus
from calls.control import CallControl
from lifecycle import LeaderLoop
from pipeline import Stage
from routing.advice import IvrRoutingAdvisor
from routing.domain.levels import SlaPolicy
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
from routing.stages import screen_pop_stage, tickets_stage
from routing.tickets import CallTicketService
from routing.unseen import Submit, UnseenCallSweep


class RoutingSettings(Protocol):
    """The settings routing reads (`hotline.settings.Settings` has them)."""

    @property
    def main_queue(self) -> str: ...
    @property
    def preferred_ring_seconds(self) -> int: ...
    @property
    def cdr_sweep_interval(self) -> float: ...
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
    # Repeat calls join their site's open ticket within the window; level 1 pages on call.
    repeats: RepeatCallStore | None = None
    repeat_window: timedelta = timedelta(0)
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
    call_tickets = CallTicketService(
        tickets=deps.tickets,
        calls=deps.calls,
        writes=deps.writes,
        sites=deps.sites,
        users=deps.users,
        policy=deps.policy,
        repeats=deps.repeats,
        repeat_window=deps.repeat_window,
        pager=deps.pager,
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
    loop: LeaderLoop | None


def cdr_sweep(
    settings: RoutingSettings,
    deps: RoutingDeps,
    cdr: CdrSource,
    submit: Submit,
    *,
    live_calls: Callable[[], Collection[str]],
    pbx_synced: Callable[[], bool],
) -> CdrSweep:
    """`submit` feeds the pipeline (origin `cdr`); `live_calls` are the calls the tracker
    follows or whose events are still on their way; `pbx_synced` is true while the
    tracker's picture is current."""
    sweep = UnseenCallSweep(
        cdr, deps.sites, submit, live_calls=live_calls, calls=deps.calls, pbx_synced=pbx_synced
    )
    interval = settings.cdr_sweep_interval
    loop = LeaderLoop("cdr-sweep", lambda: sweep.run_forever(interval)) if interval > 0 else None
    return CdrSweep(sweep, loop)
