"""`CallStore` on SQLAlchemy: exactly one row per call id, upserted as the call progresses."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from calls import CallSnapshot
from calls.clock import Clock, utc_now
from routing.errors import InvalidInput, StoreUnavailable
from routing.records import CallFilter, CallRecord
from storage.database import Database
from storage.errors import store_errors
from storage.models import CallRow
from storage.tickets import check_call_id

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
}


def to_call(row: CallRow) -> CallRecord:
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
    )


def _clip(name: str, value: str | None) -> str | None:
    """Caller ids come from the network: keep them, but bounded and without CR/LF."""
    if value is None:
        return None
    cleaned = value.replace("\r", " ").replace("\n", " ").replace("\0", "")
    return cleaned[: _LIMITS[name]]


class CallRepository:
    """Implements `routing.ports.CallStore`."""

    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self.db = db
        self.clock = clock

    async def upsert(
        self,
        call: CallSnapshot,
        *,
        agent: str | None = None,
        ticket_number: str | None = None,
        paper_number: str | None = None,
    ) -> CallRecord:
        check_call_id(call.call_id)
        site = call.site_code if call.site_code and call.site_code.isdigit() else None
        values: dict[str, Any] = {
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
            "updated_at": self.clock(),
        }
        if call.started_at.tzinfo is None:
            raise InvalidInput("started_at", "needs a UTC offset")
        insert = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        stmt = insert(CallRow).values(**values)
        # A later snapshot never erases what an earlier one knew (e.g. after a resync).
        keep: dict[str, Any] = {
            name: func.coalesce(getattr(stmt.excluded, name), getattr(CallRow, name))
            for name in values
            if name not in ("call_id", "started_at", "caller_number", "caller_name")
        }
        keep["started_at"] = func.min(stmt.excluded.started_at, CallRow.started_at)
        if self.db.dialect == "postgresql":
            keep["started_at"] = func.least(stmt.excluded.started_at, CallRow.started_at)
        stmt = stmt.on_conflict_do_update(index_elements=[CallRow.call_id], set_=keep)
        # RETURNING hands back the merged row in the same round trip: this runs several
        # times per call, and a separate read doubled its cost under a flash crowd.
        with store_errors():
            async with self.db.sessions.begin() as session:
                row = await session.scalar(
                    stmt.returning(CallRow), execution_options={"populate_existing": True}
                )
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
