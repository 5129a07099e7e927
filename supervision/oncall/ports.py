"""What on-call paging needs from the database (`storage.oncall.OnCallRepository`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from supervision.domain.oncall import PageState, Shift, ShiftDraft
from supervision.oncall.records import LevelOneTicket, Page


class OnCallStore(Protocol):
    async def import_shift(self, draft: ShiftDraft, *, by: str, at: datetime) -> bool: ...

    async def shifts_between(self, start: datetime, end: datetime) -> list[Shift]: ...

    async def swap_shift(
        self,
        shift_id: int,
        *,
        engineer: str,
        phone: str,
        channel: str,
        address: str,
        by: str,
        at: datetime,
    ) -> Shift | None: ...

    async def site_engineers(self, site_code: str) -> list[str]: ...

    async def add_page(
        self,
        *,
        ticket_number: str,
        seq: int,
        reason: str,
        site_code: str | None,
        caller_number: str,
        at: datetime,
    ) -> bool: ...

    async def has_pages(self, ticket_number: str) -> bool: ...

    async def claim_requested(self, limit: int = 50) -> list[Page]: ...

    async def release_unsent(self) -> int: ...

    async def engineers_paged(self, ticket_number: str) -> list[str]: ...

    async def assign(self, page_id: int, shift: Shift) -> None: ...

    async def mark_sent(self, page_id: int, *, attempts: int, at: datetime) -> None: ...

    async def mark_failed(self, page_id: int, *, attempts: int, error: str) -> None: ...

    async def mark_no_one(self, page_id: int) -> None: ...

    async def unacknowledged(self) -> dict[str, list[PageState]]: ...

    async def last_page(self, ticket_number: str) -> Page | None: ...

    async def raised_to_level_one(self, since: datetime) -> list[LevelOneTicket]: ...

    async def page_by_code(self, code: str) -> Page: ...

    async def acknowledge(
        self, *, by: str, at: datetime, code: str | None = None, page_id: int | None = None
    ) -> Page: ...

    async def pages(self, *, since: datetime | None = None, limit: int = 200) -> list[Page]: ...

    async def all_engineers(self) -> Sequence[Shift]: ...
