"""`CallStore` on SQLAlchemy: exactly one row per call id, upserted as the call progresses."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from calls import CallSnapshot
from calls.clock import Clock, utc_now
from routing.errors import InvalidInput, StoreUnavailable
from routing.records import CallFilter, CallRecord
from storage.database import Database
from storage.errors import store_errors
from storage.group_commit import deferred
from storage.models import CallRow
from storage.ticket_rows import check_call_id

log = logging.getLogger(__name__)

_LIMITS = {
    "caller_number": 64,
    "caller_name": 200,
    "site_code": 32,
    "queue": 64,
    "agent": 100,
    "agent_interface": 100,
    "ticket_number": 40,
    "paper_number": 64,
    "recording": 128,
}


def to_call(row: CallRow | Row[Any]) -> CallRecord:
    return CallRecord(
        call_id=row.call_id,
        caller_number=row.caller_number,
        caller_name=row.caller_name,
        site_code=row.site_code,
        level=row.level,
        queue=row.queue,
        agent=row.agent,
        agent_interface=row.agent_interface,
        started_at=row.started_at,
        queued_at=row.queued_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        outcome=row.outcome,
        ticket_number=row.ticket_number,
        paper_number=row.paper_number,
        hold_seconds=row.hold_seconds,
        talk_seconds=row.talk_seconds,
        recording=row.recording,
    )


_WRITTEN = [c for c in CallRow.__table__.c if c.name != "id"]


def _clip(name: str, value: str | None) -> str | None:
    """Caller ids come from the network: keep them, but bounded and without CR/LF."""
    if value is None:
        return None
    cleaned = value.replace("\r", " ").replace("\n", " ").replace("\0", "")
    return cleaned[: _LIMITS[name]]


def upsert_statement(dialect: str) -> postgresql.Insert | sqlite.Insert:
    """The call-record upsert, built once: every column a bound parameter of the same name.
    A later snapshot never erases what an earlier one knew (e.g. after a resync)."""
    table: Table = CallRow.__table__  # type: ignore[assignment]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values({c.name: bindparam(c.name, type_=c.type) for c in _WRITTEN})
    keep: dict[str, Any] = {
        c.name: func.coalesce(stmt.excluded[c.name], c)
        for c in _WRITTEN
        if c.name not in ("call_id", "started_at", "caller_number", "caller_name")
    }
    earliest = func.least if dialect == "postgresql" else func.min
    keep["started_at"] = earliest(stmt.excluded.started_at, table.c.started_at)
    return stmt.on_conflict_do_update(index_elements=[table.c.call_id], set_=keep)


class CallRepository:
    """Implements `routing.ports.CallStore`."""

    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self.db = db
        self.clock = clock
        self._upsert = upsert_statement(db.dialect)

    def values(
        self,
        call: CallSnapshot,
        *,
        agent: str | None = None,
        ticket_number: str | None = None,
        paper_number: str | None = None,
    ) -> dict[str, Any]:
        """The call record's columns from `call` (bounded, checked)."""
        check_call_id(call.call_id)
        if call.started_at.tzinfo is None:
            raise InvalidInput("started_at", "needs a UTC offset")
        site = call.site_code if call.site_code and call.site_code.isdigit() else None
        return {
            "call_id": call.call_id,
            "caller_number": _clip("caller_number", call.caller_number) or "",
            "caller_name": _clip("caller_name", call.caller_name) or "",
            "site_code": _clip("site_code", site),
            "level": call.level,
            "queue": _clip("queue", call.queue),
            "agent": _clip("agent", agent),
            "agent_interface": _clip("agent_interface", call.agent_interface),
            "started_at": call.started_at,
            "queued_at": call.queued_at,
            "answered_at": call.answered_at,
            "ended_at": call.ended_at,
            "outcome": call.outcome.value if call.outcome is not None else None,
            "ticket_number": _clip("ticket_number", ticket_number),
            "paper_number": _clip("paper_number", paper_number),
            "hold_seconds": call.hold_seconds,
            "talk_seconds": call.talk_seconds,
            "recording": _clip("recording", call.recording),
            "updated_at": self.clock(),
        }

    async def write(
        self,
        session: AsyncSession,
        call: CallSnapshot,
        *,
        agent: str | None = None,
        ticket_number: str | None = None,
    ) -> None:
        """Upsert `call`'s record inside `session`'s transaction: one constant statement,
        no row handed back (the call events' writes need none). In a group commit it is
        left to the end of the batch, where every call's record is one executemany."""
        values = self.values(call, agent=agent, ticket_number=ticket_number)
        batch = deferred(session)
        if batch is not None:
            batch.add(self._upsert, values)
        else:
            await session.execute(self._upsert, values)

    async def upsert(
        self,
        call: CallSnapshot,
        *,
        agent: str | None = None,
        ticket_number: str | None = None,
        paper_number: str | None = None,
    ) -> CallRecord:
        values = self.values(
            call, agent=agent, ticket_number=ticket_number, paper_number=paper_number
        )
        # RETURNING hands back the merged row in the same round trip.
        stmt = self._upsert.returning(*CallRow.__table__.c)
        with store_errors():
            async with self.db.sessions.begin() as session:
                row = (await session.execute(stmt, values)).first()
                if row is None:
                    raise StoreUnavailable(f"call {call.call_id}: upsert returned no row")
                return to_call(row)

    async def get(self, call_id: str) -> CallRecord | None:
        with store_errors():
            async with self.db.reads() as session:
                row = await session.scalar(select(CallRow).where(CallRow.call_id == call_id))
                return None if row is None else to_call(row)

    async def open_calls(self, started_before: datetime, *, limit: int = 500) -> list[CallRecord]:
        """Call records with no end, oldest first, of calls started before
        `started_before`: live calls, or calls that ended while no controller watched."""
        stmt = (
            select(CallRow)
            .where(CallRow.ended_at.is_(None), CallRow.started_at < started_before)
            .order_by(CallRow.started_at, CallRow.id)
            .limit(limit)
        )
        with store_errors():
            async with self.db.reads() as session:
                return [to_call(r) for r in (await session.scalars(stmt)).all()]

    async def list(
        self, filters: CallFilter | None = None, *, limit: int = 50, before: str | None = None
    ) -> Sequence[CallRecord]:
        limit = max(1, min(limit, 500))
        stmt = select(CallRow)
        if filters is not None:
            if filters.call_id is not None:
                stmt = stmt.where(CallRow.call_id == filters.call_id)
            if filters.outcome is not None:
                stmt = stmt.where(CallRow.outcome == filters.outcome)
            if filters.site_code is not None:
                stmt = stmt.where(CallRow.site_code == filters.site_code)
        with store_errors():
            async with self.db.reads() as session:
                if before is not None:
                    cursor = (
                        await session.execute(
                            select(CallRow.started_at, CallRow.id).where(CallRow.call_id == before)
                        )
                    ).first()
                    if cursor is None:
                        return []
                    stmt = stmt.where(
                        or_(
                            CallRow.started_at < cursor.started_at,
                            and_(CallRow.started_at == cursor.started_at, CallRow.id < cursor.id),
                        )
                    )
                stmt = stmt.order_by(CallRow.started_at.desc(), CallRow.id.desc()).limit(limit)
                return [to_call(r) for r in (await session.scalars(stmt)).all()]

    async def attached_to(
        self, tickets: Sequence[tuple[str, str | None]]
    ) -> dict[str, Sequence[CallRecord]]:
        """The calls of each ticket `(number, call_id)`: the call that opened it and every
        call whose record carries its number, oldest first."""
        if not tickets:
            return {}
        numbers = [number for number, _ in tickets]
        opener = {call_id: number for number, call_id in tickets if call_id}
        stmt = (
            select(CallRow)
            .where(or_(CallRow.ticket_number.in_(numbers), CallRow.call_id.in_(list(opener))))
            .order_by(CallRow.started_at, CallRow.id)
        )
        found: dict[str, Sequence[CallRecord]] = {number: () for number in numbers}
        with store_errors():
            async with self.db.reads() as session:
                rows = (await session.scalars(stmt)).all()
        for row in rows:
            owners = {row.ticket_number, opener.get(row.call_id)}
            for number in owners:
                if number is not None and number in found:
                    found[number] = (*found[number], to_call(row))
        return found

    async def forget_recordings(self, started_before: datetime) -> Sequence[str]:
        """Unlink the recordings of calls started before `started_before`; the file names
        that were linked, for the caller to delete."""
        which = (CallRow.recording.is_not(None), CallRow.started_at < started_before)
        with store_errors():
            async with self.db.sessions.begin() as session:
                linked = [
                    n
                    for n in (await session.scalars(select(CallRow.recording).where(*which))).all()
                    if n
                ]
                if linked:
                    await session.execute(
                        update(CallRow)
                        .where(*which)
                        .values(recording=None, updated_at=self.clock())
                    )
        return linked
