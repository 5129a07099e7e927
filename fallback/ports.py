"""Ports of emergency mode.

Offered (the console and API code against these): `EmergencyControl`, `BackfillDesk`,
`HealthBoard`, `ConsoleHeartbeat`. `fallback.service.EmergencyService` implements them all.

Needed from the world (the composition root wires adapters): `HealthProbe` (the shipped
probes are in `fallback.health`), `ProbeTable` (the database write probe's row, in
`storage.health_probe`), `BackfillTicketSink` (`fallback.tickets.TicketStoreBackfillSink`
adapts `routing.ports.TicketStore`), and the PBX through `calls.control.CallControl`; the
drill reads PBX events as `PbxFields`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fallback.records import (
    AuditRecord,
    BackfillItem,
    CallbackTarget,
    CheckResult,
    EmergencyStatus,
    Reconciliation,
)


class EmergencyControl(Protocol):
    def status(self) -> EmergencyStatus: ...

    async def set_active(self, active: bool, *, reason: str, by: str) -> EmergencyStatus:
        """Flip the mode by hand. `reason` is mandatory and non-empty (`InvalidRequest`
        otherwise). Flipping to the mode already in force changes nothing and is audited."""
        ...


class BackfillDesk(Protocol):
    async def items(self) -> list[BackfillItem]:
        """Every emergency call (and every paper number entered without a call), oldest
        first, with its ticket number once backfilled."""
        ...

    async def submit(
        self,
        paper_number: str,
        *,
        site_code: str | None,
        level: int,
        description: str,
        caller_number: str | None,
        by: str,
    ) -> str:
        """Type in a paper ticket: opens a ticket (source `backfill`) linked to the call and
        returns its number. Raises `InvalidRequest`, `UnknownPaperNumber`, `BackfillConflict`."""
        ...

    async def waive(self, paper_number: str, *, reason: str, by: str) -> None:
        """Account for a call that needs no ticket (test call, wrong number); reason required."""
        ...

    async def reconciliation(self) -> Reconciliation: ...

    async def close_backfill(self, by: str) -> None:
        """Back to normal. Raises `BackfillIncomplete` while anything is unaccounted for."""
        ...


class HealthBoard(Protocol):
    """What the supervisor page shows besides the mode."""

    def health(self) -> list[CheckResult]:
        """The latest result of each health check."""
        ...

    def audit_log(self, limit: int = 100) -> list[AuditRecord]:
        """Newest first."""
        ...

    async def callback_list(self) -> list[CallbackTarget]: ...

    async def call_back(self, caller_number: str, *, interface: str, by: str) -> str:
        """Ring `interface` (the agent's phone) and connect it to the caller; returns the
        Originate ActionID."""
        ...


class ConsoleHeartbeat(Protocol):
    """The console reports that it (or one agent's browser) is alive."""

    def heartbeat(self, source: str, at: datetime | None = None) -> None: ...


class HealthProbe(Protocol):
    """One named check of the main seat system, run by `fallback.health.HealthWatch` under
    `asyncio.timeout(self.timeout)` (a hung peer is a failure, not a hang).

    `check()` returns a short detail when healthy; it raises
    `fallback.errors.HealthCheckFailed` (or any exception, or times out) when not, and
    `fallback.errors.HealthCheckInconclusive` when it cannot tell.
    """

    name: str
    timeout: float
    critical: bool

    async def check(self) -> str: ...


class ProbeTable(Protocol):
    """One row per node in the ticket database, written and read back to prove the
    database is reachable and writable."""

    async def write_and_read(self, node: str, token: str, at: datetime) -> str | None:
        """Replace `node`'s row with `token`, read it back in the same transaction."""
        ...


@dataclass(frozen=True, slots=True)
class BackfillTicket:
    """What a paper ticket says, plus what the journal knows of its call."""

    paper_number: str
    call_id: str | None
    site_code: str | None
    level: int
    description: str
    caller_number: str
    caller_name: str
    started_at: datetime  # the SLA clock starts when the call came in, not at typing time
    agent: str | None
    by: str


@dataclass(frozen=True, slots=True)
class BackfillOutcome:
    ticket_number: str
    created: bool  # False: the call already had a ticket; the paper content was added to it


class BackfillTicketSink(Protocol):
    """Where backfilled tickets go (the main ticket database)."""

    async def ticket_for_call(self, call_id: str) -> str | None:
        """The number of the ticket the call already has (opened before the outage), if any."""
        ...

    async def backfill(self, ticket: BackfillTicket) -> BackfillOutcome:
        """Open a ticket with source `backfill` linked to `ticket.call_id`; idempotent per
        call id (a call never gets two tickets)."""
        ...


class PaperNumberNotice(Protocol):
    """Tells the answering agent the paper number of the call (the composition root
    resolves the agent's `user:<username>` topic from the queue-member interface)."""

    async def __call__(
        self,
        *,
        interface: str,
        member_name: str,
        call_id: str,
        paper_number: str,
        caller_number: str,
    ) -> None: ...


class JournalReplica(Protocol):
    """The emergency journal's second copy, on other hosts (`fallback.replica` adapts a
    Redis primary with replicas). Every method raises `fallback.errors.JournalError` when
    the store cannot be reached, and `JournalNotReplicated` when a write reached the
    primary but not enough replicas within the wait."""

    async def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Add the records (each carries a unique `id`; one already there is skipped), in
        order, and return once they are confirmed on the replicas."""
        ...

    async def read_from(self, start: int) -> list[dict[str, Any]]:
        """Every record from position `start` (0-based) of the replicated journal on."""
        ...

    async def allocate_paper(self, floor: int) -> int:
        """The next paper number of the shared counter, above `floor`, confirmed on the
        replicas before it is returned; a number is never returned twice."""
        ...

    async def close(self) -> None: ...


class PbxFields(Protocol):
    """The header fields of one PBX event (`ami.protocol.AmiMessage` fits)."""

    def get(self, key: str, default: str = "") -> str: ...


__all__ = [
    "BackfillDesk",
    "BackfillOutcome",
    "BackfillTicket",
    "BackfillTicketSink",
    "ConsoleHeartbeat",
    "EmergencyControl",
    "HealthBoard",
    "HealthProbe",
    "JournalReplica",
    "PaperNumberNotice",
    "PbxFields",
]
