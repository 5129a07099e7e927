"""`create_app`: the console FastAPI application, built from its ports (no globals)."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from calls.errors import CallControlError
from console import api, pages, ws
from console.access import router as access_router
from console.agents import AgentDesk
from console.audit import AuditLog
from console.deps import HEALTHY_STATES, ConsoleDeps
from console.errors import (
    BoardMissing,
    ConsoleConfigError,
    ConsoleError,
    LogoutNotRecorded,
    NoPhoneInterface,
    NotAuthenticated,
    NotPermitted,
    NotYourRecording,
    PbxRefused,
    RecordingNotFound,
    TooManyAttempts,
    WrongPassword,
)
from console.i18n import language_of
from console.messages import error_message, invalid_input_message, validation_message
from console.middleware import (
    AccessLog,
    ClientAddress,
    HeaderLimits,
    SecurityHeaders,
    parse_networks,
)
from console.runtime import ConsoleRuntime, bearer_token, client_address
from console.sessions import COOKIE_NAME, SessionManager
from fallback.errors import (
    BackfillConflict,
    BackfillIncomplete,
    FallbackError,
    InvalidRequest,
    JournalError,
    PbxError,
    SwitchError,
    TicketSystemUnavailable,
    UnknownPaperNumber,
)
from routing.errors import (
    InvalidInput,
    RoutingError,
    SiteNotFound,
    StoreUnavailable,
    TicketNotFound,
)

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


def _component_status(state: object) -> str:
    if isinstance(state, str):
        return state
    if isinstance(state, dict) and isinstance(state.get("status"), str):
        return str(state["status"])
    return "unknown"


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _error(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _say(request: Request, exc: Exception) -> str:
    """`exc` told in the request's language."""
    language = language_of(request, request.app.state.console.deps.locale)
    return error_message(exc, language.gettext)


def _status_for(exc: Exception) -> int:
    """HTTP status for errors raised by other packages (their roots know no HTTP)."""
    if isinstance(exc, LookupError):
        return 404
    if isinstance(exc, ValueError):
        return 422
    if isinstance(exc, PermissionError):
        return 403
    if isinstance(exc, ConnectionError | TimeoutError):
        return 503
    return 409


