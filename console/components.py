"""The web console as components: `build(settings, deps)` makes the FastAPI app (the
console's own pages, API and websockets from `console.app.create_app`, its outage,
recordings and repeat-call routes, then the routes other packages mount with the
console's access checks), the `/healthz` probe that asks each watched part for its
entries (`lifecycle.Watched`), and the one in-loop server, which runs everywhere.

`shared_state(settings, revocations, node=...)` is built before the rest: emergency mode
counts the consoles open in other processes through it. It is closed at stop.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request, WebSocket

from bus import MessageBus
from calls.control import CallControl
from console.api.calls import recordings_router
from console.api.outage import OutageBoard, outage_router
from console.api.tickets import CallSplitter, split_router
from console.app import create_app
from console.deps import ComponentState, ConsoleDeps
from console.i18n import RequestLanguage, language_of
from console.ports import AccessAudit, SessionRevocations
from console.runtime import current_username, record, require, wallboard_session
from console.server import ConsoleServer, ConsoleServerError
from console.shared_state import ConsoleState
from console.websocket_auth import websocket_role_check
from fallback.ports import BackfillDesk, ConsoleHeartbeat, EmergencyControl, HealthBoard
from lifecycle import HealthEntry, Resource, Watched
from routing.ports import CallStore, RecordingFiles, SiteDirectory, TicketStore, UserStore
from routing.records import UserRole


class Secret(Protocol):
    def get_secret_value(self) -> str: ...


class ConsoleSettings(Protocol):
    """The settings the console reads (`hotline.settings.Settings` has them)."""

    @property
    def http_host(self) -> str: ...
    @property
    def http_port(self) -> int: ...
    @property
    def session_secret(self) -> Secret | None: ...
    @property
    def main_queue(self) -> str: ...
    @property
    def trusted_proxies(self) -> Sequence[str]: ...
    @property
    def session_idle_minutes(self) -> float: ...
    @property
    def audit_retention_days(self) -> int: ...
    @property
    def locale(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def redis_url(self) -> str | None: ...
    @property
    def redis_prefix(self) -> str: ...
    def cookies_secure(self) -> bool: ...


@dataclass(frozen=True)
class ConsoleAccess:
    """The console's checks for routes other packages mount on it; each of those packages
    declares, as a Protocol, the ones it uses."""

    require_agent: Callable[..., Any]
    require_supervisor: Callable[..., Any]
    # Supervisors, or the wallboard's own session, on a websocket.
    authorize_websocket: Callable[[WebSocket], Awaitable[bool]]
    require_wallboard: Callable[..., Any]
    current_user: Callable[..., Awaitable[str]]
    # (request, action, actor, **detail) into the access audit trail.
    audit: Callable[..., Awaitable[None]]
    # The request's language: the person's choice, ?lang=, the browser, HOTLINE_LOCALE.
    language_of: Callable[[Request], RequestLanguage]


RouteFactory = Callable[[ConsoleAccess], APIRouter]


class ConsoleStores(Protocol):
    """The stores the console reads and writes (`storage.components.Storage` has them)."""

    @property
    def tickets(self) -> TicketStore: ...
    @property
    def calls(self) -> CallStore: ...
    @property
    def sites(self) -> SiteDirectory: ...
    @property
    def users(self) -> UserStore: ...
    @property
    def recordings(self) -> RecordingFiles: ...
    def audit(self) -> AccessAudit: ...


class EmergencyDesk(EmergencyControl, BackfillDesk, HealthBoard, Protocol):
    """Emergency mode as the console drives it (`fallback.service.EmergencyService`)."""


@dataclass(frozen=True)
class ConsolePorts:
    """What the console is built on. `watched`: the parts whose entries `/healthz` shows,
    in order; `routes`: other packages' routes, mounted after the console's own."""

    stores: ConsoleStores
    bus: MessageBus
    call_control: CallControl
    emergency: EmergencyDesk
    heartbeats: ConsoleHeartbeat
    state: ConsoleState
    outage: OutageBoard
    splitter: CallSplitter
    watched: Sequence[Watched]
    ticket_clocks: Callable[[Sequence[Any]], Awaitable[list[list[dict[str, Any]]]]] | None
    routes: Sequence[RouteFactory] = ()


class SystemHealth:
    """`/healthz`'s probe: each entry asked in order (sync or async)."""

    def __init__(self, entries: Mapping[str, HealthEntry]) -> None:
        self.entries = dict(entries)

    @classmethod
    def of(cls, watched: Sequence[Watched]) -> SystemHealth:
        """The entries of every part, in the parts' order; a name may appear once."""
        entries: dict[str, HealthEntry] = {}
        for part in watched:
            for name, entry in part.health_entries().items():
                if name in entries:
                    raise ValueError(f"two /healthz entries named {name!r}")
                entries[name] = entry
        return cls(entries)

    async def __call__(self) -> Mapping[str, ComponentState]:
        states: dict[str, ComponentState] = {}
        for name, entry in self.entries.items():
            state = entry()
            states[name] = await state if inspect.isawaitable(state) else state
        return states


