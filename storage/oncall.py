"""`OnCallStore` on SQLAlchemy: the rota (`oncall_shifts`) and the pages (`oncall_pages`)."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from routing.records import OPEN_STATUSES
from storage.database import Database
from storage.errors import store_errors
from storage.models import (
    EngineerRow,
    OnCallPageRow,
    OnCallShiftRow,
    SiteEngineerRow,
    SiteRow,
    TicketHistoryRow,
    TicketRow,
)
from storage.ticket_rows import network_text
from supervision.domain.oncall import PageState, Shift, ShiftDraft
from supervision.oncall.records import LevelOneTicket, Page, UnknownPage

_LEVEL_ONE = 1


def _shift(row: OnCallShiftRow) -> Shift:
    return Shift(
        row.id, row.starts_at, row.ends_at, row.engineer, row.phone, row.channel, row.address
    )


def _page(row: OnCallPageRow) -> Page:
    return Page(
        id=row.id,
        ticket_number=row.ticket_number,
        seq=row.seq,
        reason=row.reason,
        site_code=row.site_code,
        caller_number=row.caller_number,
        requested_at=row.requested_at,
        state=row.state,
        engineer=row.engineer,
        channel=row.channel,
        address=row.address,
        attempts=row.attempts,
        last_error=row.last_error,
        sent_at=row.sent_at,
        ack_code=row.ack_code,
        acked_at=row.acked_at,
        acked_by=row.acked_by,
    )


@functools.cache
def page_request(dialect: str) -> postgresql.Insert | sqlite.Insert:
    """The insert of a page request (`page_values`), state `requested`; it inserts
    nothing when that step of the ticket was requested already (by this or another
    controller). One constant statement per dialect, compiled once."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    pages: Table = OnCallPageRow.__table__  # type: ignore[assignment]
    columns = [c.name for c in pages.c if c.name != "id" and c.name not in _LATER]
    stmt = insert(pages).values({name: bindparam(name) for name in columns})
    return stmt.on_conflict_do_nothing(index_elements=["ticket_number", "seq"])


# What a page gets only as it is sent and acknowledged.
_LATER = frozenset({"shift_id", "sent_at", "acked_at"})


def page_values(
    *,
    ticket_number: str,
    seq: int,
    reason: str,
    site_code: str | None,
    caller_number: str,
    at: datetime,
) -> dict[str, Any]:
    """Page `seq` of the ticket, requested at `at`, for `page_request`."""
    return {
        "ticket_number": ticket_number,
        "seq": seq,
        "reason": reason,
        "site_code": site_code,
        "caller_number": network_text(caller_number, 64),
        "requested_at": at.astimezone(UTC),
        "state": "requested",
        "engineer": "",
        "channel": "",
        "address": "",
        "attempts": 0,
        "last_error": "",
        "ack_code": secrets.token_urlsafe(12),
        "acked_by": "",
    }


