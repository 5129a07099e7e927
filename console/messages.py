"""API error messages in the request's language.

Other packages raise errors with English texts made for logs; the console answers people
with the catalogue's texts chosen by the error's type (and its fields), adding the
technical cause only where an operator needs it (a PBX or journal failure). Validation
errors are worded by their pydantic `type`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from calls.errors import CallControlError
from console.errors import (
    BoardMissing,
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
    LastAdmin,
    SiteNotFound,
    StoreUnavailable,
    TicketNotFound,
    UserExists,
    UserNotFound,
)
from routing.passwords import MAX_PASSWORD, MIN_PASSWORD

Gettext = Callable[[str], str]


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is translated later by value."""
    return message


# The fixed reasons console.sessions gives for refusing a session; any other reads as
# the generic "log in again".
_SESSION_REASONS = frozenset(
    {
        N_("log in first"),
        N_("session invalid or expired; log in again"),
        N_("logged out; log in again"),
        N_("this account is no longer active"),
        N_("wrong user name or password"),
        N_("signed out (password, role or account changed); log in again"),
        N_("session idle too long; log in again"),
        N_("only a wallboard token may be given in the URL"),
    }
)

# Messages console.api and the user store give with InvalidInput, translated by value.
_INPUT_MESSAGES = frozenset(
    {
        N_("nothing to change"),
        N_("must be digits (at most 32)"),
        N_("must be letters, digits, '-' or '_' (at most 64)"),
        # The password policy (routing.passwords) and the user store (storage.users).
        N_("must not contain the user name"),
        N_("is too common (it is on the list of passwords guessed first)"),
        N_("needs more different characters"),
        N_("1-64 characters: letters, digits, '.', '_', '@', '-'"),
        N_("must look like PJSIP/1001 or Local/1001@agents"),
        # Splitting a repeat call off its ticket (routing.tickets).
        N_("repeat calls are not merged here"),
        N_("this call opened the ticket: nothing to split"),
        N_("the call is not attached to this ticket"),
        N_("no such call"),
    }
)
_PASSWORD_LENGTH = f"must be {MIN_PASSWORD}-{MAX_PASSWORD} characters"


def _role(role: str, _: Gettext) -> str:
    names = {"agent": _("agent"), "supervisor": _("supervisor"), "admin": _("admin")}
    return names.get(role, role)


def error_message(exc: Exception, _: Gettext) -> str:
    """What to tell a person about `exc`, in the language of `_`."""
    if isinstance(exc, NotAuthenticated):
        reason = str(exc)
        return _(reason) if reason in _SESSION_REASONS else _("Not logged in: log in again.")
    if isinstance(exc, NotPermitted):
        return _("This needs the %(needed)s role; you are %(role)s.") % {
            "needed": _role(exc.needed, _),
            "role": _role(exc.role, _),
        }
    if isinstance(exc, TooManyAttempts):
        return _("Too many failed log-ins: try again in %(seconds)d s.") % {
            "seconds": exc.retry_after
        }
    if isinstance(exc, NoPhoneInterface):
        return _("Your user has no usable phone interface (%(reason)s): ask an administrator.") % {
            "reason": str(exc)
        }
    if isinstance(exc, PbxRefused | CallControlError | PbxError | SwitchError):
        return _("The PBX failed or refused the action: %(reason)s") % {"reason": str(exc)}
    if isinstance(exc, BoardMissing):
        return _("The emergency health board is not available on this console process.")
    if isinstance(exc, LogoutNotRecorded):
        return _(
            "Logged out here, but the log-out could not be recorded for every console yet:"
            " other consoles may accept the session until the database answers."
        )
    if isinstance(exc, WrongPassword):
        return _("The current password is wrong.")
    if isinstance(exc, LastAdmin):
        return _(
            "%(user)s is the last enabled admin: make another user admin before disabling"
            " or demoting this one."
        ) % {"user": exc.username}
    if isinstance(exc, UserExists):
        return _("A user named %(user)s already exists.") % {"user": exc.username}
    if isinstance(exc, UserNotFound):
        return _("No such user.")
    if isinstance(exc, TicketNotFound):
        return _("No such ticket.")
    if isinstance(exc, RecordingNotFound):
        return _("This call has no recording.")
    if isinstance(exc, NotYourRecording):
        return _(
            "Only the call's agent, the ticket's people and supervisors may play this recording."
        )
    if isinstance(exc, SiteNotFound):
        return _("No such site.")
    if isinstance(exc, StoreUnavailable):
        return _("The ticket database is unavailable; use paper tickets.")
    return _fallback_message(exc, _)


