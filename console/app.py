"""`create_app`: the console FastAPI application, built from its ports (no globals).

The app is put together from named parts: the per-app runtime (sessions, agent desk,
audit), the security middleware, the error answers (`console.http_errors`) and the
routes (health, JSON API, websocket, pages, static files).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from console import api, healthz, pages, ws
from console.agents import AgentDesk
from console.audit import AuditLog
from console.deps import ConsoleDeps
from console.errors import ConsoleConfigError
from console.http_errors import register_error_answers
from console.middleware import (
    AccessLog,
    ClientAddress,
    HeaderLimits,
    SecurityHeaders,
    parse_networks,
)
from console.runtime import ConsoleRuntime
from console.sessions import SessionManager
from console.socket_recheck import SocketRecheck

STATIC_DIR = Path(__file__).parent / "static"


def create_app(deps: ConsoleDeps) -> FastAPI:
    """The console app over `deps`; `ConsoleConfigError` when they are unusable."""
    sessions = session_manager(deps)
    app = FastAPI(
        title="Hotline console",
        version="1",
        docs_url=None,  # the Swagger/ReDoc pages load scripts from a CDN: not here
        redoc_url=None,
        max_body_size=deps.max_body_bytes,
    )
    add_security_middleware(app, deps)
    app.state.console = ConsoleRuntime(
        deps=deps,
        sessions=sessions,
        rechecks=SocketRecheck(sessions),
        agents=AgentDesk(deps.call_control, deps.main_queue),
        audit=AuditLog(deps.audit, clock=deps.clock, retention=deps.audit_retention),
    )
    register_error_answers(app)
    add_routes(app)
    return app


def session_manager(deps: ConsoleDeps) -> SessionManager:
    return SessionManager(
        deps.session_secret,
        deps.users,
        ttl=deps.session_ttl,
        clock=deps.clock,
        revocations=deps.revocations,
        attempts=deps.login_attempts,
        idle=deps.session_idle,
        activity=deps.session_activity,
    )


def add_security_middleware(app: FastAPI, deps: ConsoleDeps) -> None:
    """Client address (behind trusted proxies), access log, header limits, security
    headers; `ConsoleConfigError` for an unreadable list of trusted proxies."""
    try:
        trusted = parse_networks(deps.trusted_proxies)
    except ValueError as exc:
        raise ConsoleConfigError(f"trusted proxies: {exc}") from exc
    # Last added runs first: the client address is known before anything logs or uses it.
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HeaderLimits)
    app.add_middleware(AccessLog)
    app.add_middleware(ClientAddress, trusted=trusted)


def add_routes(app: FastAPI) -> None:
    """Health, the JSON API, the websocket, the pages and their static files (scripts,
    styles, sounds: all served from this package)."""
    app.include_router(healthz.router)
    app.include_router(api.router)
    app.include_router(ws.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
