"""Engineer dispatch as components: `build(settings, deps)` makes the dispatch service
with its check-in signing key; its notice channels' HTTP client is closed at stop
(everywhere), and the leader sends once, at each election, the notices the last run left
unsent. `Dispatch.routes` are its console routes (agents dispatch; engineers check in).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from fastapi import APIRouter

from lifecycle import Resource, TaskLoop
from routing.domain.levels import SlaPolicy
from routing.ports import SiteDirectory, TicketStore
from supervision.config import SupervisionConfig
from supervision.dispatch.ports import DispatchStore
from supervision.dispatch.service import DispatchService
from supervision.dispatch.web import router
from translations import check_language

log = logging.getLogger(__name__)


class Secret(Protocol):
    def get_secret_value(self) -> str: ...


class DispatchSettings(Protocol):
    """The settings dispatch reads (`hotline.settings.Settings` has them)."""

    @property
    def checkin_secret(self) -> Secret | None: ...
    @property
    def session_secret(self) -> Secret | None: ...
    @property
    def checkin_link_hours(self) -> float: ...
    @property
    def locale(self) -> str: ...
    @property
    def timezone(self) -> str: ...


class DispatchAccess(Protocol):
    """The console's access checks the dispatch routes use."""

    @property
    def require_agent(self) -> Callable[..., Any]: ...
    @property
    def current_user(self) -> Callable[..., Awaitable[str]]: ...


class DispatchStores(Protocol):
    """What dispatch keeps and reads in the database (`storage.components.Storage` has
    it): its own store, the tickets, the site directory and the SLA policy."""

    def dispatch(self) -> DispatchStore: ...
    @property
    def tickets(self) -> TicketStore: ...
    @property
    def sites(self) -> SiteDirectory: ...
    @property
    def policy(self) -> SlaPolicy: ...


@dataclass(frozen=True)
class DispatchDeps:
    """`config`: the `[supervision]` table (mail server, public address, recipients);
    `database_up_at_start`: unsent notices are resent only when the database answered."""

    stores: DispatchStores
    config: SupervisionConfig
    database_up_at_start: Callable[[], bool]


@dataclass(frozen=True)
class Dispatch:
    service: DispatchService
    settings: DispatchSettings
    deps: DispatchDeps

    def components(self) -> tuple[Resource, TaskLoop]:
        return (
            Resource("dispatch", close=self.service.stop),
            TaskLoop("dispatch-resend", self._resend_unsent),
        )

    def routes(self, access: DispatchAccess) -> APIRouter:
        return router(
            self.service,
            require_agent=access.require_agent,
            current_user=access.current_user,
            timezone=self.settings.timezone,
        )

    async def _resend_unsent(self) -> None:
        if self.deps.database_up_at_start():
            await self.service.resend_unsent()


def build(settings: DispatchSettings, deps: DispatchDeps) -> Dispatch:
    """Check-in links are signed with HOTLINE_CHECKIN_SECRET, else the session secret,
    else a key that lasts until the next restart."""
    secret = settings.checkin_secret or settings.session_secret
    if secret is not None:
        # A key of its own, derived: a check-in token never doubles as a session.
        key = hashlib.sha256(b"hotline check-in\n" + secret.get_secret_value().encode()).digest()
    else:
        log.warning(
            "neither HOTLINE_CHECKIN_SECRET nor HOTLINE_SESSION_SECRET is set: "
            "engineers' check-in links stop working at the next restart"
        )
        key = secrets.token_bytes(32)
    config = deps.config
    service = DispatchService(
        store=deps.stores.dispatch(),
        tickets=deps.stores.tickets,
        sites=deps.stores.sites,
        policy=config.policy(deps.stores.policy),
        key=key,
        smtp=config.smtp,
        link_lifetime=timedelta(hours=settings.checkin_link_hours),
        public_base_url=config.public_base_url,
        language=check_language(settings.locale),
        recipients=config.recipients,
    )
    return Dispatch(service, settings, deps)