def create_app(deps: ConsoleDeps) -> FastAPI:
    sessions = SessionManager(
        deps.session_secret,
        deps.users,
        ttl=deps.session_ttl,
        clock=deps.clock,
        revocations=deps.revocations,
        attempts=deps.login_attempts,
        idle=deps.session_idle,
        activity=deps.session_activity,
    )
    app = FastAPI(
        title="Hotline console",
        version="1",
        docs_url=None,  # the Swagger/ReDoc pages load scripts from a CDN: not here
        redoc_url=None,
        max_body_size=deps.max_body_bytes,
    )
    try:
        trusted = parse_networks(deps.trusted_proxies)
    except ValueError as exc:
        raise ConsoleConfigError(f"trusted proxies: {exc}") from exc
    app.state.console = ConsoleRuntime(
        deps=deps,
        sessions=sessions,
        agents=AgentDesk(deps.call_control, deps.main_queue),
        audit=AuditLog(deps.audit, clock=deps.clock, retention=deps.audit_retention),
    )
    # Last added runs first: the client address is known before anything logs or uses it.
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HeaderLimits)
    app.add_middleware(AccessLog)
    app.add_middleware(ClientAddress, trusted=trusted)

    @app.exception_handler(NotAuthenticated)
    async def _unauthenticated(request: Request, exc: NotAuthenticated) -> JSONResponse:
        return _error(401, _say(request, exc), {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(NotPermitted)
    async def _forbidden(request: Request, exc: NotPermitted) -> JSONResponse:
        return _error(403, _say(request, exc))

    @app.exception_handler(RecordingNotFound)
    async def _no_recording(request: Request, exc: RecordingNotFound) -> JSONResponse:
        return _error(404, _say(request, exc))

    @app.exception_handler(NotYourRecording)
    async def _not_your_recording(request: Request, exc: NotYourRecording) -> JSONResponse:
        return _error(403, _say(request, exc))

    @app.exception_handler(NoPhoneInterface)
    async def _no_phone(request: Request, exc: NoPhoneInterface) -> JSONResponse:
        return _error(409, _say(request, exc))

    @app.exception_handler(PbxRefused)
    async def _pbx(request: Request, exc: PbxRefused) -> JSONResponse:
        return _error(502, _say(request, exc))

    @app.exception_handler(TooManyAttempts)
    async def _throttled(request: Request, exc: TooManyAttempts) -> JSONResponse:
        return _error(429, _say(request, exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(BoardMissing)
    async def _no_board(request: Request, exc: BoardMissing) -> JSONResponse:
        return _error(503, _say(request, exc))

    @app.exception_handler(LogoutNotRecorded)
    async def _logout_not_recorded(request: Request, exc: LogoutNotRecorded) -> JSONResponse:
        return _error(503, _say(request, exc))

    @app.exception_handler(WrongPassword)
    async def _wrong_password(request: Request, exc: WrongPassword) -> JSONResponse:
        message = _say(request, exc)
        return _error(422, [{"loc": ["body", "current"], "msg": message, "type": "value_error"}])

    @app.exception_handler(ConsoleError)
    async def _console(request: Request, exc: ConsoleError) -> JSONResponse:
        return _error(400, _say(request, exc))

    @app.exception_handler(CallControlError)
    async def _ami(request: Request, exc: CallControlError) -> JSONResponse:
        log.warning("PBX error on %s: %s", request.url.path, exc)
        return _error(502, _say(request, exc))

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> JSONResponse:
        _ = language_of(request, deps.locale).gettext
        message = invalid_input_message(exc, _)
        return _error(422, [{"loc": ["body", exc.field], "msg": message, "type": "value_error"}])

    @app.exception_handler(TicketNotFound)
    async def _no_ticket(request: Request, exc: TicketNotFound) -> JSONResponse:
        return _error(404, _say(request, exc))

    @app.exception_handler(SiteNotFound)
    async def _no_site(request: Request, exc: SiteNotFound) -> JSONResponse:
        return _error(404, _say(request, exc))

    @app.exception_handler(StoreUnavailable)
    async def _store_down(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.error("database unavailable on %s: %s", request.url.path, exc)
        return _error(503, _say(request, exc))

    @app.exception_handler(RoutingError)
    async def _routing(request: Request, exc: RoutingError) -> JSONResponse:
        return _error(_status_for(exc), _say(request, exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Echo where and why, never the (possibly huge or hostile) input itself.
        _ = language_of(request, deps.locale).gettext
        errors = [
            {
                "loc": list(e.get("loc", ())),
                "msg": validation_message(e, _),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        return _error(422, errors)

    @app.get("/healthz", tags=["health"])
    async def healthz(request: Request) -> JSONResponse:
        """`status` (ok, degraded, or down when nothing could be checked) for anyone;
        the components' details (errors, ports, nodes) only for a logged-in user or a
        client on this host."""
        try:
            components = dict(await deps.health())
        except Exception as exc:  # a broken probe is itself "degraded", never a 500
            log.warning("health probe failed: %s", exc)
            components = {"health_probe": {"status": "down", "error": str(exc)}}
        statuses = {name: _component_status(state) for name, state in components.items()}
        overall = "ok" if all(s in HEALTHY_STATES for s in statuses.values()) else "degraded"
        if "health_probe" in components:
            overall = "down"  # nothing could be checked at all
        if not await _may_see_details(request):
            return JSONResponse({"status": overall})
        body: dict[str, Any] = {"status": overall, **components, "components": components}
        return JSONResponse(body)

    async def _may_see_details(request: Request) -> bool:
        if _is_loopback(client_address(request)):
            return True
        token = bearer_token(request) or request.cookies.get(COOKIE_NAME)
        if not token:
            return False
        try:
            await sessions.resolve(token)
        except (NotAuthenticated, StoreUnavailable):
            return False
        return True

    app.include_router(api.router)
    app.include_router(access_router)
    app.include_router(ws.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _register_fallback_errors(app)
    return app


def _register_fallback_errors(app: FastAPI) -> None:
    """Emergency-mode errors: their root knows no HTTP, the console maps them here."""

    statuses: tuple[tuple[type[FallbackError], int], ...] = (
        (InvalidRequest, 422),
        (UnknownPaperNumber, 404),
        (BackfillConflict, 409),
        (BackfillIncomplete, 409),
        (SwitchError, 502),
        (PbxError, 502),
        (JournalError, 503),
        (TicketSystemUnavailable, 503),
    )

    async def _fallback(request: Request, exc: Exception) -> JSONResponse:
        status = next((code for kind, code in statuses if isinstance(exc, kind)), 409)
        if status >= 500:
            log.error("emergency mode error on %s: %s", request.url.path, exc)
        message = _say(request, exc)
        if status == 422:  # the shape of every other 422 (the OpenAPI validation error)
            return _error(422, [{"loc": ["body"], "msg": message, "type": "value_error"}])
        return _error(status, message)

    app.add_exception_handler(FallbackError, _fallback)
