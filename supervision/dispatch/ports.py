"""The records and the port of engineer dispatch (`storage.dispatch.DispatchRepository`
implements `DispatchStore`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from supervision.domain.dispatch import CheckinStep, StepEffects
from supervision.domain.sla import Pause


@dataclass(frozen=True, slots=True)
class DispatchOrder:
    """An agent sends `engineer` to the ticket's site; the notice goes by `channel` to
    `address` (robot URL, e-mail address, webhook or SMS gateway URL) and `phone`."""

    ticket_number: str
    engineer: str
    phone: str
    channel: str
    address: str
    by: str
    at: datetime
    expires_at: datetime
    link_base: str = ""  # the console address the check-in link is built on


@dataclass(frozen=True, slots=True)
class DispatchRecord:
    """One dispatch as stored, with its check-ins and the notice's delivery."""

    id: int
    ticket_number: str
    engineer: str
    phone: str
    channel: str
    dispatched_by: str
    dispatched_at: datetime
    expires_at: datetime
    superseded_at: datetime | None
    on_the_way_at: datetime | None
    arrived_at: datetime | None
    fixed_at: datetime | None
    part_needed_at: datetime | None
    latitude: float | None
    longitude: float | None
    notice_state: str
    notice_error: str

    @property
    def state(self) -> str:
        """Where the engineer is: dispatched, on_the_way, on_site, fixed, part_needed,
        or superseded (someone else was sent)."""
        if self.superseded_at is not None:
            return "superseded"
        if self.fixed_at is not None:
            return "fixed"
        if self.part_needed_at is not None:
            return "part_needed"
        if self.arrived_at is not None:
            return "on_site"
        if self.on_the_way_at is not None:
            return "on_the_way"
        return "dispatched"

    def as_json(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return at.isoformat() if at else None

        return {
            "dispatch_id": self.id,
            "engineer": self.engineer,
            "phone": self.phone,
            "channel": self.channel,
            "state": self.state,
            "dispatched_by": self.dispatched_by,
            "dispatched_at": iso(self.dispatched_at),
            "expires_at": iso(self.expires_at),
            "superseded_at": iso(self.superseded_at),
            "on_the_way_at": iso(self.on_the_way_at),
            "arrived_at": iso(self.arrived_at),
            "fixed_at": iso(self.fixed_at),
            "part_needed_at": iso(self.part_needed_at),
            "location": (
                {"latitude": self.latitude, "longitude": self.longitude}
                if self.latitude is not None and self.longitude is not None
                else None
            ),
            "notice": self.notice_state,
            "notice_error": self.notice_error,
        }


@dataclass(frozen=True, slots=True)
class EngineerChoice:
    """An engineer the agent may send: `assigned` to the ticket's site, or known."""

    name: str
    phone: str
    assigned: bool


class DispatchStore(Protocol):
    async def dispatch(self, order: DispatchOrder) -> DispatchRecord:
        """Record the dispatch, supersede the ticket's earlier ones, set the ticket's
        engineer and dispatch time (with history). Raises TicketNotFound, or
        InvalidInput when the ticket is no longer open."""
        ...

    async def check_in(
        self,
        dispatch_id: int,
        ticket_number: str,
        step: CheckinStep,
        at: datetime,
        location: tuple[float, float, float | None] | None = None,
    ) -> tuple[StepEffects, DispatchRecord]:
        """Apply one step (`supervision.domain.dispatch.step_effects`) in one
        transaction; raises CheckinRefused."""
        ...

    async def get(self, dispatch_id: int, ticket_number: str) -> DispatchRecord | None: ...

    async def for_ticket(self, ticket_number: str) -> Sequence[DispatchRecord]:
        """Every dispatch of the ticket, oldest first."""
        ...

    async def unsent(self, now: datetime) -> Sequence[tuple[DispatchRecord, str, str]]:
        """Current dispatches whose notice is pending or retrying, with the notice's
        address and the link's console address, while their check-in links work."""
        ...

    async def note_notice(self, dispatch_id: int, state: str, error: str = "") -> None: ...

    async def engineers(self, site_code: str | None) -> Sequence[EngineerChoice]:
        """The site's assigned engineers first (in their order), then every other
        engineer the system knows, by name."""
        ...

    async def pauses(self, numbers: Sequence[str]) -> dict[str, list[Pause]]:
        """The waits for the customer of these tickets (their clocks stood still)."""
        ...

    async def active(self, numbers: Sequence[str]) -> dict[str, DispatchRecord]:
        """The current (not superseded) dispatch of each ticket that has one."""
        ...