class OnCallRepository:
    """Implements `supervision.oncall.ports.OnCallStore`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- the rota ------------------------------------------------------------------------

    async def import_shift(self, draft: ShiftDraft, *, by: str, at: datetime) -> bool:
        """Store a duty period; the same engineer's same period is updated, not doubled.
        True when it was new."""
        start, end = draft.starts_at.astimezone(UTC), draft.ends_at.astimezone(UTC)
        with store_errors():
            async with self.db.sessions.begin() as session:
                row = await session.scalar(
                    select(OnCallShiftRow).where(
                        OnCallShiftRow.starts_at == start,
                        OnCallShiftRow.ends_at == end,
                        OnCallShiftRow.engineer == draft.engineer,
                    )
                )
                created = row is None
                if row is None:
                    row = OnCallShiftRow(starts_at=start, ends_at=end, engineer=draft.engineer)
                    session.add(row)
                row.phone, row.channel, row.address = draft.phone, draft.channel, draft.address
                row.updated_at, row.updated_by = at, by
        return created

    async def shifts_between(self, start: datetime, end: datetime) -> list[Shift]:
        """Duty periods overlapping [start, end), earliest first."""
        stmt = (
            select(OnCallShiftRow)
            .where(OnCallShiftRow.ends_at > start, OnCallShiftRow.starts_at < end)
            .order_by(OnCallShiftRow.starts_at, OnCallShiftRow.id)
        )
        with store_errors():
            async with self.db.reads() as session:
                return [_shift(r) for r in (await session.scalars(stmt)).all()]

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
    ) -> Shift | None:
        """Another engineer takes the period; None when there is no such shift."""
        with store_errors():
            async with self.db.sessions.begin() as session:
                row = await session.get(OnCallShiftRow, shift_id, with_for_update=True)
                if row is None:
                    return None
                row.engineer, row.phone, row.channel, row.address = (
                    engineer,
                    phone,
                    channel,
                    address,
                )
                row.updated_at, row.updated_by = at, by
                return _shift(row)

    async def site_engineers(self, site_code: str) -> list[str]:
        stmt = (
            select(EngineerRow.name)
            .join(SiteEngineerRow, SiteEngineerRow.engineer_id == EngineerRow.id)
            .join(SiteRow, SiteRow.id == SiteEngineerRow.site_id)
            .where(SiteRow.site_code == site_code)
            .order_by(SiteEngineerRow.position)
        )
        with store_errors():
            async with self.db.reads() as session:
                return list((await session.scalars(stmt)).all())

    # --- pages ---------------------------------------------------------------------------

    async def add_page(
        self,
        *,
        ticket_number: str,
        seq: int,
        reason: str,
        site_code: str | None,
        caller_number: str,
        at: datetime,
    ) -> bool:
        """Request page `seq` of the ticket; False when that step was requested already
        (by this or another controller)."""
        stmt = page_request(self.db.dialect)
        values = page_values(
            ticket_number=ticket_number,
            seq=seq,
            reason=reason,
            site_code=site_code,
            caller_number=caller_number,
            at=at,
        )
        with store_errors():
            async with self.db.sessions.begin() as session:
                result = await session.execute(stmt, values)
        return bool(getattr(result, "rowcount", 0))

    async def has_pages(self, ticket_number: str) -> bool:
        with store_errors():
            async with self.db.reads() as session:
                found = await session.scalar(
                    select(OnCallPageRow.id).where(OnCallPageRow.ticket_number == ticket_number)
                )
        return found is not None

    async def claim_requested(self, limit: int = 50) -> list[Page]:
        """Requested pages, each claimed (state `sending`) by exactly one caller."""
        claimed: list[Page] = []
        with store_errors():
            async with self.db.sessions.begin() as session:
                ids = (
                    await session.scalars(
                        select(OnCallPageRow.id)
                        .where(OnCallPageRow.state == "requested")
                        .order_by(OnCallPageRow.id)
                        .limit(limit)
                    )
                ).all()
            for page_id in ids:
                async with self.db.sessions.begin() as session:
                    row = await session.scalar(
                        update(OnCallPageRow)
                        .where(OnCallPageRow.id == page_id, OnCallPageRow.state == "requested")
                        .values(state="sending")
                        .returning(OnCallPageRow)
                    )
                    if row is not None:
                        claimed.append(_page(row))
        return claimed

    async def release_unsent(self) -> int:
        """Pages a stopped leader claimed but never sent go back to `requested`."""
        with store_errors():
            async with self.db.sessions.begin() as session:
                result = await session.execute(
                    update(OnCallPageRow)
                    .where(OnCallPageRow.state == "sending", OnCallPageRow.attempts == 0)
                    .values(state="requested")
                )
        return int(getattr(result, "rowcount", 0) or 0)

    async def engineers_paged(self, ticket_number: str) -> list[str]:
        with store_errors():
            async with self.db.reads() as session:
                names = await session.scalars(
                    select(OnCallPageRow.engineer).where(
                        OnCallPageRow.ticket_number == ticket_number, OnCallPageRow.engineer != ""
                    )
                )
                return list(names.all())

    async def assign(self, page_id: int, shift: Shift) -> None:
        await self._set(
            page_id,
            shift_id=shift.id,
            engineer=shift.engineer,
            channel=shift.channel,
            address=shift.address,
        )

    async def mark_sent(self, page_id: int, *, attempts: int, at: datetime) -> None:
        await self._set(page_id, state="delivered", attempts=attempts, sent_at=at, last_error="")

    async def mark_failed(self, page_id: int, *, attempts: int, error: str) -> None:
        await self._set(page_id, state="failed", attempts=attempts, last_error=error[:2000])

    async def mark_no_one(self, page_id: int) -> None:
        await self._set(page_id, state="no_one", last_error="nobody left on the rota")

    async def _set(self, page_id: int, **values: object) -> None:
        with store_errors():
            async with self.db.sessions.begin() as session:
                await session.execute(
                    update(OnCallPageRow).where(OnCallPageRow.id == page_id).values(**values)
                )

    async def unacknowledged(self) -> dict[str, list[PageState]]:
        """The pages of every ticket still open at level 1 that no page of it has had
        acknowledged, by ticket number."""
        acked = (
            select(OnCallPageRow.ticket_number)
            .where(OnCallPageRow.acked_at.is_not(None))
            .scalar_subquery()
        )
        stmt = (
            select(OnCallPageRow)
            .join(TicketRow, TicketRow.number == OnCallPageRow.ticket_number)
            .where(
                TicketRow.level == _LEVEL_ONE,
                TicketRow.status.in_(sorted(s.value for s in OPEN_STATUSES)),
                OnCallPageRow.ticket_number.not_in(acked),
            )
            .order_by(OnCallPageRow.ticket_number, OnCallPageRow.seq)
        )
        out: dict[str, list[PageState]] = {}
        with store_errors():
            async with self.db.reads() as session:
                for row in (await session.scalars(stmt)).all():
                    out.setdefault(row.ticket_number, []).append(
                        PageState(row.seq, row.state, row.requested_at, row.sent_at, row.acked_at)
                    )
        return out

    async def last_page(self, ticket_number: str) -> Page | None:
        with store_errors():
            async with self.db.reads() as session:
                row = await session.scalar(
                    select(OnCallPageRow)
                    .where(OnCallPageRow.ticket_number == ticket_number)
                    .order_by(OnCallPageRow.seq.desc())
                    .limit(1)
                )
                return None if row is None else _page(row)

    async def raised_to_level_one(self, since: datetime) -> list[LevelOneTicket]:
        """Tickets an edit made level 1 at or after `since`, still open at level 1 and
        never paged."""
        paged = select(OnCallPageRow.ticket_number).scalar_subquery()
        stmt = (
            select(TicketRow.number, TicketRow.site_code, TicketRow.caller_number)
            .join(TicketHistoryRow, TicketHistoryRow.ticket_id == TicketRow.id)
            .where(
                and_(
                    TicketHistoryRow.field == "level",
                    TicketHistoryRow.new == str(_LEVEL_ONE),
                    TicketHistoryRow.at >= since.astimezone(UTC),
                ),
                TicketRow.level == _LEVEL_ONE,
                TicketRow.status.in_(sorted(s.value for s in OPEN_STATUSES)),
                TicketRow.number.not_in(paged),
            )
            .distinct()
        )
        with store_errors():
            async with self.db.reads() as session:
                rows = (await session.execute(stmt)).all()
        return [LevelOneTicket(r.number, r.site_code, r.caller_number) for r in rows]

    async def page_by_code(self, code: str) -> Page:
        with store_errors():
            async with self.db.reads() as session:
                row = await session.scalar(
                    select(OnCallPageRow).where(OnCallPageRow.ack_code == code)
                )
        if row is None:
            raise UnknownPage(code)
        return _page(row)

    async def acknowledge(
        self, *, by: str, at: datetime, code: str | None = None, page_id: int | None = None
    ) -> Page:
        """The first acknowledgement wins; raises UnknownPage."""
        where = OnCallPageRow.ack_code == code if code is not None else OnCallPageRow.id == page_id
        with store_errors():
            async with self.db.sessions.begin() as session:
                row = await session.scalar(select(OnCallPageRow).where(where).with_for_update())
                if row is None:
                    raise UnknownPage(code or str(page_id))
                if row.acked_at is None:
                    row.acked_at, row.acked_by = at, by[:100]
                return _page(row)

    async def pages(self, *, since: datetime | None = None, limit: int = 200) -> list[Page]:
        """Newest first."""
        stmt = select(OnCallPageRow).order_by(OnCallPageRow.id.desc()).limit(limit)
        if since is not None:
            stmt = stmt.where(OnCallPageRow.requested_at >= since.astimezone(UTC))
        with store_errors():
            async with self.db.reads() as session:
                return [_page(r) for r in (await session.scalars(stmt)).all()]

    async def all_engineers(self) -> Sequence[Shift]:
        """The latest shift of each engineer on the rota (their contact details)."""
        stmt = select(OnCallShiftRow).order_by(OnCallShiftRow.engineer, OnCallShiftRow.id.desc())
        latest: dict[str, Shift] = {}
        with store_errors():
            async with self.db.reads() as session:
                for row in (await session.scalars(stmt)).all():
                    latest.setdefault(row.engineer, _shift(row))
        return list(latest.values())
