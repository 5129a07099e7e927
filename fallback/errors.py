"""Errors of emergency mode. One root (`FallbackError`); no HTTP notions here (the console
maps them: `InvalidRequest` → 422, `UnknownPaperNumber` → 404, `BackfillConflict` and
`BackfillIncomplete` → 409)."""

from __future__ import annotations


class FallbackError(Exception):
    """Root of every error raised by the `fallback` package."""


class InvalidRequest(FallbackError, ValueError):
    """A caller-supplied value is missing or malformed (empty reason, bad level, CR/LF...).
    Nothing was written."""


class UnknownPaperNumber(FallbackError, LookupError):
    """The paper number was never issued (not allocated to a call, not on a printed pad)."""


class BackfillConflict(FallbackError):
    """The paper number is already backfilled or waived."""


class BackfillIncomplete(FallbackError):
    """Closing the backfill was refused: some emergency calls are not accounted for."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            f"{len(missing)} emergency call(s) have neither a ticket nor a waiver: "
            + ", ".join(missing[:10])
            + (" ..." if len(missing) > 10 else "")
        )
        self.missing = missing


class JournalError(FallbackError):
    """The durable journal could not be written or read (disk full, permissions...)."""


class JournalNotReplicated(JournalError):
    """A journal record or paper number was not confirmed by the replica within the wait:
    the record is on this host's disk (and goes to the replica as soon as it answers), but
    nothing may be acknowledged on it yet."""


class PaperNumbersUnavailable(JournalNotReplicated):
    """No paper number can be handed out: the replicated counter could not be raised and
    confirmed on the replica (Redis primary or replica down). No number was used."""


class SwitchError(FallbackError):
    """The PBX could not be switched (AMI down or an action refused); the cause is chained."""


class HealthCheckFailed(FallbackError):
    """Raised by a health probe to report a failed check with a readable detail."""


class HealthCheckInconclusive(FallbackError):
    """Raised by a health probe that cannot tell (e.g. the PBX link is down)."""


class TicketSystemUnavailable(FallbackError):
    """The main ticket system could not take the backfilled ticket (try again later)."""


class PbxError(FallbackError):
    """The PBX refused or could not be reached for an action (callback, drill)."""
