"""Errors of the console package. One root (`ConsoleError`); the app maps them to HTTP."""

from __future__ import annotations


class ConsoleError(Exception):
    """Root of every error raised by the `console` package."""


class ConsoleConfigError(ConsoleError):
    """The console was built with unusable dependencies (e.g. an empty session secret)."""


class NotAuthenticated(ConsoleError):
    """No valid session: missing, forged, expired or revoked token, or an inactive user."""


class NotPermitted(ConsoleError):
    """The user is authenticated but their role may not do this."""

    def __init__(self, needed: str, role: str) -> None:
        super().__init__(f"this needs the {needed} role; you are {role}")
        self.needed = needed
        self.role = role


class RecordingNotFound(ConsoleError):
    """The call has no recording to play (unknown call, not answered, purged, or the
    file is not in the recordings directory)."""


class NotYourRecording(ConsoleError):
    """An agent asked for the recording of a call that is neither theirs nor on a
    ticket of theirs."""


class NoPhoneInterface(ConsoleError):
    """The user has no queue-member interface, so the console cannot put them in a queue."""


class PbxRefused(ConsoleError):
    """The PBX failed or refused a queue action asked for by the console."""


class BoardMissing(ConsoleError):
    """The emergency health board was not wired into this console."""


class TooManyAttempts(ConsoleError):
    """Too many failed log-ins from one place for one user name: wait `retry_after` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed log-ins; try again in {retry_after} s")
        self.retry_after = retry_after


class WrongPassword(ConsoleError):
    """The password given as the user's current one is not theirs."""


class LogoutNotRecorded(ConsoleError):
    """The log-out could not be written to the shared store (database unavailable): this
    process refuses the session already and writes it as soon as the store answers; other
    console processes may accept the token until then."""


# The error answers of the JSON API, for its OpenAPI schema (`APIRouter(responses=...)`).
# Each is `{"detail": "..."}`; 422 keeps FastAPI's validation error shape.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"description": "the request cannot be served as asked"},
    401: {"description": "not logged in, or the session ended"},
    403: {"description": "the role may not do this, or a cross-site request"},
    404: {"description": "no such ticket, site, user or paper number"},
    409: {"description": "conflicts with the current state (last admin, entered twice...)"},
    429: {"description": "too many failed log-ins: wait Retry-After seconds"},
    502: {"description": "the PBX refused or failed"},
    503: {"description": "the database or the live messages are unavailable"},
}
