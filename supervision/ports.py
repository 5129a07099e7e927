"""The ports supervision needs from the world, as small `Protocol`s.

`storage.supervision.SupervisionRepository` implements `SupervisionStore`,
`OpenTicketSource` and `CallHistory`; `storage.reports.ReportRepository` implements
`MonthlyFacts`. Failures of the database come out as
`supervision.domain.errors.SupervisionStoreError` where a method says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from supervision.domain.escalation import Action, NoticeRecord, StepRecord
from supervision.domain.sla import SlaTicket
from supervision.records import CallTally, MonthFacts, NoticeDraft, StoredNotice


class SupervisionStore(Protocol):
    """The escalation log (steps taken, their notices), acknowledgements and pauses."""

    async def load_log(
        self,
    ) -> tuple[list[StepRecord], list[tuple[int, str, NoticeRecord]]]:
        """Every step taken for a ticket still open, and the notices of those steps as
        (notice id, step key, record). Raises SupervisionStoreError."""
        ...

    async def record_steps(
        self, items: Sequence[tuple[Action, Sequence[NoticeDraft]]], at: datetime
    ) -> dict[str, list[StoredNotice]]:
        """Write steps and their pending notices; steps already recorded are left out of
        the result, so no step is sent twice. Raises SupervisionStoreError."""
        ...

    async def note_attempt(
        self,
        notice_id: int,
        *,
        attempts: int,
        error: str = "",
        delivered_at: datetime | None = None,
        final: bool = False,
        at: datetime | None = None,
    ) -> None: ...

    async def undelivered(self) -> list[StoredNotice]:
        """Notices left pending: the outbox."""
        ...

    async def notice_by_code(self, code: str) -> StoredNotice:
        """Raises UnknownAckCode."""
        ...

    async def acknowledge(self, code: str, by: str, at: datetime) -> StoredNotice:
        """The first acknowledgement wins; raises UnknownAckCode."""
        ...

    async def acks_since(self, since: datetime | None) -> list[tuple[str, int, datetime]]:
        """(step key, notice id, acked_at) of acknowledgements after `since`."""
        ...

    async def notices(
        self, *, ticket_number: str | None = None, limit: int = 200
    ) -> list[StoredNotice]: ...

    async def notice_counts(self) -> dict[str, int]: ...

    async def ticket_exists(self, ticket_number: str) -> bool: ...

    async def pause(self, ticket_number: str, at: datetime, by: str, reason: str = "") -> bool:
        """Stop the ticket's clocks; False if it is already paused."""
        ...

    async def resume(self, ticket_number: str, at: datetime) -> bool: ...


class OpenTicketSource(Protocol):
    """Every open ticket with its site and pauses, as the SLA engine sees it."""

    async def open_tickets(self) -> Sequence[SlaTicket]: ...


class CallHistory(Protocol):
    """The call records of a period (the wallboard's day counters after a restart)."""

    async def calls_started(self, start: datetime, end: datetime) -> Sequence[CallTally]:
        """Calls started from `start` to `end`, both included."""
        ...


class MonthlyFacts(Protocol):
    """The rows behind the monthly report."""

    async def month_facts(self, start: datetime, end: datetime) -> MonthFacts:
        """Calls, tickets, escalation steps and satisfaction scores from `start`
        (included) to `end` (excluded)."""
        ...
