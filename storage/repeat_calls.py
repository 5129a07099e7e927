"""`RepeatCallStore` on SQLAlchemy: a site's open tickets, and calls joined to or split
from a ticket (history entries plus the call record's ticket number)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select, update

from routing.domain.repeat_calls import OPEN_STATUSES, OpenTicketView
from routing.errors import TicketNotFound
from storage.database import Database
from storage.errors import store_errors
from storage.models import CallRow, TicketHistoryRow, TicketRow
from storage.tickets import check_actor, check_call_id, network_text

REPEAT_FIELD = "repeat_call"
SPLIT_FIELD = "split_call"


class RepeatCallRepository:
    """Implements `routing.ports.RepeatCallStore`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def open_at_site(self, site_code: str, since: datetime) -> Sequence[OpenTicketView]:
        stmt = (
            select(
                TicketRow.number,
                TicketRow.level,
                TicketRow.status,
                TicketRow.created_at,
                TicketRow.call_id,
            )
            .where(
                TicketRow.site_code == site_code,
                TicketRow.status.in_(sorted(OPEN_STATUSES)),
                TicketRow.created_at >= since.astimezone(UTC),
            )
            .order_by(TicketRow.created_at.desc())
            .limit(50)
        )
        with store_errors():
            async with self.db.reads() as session:
                rows = (await session.execute(stmt)).all()
        return [OpenTicketView(r.number, r.level, r.status, r.created_at, r.call_id) for r in rows]

    async def note_repeat_call(
        self, number: str, *, call_id: str, caller_number: str, at: datetime
    ) -> bool:
        """Add the "repeat call" history entry once per call; False if it was there."""
        check_call_id(call_id)
        caller = network_text(caller_number, 64) or "unknown number"
        note = f"repeat call from {caller} (call {call_id}) joined this ticket"
        return await self._note(number, REPEAT_FIELD, call_id, note, "system", at, once=True)

    async def note_split(
        self, number: str, *, call_id: str, new_number: str, by: str, at: datetime
    ) -> None:
        check_call_id(call_id)
        check_actor(by)
        note = f"call {call_id} split off into ticket {new_number}"
        await self._note(number, SPLIT_FIELD, call_id, note, by, at, once=False)

    async def _note(
        self,
        number: str,
        field: str,
        call_id: str,
        note: str,
        by: str,
        at: datetime,
        *,
        once: bool,
    ) -> bool:
        with store_errors():
            async with self.db.sessions.begin() as session:
                ticket_id = await session.scalar(
                    select(TicketRow.id).where(TicketRow.number == number).with_for_update()
                )
                if ticket_id is None:
                    raise TicketNotFound(number)
                if once:
                    seen = await session.scalar(
                        select(TicketHistoryRow.id).where(
                            TicketHistoryRow.ticket_id == ticket_id,
                            TicketHistoryRow.field == field,
                            TicketHistoryRow.new == call_id,
                        )
                    )
                    if seen is not None:
                        return False
                session.add(
                    TicketHistoryRow(
                        ticket_id=ticket_id,
                        at=at,
                        by=by,
                        field=field,
                        old=None,
                        new=call_id,
                        note=note,
                    )
                )
                await session.execute(
                    update(TicketRow).where(TicketRow.id == ticket_id).values(updated_at=at)
                )
        return True

    async def ticket_number_of_call(self, call_id: str) -> str | None:
        """The ticket the call record points at (its own, or the one it joined)."""
        with store_errors():
            async with self.db.reads() as session:
                return await session.scalar(
                    select(CallRow.ticket_number).where(CallRow.call_id == call_id)
                )

    async def move_call(self, call_id: str, number: str) -> bool:
        """Point the call record at another ticket; False when there is no such call."""
        with store_errors():
            async with self.db.sessions.begin() as session:
                result = await session.execute(
                    update(CallRow).where(CallRow.call_id == call_id).values(ticket_number=number)
                )
        return bool(getattr(result, "rowcount", 0))
