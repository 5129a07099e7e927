"""Ports of the routing package: what it needs from storage, and what it offers the IVR.

`storage.repositories` implements the stores against SQLAlchemy (SQLite or PostgreSQL);
tests may implement them with fakes. Every method is async and never blocks the loop.

Errors: `routing.errors.TicketNotFound` for an unknown ticket on update,
`routing.errors.InvalidInput` for a bad value (nothing is written then),
`routing.errors.StoreUnavailable` when the database cannot be reached.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from calls import CallSnapshot
from routing.domain.repeat_calls import OpenTicketView, RepeatRule
from routing.domain.unseen_calls import CdrEntry
from routing.records import (
    CallFilter,
    CallRecord,
    ConsoleUser,
    NewTicket,
    SiteMatch,
    SiteRecord,
    SiteSummary,
    Ticket,
    TicketFilter,
    TicketOpening,
    UserRole,
)


class TicketStore(Protocol):
    async def open_for_call(self, draft: NewTicket) -> TicketOpening:
        """Open the ticket of `draft.call_id` (required), or return the one it already has.

        Idempotent per call id across tasks and processes (unique constraint on call_id):
        a replayed or resynced `CallQueued` never makes a second ticket.
        """
        ...

    async def create(self, draft: NewTicket) -> Ticket:
        """Open a ticket not tied to a call (manual); with a call id it behaves as
        `open_for_call` and returns the existing ticket."""
        ...

    async def get(self, number: str) -> Ticket | None:
        """The ticket with its full history, service and progress logs."""
        ...

    async def get_by_call(self, call_id: str) -> Ticket | None: ...

    async def list(
        self, filters: TicketFilter | None = None, *, limit: int = 50, before: str | None = None
    ) -> Sequence[Ticket]:
        """Newest first. `before` is a ticket number: only tickets created before it."""
        ...

    async def update(
        self,
        number: str,
        changes: Mapping[str, object],
        by: str,
        *,
        note: str = "",
        at: datetime | None = None,
    ) -> Ticket:
        """Apply form-field changes (see `routing.domain.ticket_form.EDITABLE_FIELDS`).

        Every field whose value really changes appends one `TicketChange` (who, when,
        field, old, new). Unchanged values write nothing. Raises TicketNotFound or
        InvalidInput (then nothing at all is written).
        """
        ...

    async def mark_callback_due(self, call_id: str, at: datetime) -> Ticket | None:
        """The caller abandoned: set status `callback_due` (history written), SLA clock
        untouched. Returns None when the call has no ticket. Idempotent."""
        ...

    async def add_service_entry(
        self, number: str, *, symptom: str, action: str, result: str, by: str, at: datetime
    ) -> Ticket: ...

    async def add_progress(self, number: str, *, text: str, by: str, at: datetime) -> Ticket: ...

    async def record_satisfaction(
        self, number: str, score: int | None, *, at: datetime, call_id: str | None = None
    ) -> Ticket:
        """Store a survey score (1..5, None = not applicable) and put it on the ticket."""
        ...


# Asked with the ticket a queued call gets: the reason to page the engineer on call for
# it (the IVR's level-1 keypress, a level-1 ticket joined), or None.
PageRule = Callable[[Ticket], str | None]


class CallEventStore(Protocol):
    """The writes of the call events: each event's ticket change and call record in one
    transaction, which call events arriving together share (group commit). Every method
    is idempotent per call id, so a retried event never writes twice."""

    async def record_call(
        self, call: CallSnapshot, *, agent: str | None = None, ticket_number: str | None = None
    ) -> None: ...

    async def open_or_join(
        self,
        call: CallSnapshot,
        draft: NewTicket,
        rule: RepeatRule | None,
        page: PageRule | None = None,
    ) -> TicketOpening:
        """The call's ticket, decided and written in one transaction: the ticket the call
        has already (its own, or the one its record names); else the open ticket of
        `draft.site_code` that `rule` picks among the site's tickets read in that
        transaction, with decisions for one site serialised across transactions, joined
        (its "repeat call" history entry, `joined` True); else a new one from `draft`
        (`created` True). The call record carries the ticket's number. `rule` None: no
        merging. A ticket found or joined comes without its history. `page`, asked with
        the ticket decided: the reason it gives requests the ticket's first on-call page
        in the same transaction (once per ticket; `paged` is that reason when this
        transaction requested it)."""
        ...

    async def answer(
        self,
        call: CallSnapshot,
        *,
        incident: str | None,
        agent: str | None,
        at: datetime,
        note: str,
        known: str | None = None,
    ) -> str | None:
        """The answer's changes on the call's ticket (its own, the `incident`'s it joined,
        or the one it joined as a repeat call; `known`: the number of that ticket, from
        the queue join) and the call record; the ticket's number. None, and nothing
        written, when there is no ticket."""
        ...

    async def end(
        self,
        call: CallSnapshot,
        *,
        incident: str | None,
        agent: str | None,
        callback: bool,
        at: datetime,
        known: str | None = None,
    ) -> str | None:
        """The final call record with its ticket's number; with `callback`, the call's own
        ticket, or the one it joined as a repeat call, due for a callback (never the
        `incident`'s). `known`: the number of the call's ticket, from the queue join. The
        ticket's number, None if there is none."""
        ...

    async def callback_due(
        self, call: CallSnapshot, at: datetime, *, incident: str | None, known: str | None = None
    ) -> None:
        """The caller hung up before an agent answered: the call's own ticket, still open,
        is due for a callback; the ticket it joined as a repeat call is too (open or in
        progress), its history naming the call, once per call. Never the `incident`'s.
        `known`: the number of the call's ticket, from the queue join."""
        ...


class CallStore(Protocol):
    async def upsert(
        self,
        call: CallSnapshot,
        *,
        agent: str | None = None,
        ticket_number: str | None = None,
        paper_number: str | None = None,
    ) -> CallRecord:
        """Insert or update the call record keyed by `call.call_id` (exactly one row per
        call). None arguments keep what the row already has."""
        ...

    async def get(self, call_id: str) -> CallRecord | None: ...

    async def open_calls(self, started_before: datetime, *, limit: int = 500) -> list[CallRecord]:
        """Records with no end of calls started before `started_before`, oldest first."""
        ...

    async def list(
        self, filters: CallFilter | None = None, *, limit: int = 50, before: str | None = None
    ) -> Sequence[CallRecord]:
        """Newest first. `before` is a call id: only calls started before it."""
        ...

    async def attached_to(
        self, tickets: Sequence[tuple[str, str | None]]
    ) -> Mapping[str, Sequence[CallRecord]]:
        """The calls of each ticket `(number, call_id)`, oldest first."""
        ...


class RecordingFiles(Protocol):
    """The directory where the PBX's call recordings can be read."""

    def path_of(self, name: str) -> Path | None:
        """The readable file of recording `name`, or None when there is none."""
        ...


class RepeatCallStore(Protocol):
    """Calls joined to (or split from) another call's ticket: the reads and the split
    (joining is `CallEventStore.open_or_join`)."""

    async def open_at_site(self, site_code: str, since: datetime) -> Sequence[OpenTicketView]:
        """The site's open tickets created at or after `since`, newest first."""
        ...

    async def note_split(
        self, number: str, *, call_id: str, new_number: str, by: str, at: datetime
    ) -> None:
        """History entry on the ticket a call was split off from."""
        ...

    async def ticket_number_of_call(self, call_id: str) -> str | None:
        """The ticket number on the call record (None: no record or no ticket yet)."""
        ...

    async def move_call(self, call_id: str, number: str) -> bool:
        """Point the call record at ticket `number`; False when the call has no record."""
        ...


class LevelOnePager(Protocol):
    """Pages the engineer on call when a ticket is (or becomes) level 1."""

    async def request_page(
        self,
        *,
        ticket_number: str,
        site_code: str | None,
        caller_number: str,
        reason: str,
        at: datetime,
    ) -> None:
        """Record that the ticket needs its on-call engineer paged (once per ticket) and
        have it sent; returns once the request is durable."""
        ...

    def page_requested(self, ticket_number: str, reason: str) -> None:
        """The ticket's first page was requested with the ticket, in its transaction
        (`CallEventStore.open_or_join`): have it sent now."""
        ...


class SiteDirectory(Protocol):
    async def site_record(self, site_code: str, *, at: datetime | None = None) -> SiteRecord | None:
        """Everything the screen-pop shows; warranty state computed for `at` (default now)."""
        ...

    async def site_profile(self, site_code: str) -> SiteRecord | None:
        """The site's record without its tickets (special periods as stored), so it may
        come from a short cache: what routing and ticket opening read for every call."""
        ...

    async def search(self, text: str, *, limit: int = 20) -> Sequence[SiteSummary]:
        """Sites whose code, organisation, name, address or contact phone contains `text`."""
        ...

    async def match_caller(self, number: str) -> SiteMatch:
        """Identify the site from the caller's number (normalised first)."""
        ...

    async def site_exists(self, site_code: str) -> bool: ...


class UserStore(Protocol):
    async def create(
        self, username: str, role: UserRole | str, password: str, interface: str | None = None
    ) -> ConsoleUser:
        """Raises UserExists, or InvalidInput for a bad name/role/password/interface."""
        ...

    async def authenticate(self, username: str, password: str) -> ConsoleUser | None:
        """The active user when the password matches (constant-time), else None."""
        ...

    async def get(self, username: str) -> ConsoleUser | None: ...

    async def get_many(self, usernames: Sequence[str]) -> dict[str, ConsoleUser]:
        """Those of `usernames` that exist, by name, in one read."""
        ...

    async def all_users(self) -> Sequence[ConsoleUser]: ...

    async def set_active(self, username: str, active: bool) -> ConsoleUser:
        """Enable/disable; disabling ends the user's sessions. UserNotFound, LastAdmin."""
        ...

    async def set_language(self, username: str, language: str | None) -> ConsoleUser:
        """The pages' language the user chose (None: none); InvalidInput, UserNotFound."""
        ...

    async def set_role(self, username: str, role: UserRole | str) -> ConsoleUser:
        """Another role; ends the user's sessions. UserNotFound, InvalidInput, LastAdmin."""
        ...

    async def set_password(self, username: str, password: str) -> ConsoleUser:
        """A new password (the policy of `routing.passwords`); ends the user's sessions.
        UserNotFound, InvalidInput."""
        ...

    async def end_sessions(self, username: str) -> ConsoleUser:
        """Refuse every token issued to the user so far. UserNotFound."""
        ...


class SurveySink(Protocol):
    """What the IVR's satisfaction survey writes to (`call_ref` = Linkedid or ticket number)."""

    async def record_score(self, call_ref: str, score: int | None) -> None: ...


class SiteLookup(Protocol):
    """The part of the site directory the IVR needs (its SiteDirectoryPort)."""

    async def match_caller(self, number: str) -> SiteMatch: ...

    async def site_exists(self, site_code: str) -> bool: ...


__all__ = [
    "CallStore",
    "LevelOnePager",
    "RepeatCallStore",
    "SiteDirectory",
    "SiteLookup",
    "SurveySink",
    "TicketStore",
    "UserStore",
]


class CdrSource(Protocol):
    async def unrecorded(self, since: datetime, *, limit: int = 500) -> Sequence[CdrEntry]:
        """The PBX's call detail records, oldest first, of up to `limit` hotline calls
        from `since` on whose linkedid has no call record yet."""
        ...

    async def rows_of(self, linkedids: Collection[str]) -> list[CdrEntry]:
        """Every CDR row of these calls, oldest first."""
        ...
