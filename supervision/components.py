"""Supervision as components: `build(settings, deps)` makes the service (SLA clocks,
escalation, notices, wallboard, report) and the leader-only component that runs its
scheduler and wallboard publisher.

The service reads the database at start (today's counts): after a restart in the middle
of a database outage it waits in the background until the database answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from bus import MessageBus
from calls.control import CallControl
from routing.domain.levels import SlaPolicy
from supervision.config import SupervisionConfig
from supervision.ports import CallHistory, MonthlyFacts, OpenTicketSource, SupervisionStore
from supervision.service import SupervisionService

log = logging.getLogger(__name__)


class SupervisionSettings(Protocol):
    """The settings supervision reads (`hotline.settings.Settings` has them)."""

    @property
    def supervision(self) -> Mapping[str, Any]: ...
    @property
    def main_queue(self) -> str: ...
    @property
    def emergency_queue(self) -> str: ...
    @property
    def service_level_target_seconds(self) -> int: ...
    @property
    def health_interval(self) -> float: ...
    @property
    def health_timeout(self) -> float: ...
    @property
    def locale(self) -> str: ...


class SupervisionStores(SupervisionStore, OpenTicketSource, CallHistory, Protocol):
    """The database edge implements supervision's three ports in one repository."""


@dataclass(frozen=True)
class SupervisionDeps:
    """`ping` proves the database answers; `database_up_at_start` says whether it did
    when the process started; `emergency_status` is the mode the wallboard starts with."""

    stores: SupervisionStores
    reports: MonthlyFacts
    bus: MessageBus
    sla: SlaPolicy
    call_control: CallControl
    ping: Callable[[], Awaitable[None]]
    database_up_at_start: Callable[[], bool]
    emergency_status: Callable[[], Any] | None = None


class SupervisionRun:
    """Leader only: the SLA scheduler and the wallboard publisher."""

    name = "supervision"
    leader_only = True

    def __init__(
        self, service: SupervisionService, deps: SupervisionDeps, settings: SupervisionSettings
    ) -> None:
        self.service = service
        self.deps = deps
        self.settings = settings
        self.started = False
        self._later: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.started:  # leading again after a demotion
            await self.service.seed_today()
            await self.service.publisher.start()
            await self.service.scheduler.start()
        elif self.deps.database_up_at_start():
            await self.service.start()
            self.started = True
        else:
            self._later = asyncio.get_running_loop().create_task(
                self._start_when_database_answers(), name="supervision-later"
            )

    async def stop(self) -> None:
        later, self._later = self._later, None
        if later is not None:
            later.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await later
        if self.started:
            await self.service.scheduler.stop()
            await self.service.publisher.stop()

    async def close(self) -> None:
        """At the process's end: the notice channels' HTTP client too."""
        if self.started:
            await self.service.stop()

    async def _start_when_database_answers(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.settings.health_timeout):
                    await self.deps.ping()
                break
            except Exception as exc:
                log.debug("database still unreachable (%r); supervision waits", exc)
            await asyncio.sleep(self.settings.health_interval)
        await self.service.start()
        self.started = True
        log.info("database reachable again: supervision started")


@dataclass(frozen=True)
class Supervision:
    service: SupervisionService
    run: SupervisionRun


def build(settings: SupervisionSettings, deps: SupervisionDeps) -> Supervision:
    """Raises ValueError for a bad `[supervision]` table."""
    queues: Sequence[str] = [settings.main_queue, settings.emergency_queue]
    service = SupervisionService(
        store=deps.stores,
        tickets=deps.stores,
        calls=deps.stores,
        reports=deps.reports,
        bus=deps.bus,
        config=SupervisionConfig.from_mapping(dict(settings.supervision)),
        sla=deps.sla,
        call_control=deps.call_control,
        queues=queues,
        service_level_target=timedelta(seconds=settings.service_level_target_seconds),
        emergency_status=deps.emergency_status,
        # Notices, acknowledgement pages and the report speak HOTLINE_LOCALE.
        language=settings.locale,
    )
    return Supervision(service, SupervisionRun(service, deps, settings))
