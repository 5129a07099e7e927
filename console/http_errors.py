"""How the console answers errors over HTTP: the status, headers and body of each error
type, the console's own and those of the packages whose roots know no HTTP (routing,
fallback, the PBX's `CallControlError`), in the request's language (`console.messages`).

Every answer is `{"detail": ...}`; a 422 keeps the shape of FastAPI's validation error
(a list of `{"loc", "msg", "type"}`). For each error the handler of its most specific
registered class answers (Starlette looks along the exception's MRO).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from calls.errors import CallControlError
from console.errors import (
    BoardMissing,
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
from console.runtime import runtime_of
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

Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]

# Answered with their message and this status, nothing more.
PLAIN_STATUSES: tuple[tuple[type[Exception], int], ...] = (
    (NotPermitted, 403),
    (RecordingNotFound, 404),
    (NotYourRecording, 403),
    (NoPhoneInterface, 409),
    (PbxRefused, 502),
    (BoardMissing, 503),
    (LogoutNotRecorded, 503),
    (ConsoleError, 400),
    (TicketNotFound, 404),
    (SiteNotFound, 404),
)

# Emergency-mode errors; any other `FallbackError` is a 409.
FALLBACK_STATUSES: tuple[tuple[type[FallbackError], int], ...] = (
    (InvalidRequest, 422),
    (UnknownPaperNumber, 404),
    (BackfillConflict, 409),
    (BackfillIncomplete, 409),
    (SwitchError, 502),
    (PbxError, 502),
    (JournalError, 503),
    (TicketSystemUnavailable, 503),
)


def _error(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _invalid(field: str, message: str) -> JSONResponse:
    """A 422 naming the body field at fault, shaped like FastAPI's own."""
    return _error(422, [{"loc": ["body", field], "msg": message, "type": "value_error"}])


def _gettext(request: Request) -> Callable[[str], str]:
    return language_of(request, runtime_of(request).deps.locale).gettext


def _say(request: Request, exc: Exception) -> str:
    """`exc` told in the request's language."""
    return error_message(exc, _gettext(request))


def status_for(exc: Exception) -> int:
    """HTTP status for a routing error without a handler of its own, by its kind."""
    if isinstance(exc, LookupError):
        return 404
    if isinstance(exc, ValueError):
        return 422
    if isinstance(exc, PermissionError):
        return 403
    if isinstance(exc, ConnectionError | TimeoutError):
        return 503
    return 409


def _plain(status: int) -> Handler:
    async def answer(request: Request, exc: Exception) -> JSONResponse:
        return _error(status, _say(request, exc))

    return answer


def register_error_answers(app: FastAPI) -> None:
    """Every error handler of the console app."""
    for kind, status in PLAIN_STATUSES:
        app.add_exception_handler(kind, _plain(status))
    _register_console_errors(app)
    _register_other_errors(app)
    _register_fallback_errors(app)


def _register_console_errors(app: FastAPI) -> None:
    """The console's errors that carry more than a message."""

    @app.exception_handler(NotAuthenticated)
    async def _unauthenticated(request: Request, exc: NotAuthenticated) -> JSONResponse:
        return _error(401, _say(request, exc), {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(TooManyAttempts)
    async def _throttled(request: Request, exc: TooManyAttempts) -> JSONResponse:
        return _error(429, _say(request, exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(WrongPassword)
    async def _wrong_password(request: Request, exc: WrongPassword) -> JSONResponse:
        return _invalid("current", _say(request, exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Echo where and why, never the (possibly huge or hostile) input itself.
        _ = _gettext(request)
        errors = [
            {
                "loc": list(e.get("loc", ())),
                "msg": validation_message(e, _),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        return _error(422, errors)


def _register_other_errors(app: FastAPI) -> None:
    """The PBX's and routing's errors (their roots know no HTTP)."""

    @app.exception_handler(CallControlError)
    async def _ami(request: Request, exc: CallControlError) -> JSONResponse:
        log.warning("PBX error on %s: %s", request.url.path, exc)
        return _error(502, _say(request, exc))

    @app.exception_handler(InvalidInput)
    async def _invalid_input(request: Request, exc: InvalidInput) -> JSONResponse:
        return _invalid(exc.field, invalid_input_message(exc, _gettext(request)))

    @app.exception_handler(StoreUnavailable)
    async def _store_down(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.error("database unavailable on %s: %s", request.url.path, exc)
        return _error(503, _say(request, exc))

    @app.exception_handler(RoutingError)
    async def _routing(request: Request, exc: RoutingError) -> JSONResponse:
        return _error(status_for(exc), _say(request, exc))


def _register_fallback_errors(app: FastAPI) -> None:
    """Emergency-mode errors: their root knows no HTTP, the console maps them here."""

    async def _fallback(request: Request, exc: Exception) -> JSONResponse:
        status = next((code for kind, code in FALLBACK_STATUSES if isinstance(exc, kind)), 409)
        if status >= 500:
            log.error("emergency mode error on %s: %s", request.url.path, exc)
        message = _say(request, exc)
        if status == 422:  # the shape of every other 422 (the OpenAPI validation error)
            return _error(422, [{"loc": ["body"], "msg": message, "type": "value_error"}])
        return _error(status, message)

    app.add_exception_handler(FallbackError, _fallback)