def _fallback_message(exc: Exception, _: Gettext) -> str:
    if isinstance(exc, UnknownPaperNumber):
        return _("This paper number was never issued.")
    if isinstance(exc, BackfillConflict):
        # The cause names the ticket and who entered it: the person needs both.
        return _("This paper ticket cannot be entered again: %(reason)s") % {"reason": str(exc)}
    if isinstance(exc, BackfillIncomplete):
        return _("%(count)d emergency call(s) have neither a ticket nor a waiver: %(calls)s") % {
            "count": len(exc.missing),
            "calls": ", ".join(exc.missing[:10]),
        }
    if isinstance(exc, JournalError):
        return _("The emergency journal could not be written or read: %(reason)s") % {
            "reason": str(exc)
        }
    if isinstance(exc, TicketSystemUnavailable):
        return _("The ticket system could not take the ticket; try again later.")
    if isinstance(exc, InvalidRequest):
        return _("The request is not valid: %(reason)s") % {"reason": str(exc)}
    if isinstance(exc, FallbackError):
        return _("Emergency mode refused the request: %(reason)s") % {"reason": str(exc)}
    return _("The request could not be carried out: %(reason)s") % {"reason": str(exc)}


def invalid_input_message(exc: InvalidInput, _: Gettext) -> str:
    if exc.message in _INPUT_MESSAGES:
        return _(exc.message)
    if exc.message == _PASSWORD_LENGTH:
        return _("must be %(min)d to %(max)d characters") % {
            "min": MIN_PASSWORD,
            "max": MAX_PASSWORD,
        }
    if exc.message.startswith("no site "):
        return _("No such site.")
    return _("This value is not valid: %(reason)s") % {"reason": exc.message}


def validation_message(error: Mapping[str, Any], _: Gettext) -> str:
    """One pydantic error as a sentence; its limits come from the error's context."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    worded: dict[str, Callable[[], str]] = {
        "missing": lambda: _("Required."),
        "extra_forbidden": lambda: _("Not a field of this form."),
        "string_too_short": lambda: (
            _("At least %(limit)s characters.") % {"limit": ctx.get("min_length", "")}
        ),
        "string_too_long": lambda: (
            _("At most %(limit)s characters.") % {"limit": ctx.get("max_length", "")}
        ),
        "string_pattern_mismatch": lambda: _("Not in the expected format."),
        "string_type": lambda: _("Must be text."),
        "int_parsing": lambda: _("Must be a whole number."),
        "int_type": lambda: _("Must be a whole number."),
        "int_from_float": lambda: _("Must be a whole number."),
        "bool_type": lambda: _("Must be true or false."),
        "bool_parsing": lambda: _("Must be true or false."),
        "greater_than_equal": lambda: _("At least %(limit)s.") % {"limit": ctx.get("ge", "")},
        "less_than_equal": lambda: _("At most %(limit)s.") % {"limit": ctx.get("le", "")},
        "literal_error": lambda: (
            _("Must be one of: %(choices)s.") % {"choices": ctx.get("expected", "")}
        ),
        "enum": lambda: _("Must be one of: %(choices)s.") % {"choices": ctx.get("expected", "")},
        "json_invalid": lambda: _("The body is not valid JSON."),
        "model_attributes_type": lambda: _("The body must be a JSON object."),
        "dict_type": lambda: _("The body must be a JSON object."),
    }
    return worded[kind]() if kind in worded else _("This value is not valid.")
