"""The database edge as components: `build(settings, deps)` opens the database (separate
read and write pools) and makes the repositories that implement the other packages' ports,
the group-commit writer of call events and the site profiles kept in memory.

Components the composition root runs:

* `pool` (everywhere, first to start and last to stop): the connection pools;
* `readiness(...)` (everywhere): the database answers at start and, for `hotline serve`,
  its schema is at the newest migration (`storage.readiness.DatabaseAtStart`);
* `site_cache` (everywhere): every site's profile in memory, reloaded as imports change it;
* `recording_purge_run` (leader only): the daily retention purge of call recordings.

Its `/healthz` entry is `database`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any, Protocol

from bus import MessageBus
from calls.clock import utc_now
from calls.control import CallControl
from fallback.tickets import TicketStoreBackfillSink
from lifecycle import HealthEntry, Resource
from routing.components import RoutingDeps
from routing.domain.levels import SlaPolicy
from routing.ports import LevelOnePager
from storage.audit import AuditRepository
from storage.call_events import CallEventWriter
from storage.calls import CallRepository
from storage.cdr import CdrRepository
from storage.database import Database
from storage.dispatch import DispatchRepository
from storage.fence import FenceStore
from storage.group_commit import GroupCommit
from storage.health_probe import HealthProbeTable
from storage.oncall import OnCallRepository
from storage.readiness import DatabaseAtStart
from storage.recordings import RecordingArchive, RecordingPurge
from storage.repeat_calls import RepeatCallRepository
from storage.reports import ReportRepository
from storage.revocations import RevocationRepository
from storage.site_cache import SiteCacheKeeper
from storage.sites import SiteRepository
from storage.supervision import SupervisionRepository
from storage.tickets import TicketRepository
from storage.users import UserRepository


class StorageSettings(Protocol):
    """The settings the database edge reads (`hotline.settings.Settings` has them)."""

    @property
    def db_url(self) -> str: ...
    @property
    def db_write_pool(self) -> int: ...
    @property
    def db_read_pool(self) -> int: ...
    @property
    def db_batch_window_ms(self) -> float: ...
    @property
    def recordings_dir(self) -> Path: ...
    @property
    def recording_days(self) -> int: ...
    @property
    def redis_url(self) -> str | None: ...
    @property
    def health_timeout(self) -> float: ...
    @property
    def health_failures(self) -> int: ...
    def tz(self) -> tzinfo: ...


@dataclass(frozen=True)
class StorageDeps:
    """`policy`: the SLA deadlines a ticket gets (recomputed when an agent changes its
    level or site); on `bus`, `hotline sites import` in another process announces its
    changes to the site cache (through Redis)."""

    policy: SlaPolicy
    bus: MessageBus


# Site caches poll for imports this often when no import can tell them (no Redis), and
# this rarely as a safety net when imports announce themselves on the bus.
SITE_POLL_SECONDS = 5.0
SITE_POLL_SECONDS_WITH_BUS = 60.0


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


@dataclass(frozen=True)
class Storage:
    settings: StorageSettings
    policy: SlaPolicy
    db: Database
    tickets: TicketRepository
    calls: CallRepository
    sites: SiteRepository
    users: UserRepository
    # Each call event's ticket change and call record in one transaction (group commit).
    writes: CallEventWriter
    repeats: RepeatCallRepository
    recordings: RecordingArchive
    recording_purge: RecordingPurge
    site_cache: SiteCacheKeeper

    def routing_deps(
        self,
        bus: MessageBus,
        call_control: CallControl,
        *,
        pager: LevelOnePager | None,
    ) -> RoutingDeps:
        """The call path's ports on this database; `pager` pages level-1 tickets."""
        return RoutingDeps(
            self.tickets,
            self.calls,
            self.sites,
            self.users,
            bus,
            self.policy,
            call_control,
            writes=self.writes,
            cached_site=self.sites.cached_profile,
            repeats=self.repeats,
            pager=pager,
        )

    # The adapters of the other packages' ports, on this database.
    def fence(self) -> FenceStore:
        return FenceStore(self.db.engine)

    def probe_table(self) -> HealthProbeTable:
        """The health probe's row, written through the call events' writer (ahead of its
        backlog): a storm's writes never starve the probe into a false failure."""
        return HealthProbeTable(self.db.engine, self.writes.commits)

    def supervision(self) -> SupervisionRepository:
        return SupervisionRepository(self.db)

    def reports(self) -> ReportRepository:
        return ReportRepository(self.db)

    def cdr(self) -> CdrRepository:
        return CdrRepository(self.db)

    def revocations(self) -> RevocationRepository:
        return RevocationRepository(self.db)

    def audit(self) -> AuditRepository:
        return AuditRepository(self.db)

    def oncall(self) -> OnCallRepository:
        return OnCallRepository(self.db)

    def dispatch(self) -> DispatchRepository:
        return DispatchRepository(self.db)

    def backfill_sink(self) -> TicketStoreBackfillSink:
        """Backfilled papers become tickets here; a paper of a repeat call goes into the
        ticket its call joined."""
        return TicketStoreBackfillSink(
            self.tickets, self.policy, utc_now, linked=self.repeats.ticket_number_of_call
        )

    def components(self) -> tuple[Resource, Resource, RecordingPurgeRun]:
        """The pools (everywhere, closed last), the site cache (everywhere) and the
        recordings' purge (leader only)."""
        return (
            Resource("database", close=self.db.dispose),
            Resource("site-cache", open=self.site_cache.start, close=self.site_cache.stop),
            RecordingPurgeRun(self.recording_purge),
        )

    def readiness(
        self, *, emergency_active: Callable[[], bool], check_schema: bool
    ) -> DatabaseAtStart:
        """Up to `health_failures` probes' time for the database to answer at start."""
        s = self.settings
        return DatabaseAtStart(
            self.db,
            s.db_url,
            timeout=s.health_timeout * s.health_failures,
            emergency_active=emergency_active,
            check_schema=check_schema,
        )

    async def ping(self) -> None:
        """Raises unless the database answers."""
        await self.db.ping()

    def health_entries(self) -> Mapping[str, HealthEntry]:
        return {"database": self.health}

    async def health(self) -> Mapping[str, Any]:
        """`/healthz`'s database entry: it answers within the health probe's time."""
        try:
            async with asyncio.timeout(self.settings.health_timeout):
                await self.db.ping()
        except Exception as exc:  # the page shows the reason, never a stack trace
            return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:200]}
        return {"status": "ok"}


def build(settings: StorageSettings, deps: StorageDeps) -> Storage:
    db = Database(
        settings.db_url, write_pool=settings.db_write_pool, read_pool=settings.db_read_pool
    )
    tickets = TicketRepository(db, policy=deps.policy, tz=settings.tz())
    calls = CallRepository(db)
    sites = SiteRepository(db, tz=settings.tz())
    recordings = RecordingArchive(settings.recordings_dir)
    site_poll = SITE_POLL_SECONDS_WITH_BUS if settings.redis_url else SITE_POLL_SECONDS
    return Storage(
        settings=settings,
        policy=deps.policy,
        db=db,
        tickets=tickets,
        calls=calls,
        sites=sites,
        users=UserRepository(db),
        writes=CallEventWriter(
            GroupCommit(db, window=settings.db_batch_window_ms / 1000), tickets, calls
        ),
        repeats=RepeatCallRepository(db),
        recordings=recordings,
        recording_purge=RecordingPurge(calls, recordings, days=settings.recording_days),
        site_cache=SiteCacheKeeper(sites, bus=deps.bus, interval=site_poll),
    )