@dataclass(frozen=True)
class Console:
    app: FastAPI
    http: ConsoleServer
    state: ConsoleState
    health: SystemHealth

    def components(self) -> tuple[Resource, ConsoleServer]:
        """The shared state (opened early, closed after all that use it) and the server."""
        return Resource("console-state", close=self.state.close), self.http

    def url(self, settings: ConsoleSettings) -> str:
        """Its address: the bound port once it listens, the configured one before."""
        try:
            port = self.http.port
        except ConsoleServerError:
            port = settings.http_port
        return f"http://{settings.http_host}:{port}"


def shared_state(
    settings: ConsoleSettings, revocations: SessionRevocations, *, node: str
) -> ConsoleState:
    """Log-outs in the database (`revocations`); log-in throttle and open consoles through
    Redis when `HOTLINE_REDIS_URL` is set, in this process otherwise."""
    return ConsoleState.build(
        revocations, redis_url=settings.redis_url, redis_prefix=settings.redis_prefix, node=node
    )


def access(settings: ConsoleSettings) -> ConsoleAccess:
    def language(request: Request) -> RequestLanguage:
        return language_of(request, settings.locale)

    return ConsoleAccess(
        require_agent=require(UserRole.AGENT),
        require_supervisor=require(UserRole.SUPERVISOR),
        authorize_websocket=websocket_role_check(UserRole.SUPERVISOR, wallboard=True),
        require_wallboard=wallboard_session,
        current_user=current_username,
        audit=record,
        language_of=language,
    )


def build(settings: ConsoleSettings, deps: ConsolePorts) -> Console:
    health = SystemHealth.of(deps.watched)
    app = create_app(_app_deps(settings, deps, health))
    app.include_router(outage_router(deps.outage))
    app.include_router(recordings_router(deps.stores.recordings))
    app.include_router(split_router(deps.splitter))
    checks = access(settings)
    for route in deps.routes:
        app.include_router(route(checks))
    # X-Forwarded-For is believed from HOTLINE_TRUSTED_PROXIES only (console.middleware).
    http = ConsoleServer(app, host=settings.http_host, port=settings.http_port)
    return Console(app, http, deps.state, health)


def _app_deps(settings: ConsoleSettings, deps: ConsolePorts, health: SystemHealth) -> ConsoleDeps:
    secret = settings.session_secret
    idle = settings.session_idle_minutes
    state = deps.state
    return ConsoleDeps(
        tickets=deps.stores.tickets,
        calls=deps.stores.calls,
        sites=deps.stores.sites,
        users=deps.stores.users,
        bus=deps.bus,
        call_control=deps.call_control,
        emergency=deps.emergency,
        backfill=deps.emergency,
        health=health,
        session_secret=secret.get_secret_value() if secret else secrets.token_hex(32),
        main_queue=settings.main_queue,
        board=deps.emergency,
        heartbeat=deps.heartbeats,
        revocations=state.revocations,
        login_attempts=state.login_attempts,
        presence=state.presence,
        trusted_proxies=tuple(settings.trusted_proxies),
        secure_cookies=settings.cookies_secure(),
        session_idle=timedelta(minutes=idle) if idle else None,
        session_activity=state.activity,
        audit=deps.stores.audit(),
        audit_retention=timedelta(days=settings.audit_retention_days),
        locale=settings.locale,
        timezone=settings.timezone,
        ticket_clocks=deps.ticket_clocks,
    )
