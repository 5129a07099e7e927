"""Supervision as components: `build(settings, deps)` makes the service (SLA clocks,
escalation, notices, wallboard, report), the leader-only component that runs its
scheduler and wallboard publisher, and its routes on the console (`Supervision.routes`,
with the console's access checks, `WebAccess`). Engineer dispatch and on-call paging
have their own `components` modules (`supervision.dispatch`, `supervision.oncall`).

The service reads the database at start (today's counts): after a restart in the middle
of a database outage it waits in the background until the database answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from fastapi import APIRouter, WebSocket

from bus import MessageBus
from calls.control import CallControl
from lifecycle import Resource
from pipeline import Stage
from routing.domain.levels import SlaPolicy
from supervision.config import SupervisionConfig
from supervision.ports import CallHistory, MonthlyFacts, OpenTicketSource, SupervisionStore
from supervision.service import SupervisionService
from supervision.wallboard import wallboard_stage

log = logging.getLogger(__name__)


class SupervisionSettings(Protocol):
    """The settings supervision reads (`hotline.settings.Settings` has them)."""

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


class WebAccess(Protocol):
    """The console's access checks supervision's routes use (`console.components.ConsoleAccess`
    has them)."""

    @property
    def require_agent(self) -> Callable[..., Any]: ...
    @property
    def require_supervisor(self) -> Callable[..., Any]: ...
    @property
    def authorize_websocket(self) -> Callable[[WebSocket], Awaitable[bool]]: ...
    @property
    def require_wallboard(self) -> Callable[..., Any]: ...
    @property
    def current_user(self) -> Callable[..., Awaitable[str]]: ...
    @property
    def audit(self) -> Callable[..., Awaitable[None]]: ...


class SupervisionStores(SupervisionStore, OpenTicketSource, CallHistory, Protocol):
    """The database edge implements supervision's three ports in one repository."""


class SupervisionDatabase(Protocol):
    """What supervision keeps and reads in the database (`storage.components.Storage` has
    it): its repository, the monthly report's facts, the SLA policy, and `ping`, which
    proves the database answers."""

    def supervision(self) -> SupervisionStores: ...
    def reports(self) -> MonthlyFacts: ...
    @property
    def policy(self) -> SlaPolicy: ...
    async def ping(self) -> None: ...


@dataclass(frozen=True)
class SupervisionDeps:
    """`config`: the `[supervision]` table, checked once by the settings;
    `database_up_at_start` says whether the database answered when the process started;
    `emergency_status` is the mode the wallboard starts with."""

    database: SupervisionDatabase
    bus: MessageBus
    call_control: CallControl
    config: SupervisionConfig
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
                    await self.deps.database.ping()
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

    def stages(self) -> list[Stage]:
        """The wallboard (40): live call counts from the call events."""
        return [wallboard_stage(self.service.publisher)]

    def components(self) -> tuple[Resource, SupervisionRun]:
        """Everywhere, closed at the end: the notice channels' HTTP client; leader only:
        the scheduler and the wallboard publisher."""
        return Resource("supervision", close=self.run.close), self.run

    def routes(self, access: WebAccess) -> APIRouter:
        """The supervisor page's API, the wallboard and its websocket, the report."""
        return self.service.web_router(
            require_supervisor=access.require_supervisor,
            require_agent=access.require_agent,
            authorize_websocket=access.authorize_websocket,
            require_wallboard=access.require_wallboard,
            current_user=access.current_user,
            audit=access.audit,
        )


def build(settings: SupervisionSettings, deps: SupervisionDeps) -> Supervision:
    queues: Sequence[str] = [settings.main_queue, settings.emergency_queue]
    stores = deps.database.supervision()
    service = SupervisionService(
        store=stores,
        tickets=stores,
        calls=stores,
        reports=deps.database.reports(),
        bus=deps.bus,
        config=deps.config,
        sla=deps.database.policy,
        call_control=deps.call_control,
        queues=queues,
        service_level_target=timedelta(seconds=settings.service_level_target_seconds),
        emergency_status=deps.emergency_status,
        # Notices, acknowledgement pages and the report speak HOTLINE_LOCALE.
        language=settings.locale,
    )
    return Supervision(service, SupervisionRun(service, deps, settings))
