"""`TicketStore` on SQLAlchemy: tickets, append-only history, service/progress logs, scores."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from calls.clock import Clock, utc_now
from routing.domain.deadlines import deadlines_for
from routing.domain.levels import SlaPolicy
from routing.domain.numbering import check_node
from routing.domain.spare_parts import PAIRS as PART_PAIRS
from routing.domain.spare_parts import matching_part_fields
from routing.domain.ticket_form import LONG_TEXT, history_text, validate_changes, validate_value
from routing.errors import InvalidInput, TicketNotFound
from routing.records import (
    NewTicket,
    Ticket,
    TicketFilter,
    TicketOpening,
    TicketSource,
    TicketStatus,
)
from storage.database import Database
from storage.errors import store_errors
from storage.group_commit import deferred
from storage.models import (
    SatisfactionScoreRow,
    SiteRow,
    TicketHistoryRow,
    TicketLogRow,
    TicketRow,
)
from storage.ticket_inserts import (
    insert_ticket,
    insert_tickets,
    new_ticket_fields,
)
from storage.ticket_numbers import next_ticket_number
from storage.ticket_rows import (
    HISTORY_INSERT,
    TICKETS,
    check_actor,
    check_call_id,
    like_pattern,
    network_text,
    to_ticket,
)

log = logging.getLogger(__name__)


# The columns the call events change (answer, callback, milestones), written by one
# constant statement.
CALL_EVENT_COLUMNS = frozenset(
    {"status", "duty_agent", "responded_at", "resolved_at", "closed_at", "updated_at"}
)


def _kept(session: AsyncSession, found: Row[Any] | None) -> TicketRow | None:
    """The detached row of `found`; in a group commit, the one an earlier job of the
    batch changed, if any (its changes are not written yet)."""
    if found is None:
        return None
    row = detached_row(found._mapping)
    batch = deferred(session)
    if batch is None:
        return row
    kept: TicketRow = batch.state.setdefault(("ticket", row.id), row)
    return kept


# Constant statements (compiled once): the values come as parameters.
_LOCKED_BY_NUMBER = select(TICKETS).where(TICKETS.c.number == bindparam("number")).with_for_update()
_LOCKED_BY_NUMBERS = (
    select(TICKETS)
    .where(TICKETS.c.number.in_(bindparam("numbers", expanding=True)))
    .order_by(TICKETS.c.id)
    .with_for_update()
)
_CALL_EVENT_UPDATE = (
    update(TICKETS)
    .where(TICKETS.c.id == bindparam("row_id"))
    .values({name: bindparam(f"new_{name}") for name in sorted(CALL_EVENT_COLUMNS)})
)


def detached_row(columns: Mapping[Any, Any]) -> TicketRow:
    """A ticket row object from a Core result's columns, outside any session: changing it
    writes nothing (`TicketRepository.save_state` does); other keys are left out."""
    return TicketRow(**{name: columns[name] for name in TICKETS.c.keys()})


def with_details(stmt: Select[TicketRow]) -> Select[TicketRow]:
    return stmt.options(selectinload(TicketRow.history), selectinload(TicketRow.log))


class TicketRepository:
    """Implements `routing.ports.TicketStore`.

    `node` is appended to ticket numbers when several controllers share one database;
    `tz` decides which calendar day a ticket number carries (the service desk's own).
    """

    def __init__(
        self,
        db: Database,
        *,
        node: str = "",
        tz: tzinfo = UTC,
        clock: Clock = utc_now,
        policy: SlaPolicy | None = None,
    ) -> None:
        self.db = db
        self.node = check_node(node)
        self.tz = tz
        self.clock = clock
        # With a policy, a level or site change recomputes the deadlines from the opening
        # time (and the new site's distance) in the same transaction, whoever edits.
        self.policy = policy

    # --- opening ---------------------------------------------------------------------------

    async def open_for_call(self, draft: NewTicket) -> TicketOpening:
        if draft.call_id is None:
            raise InvalidInput("call_id", "a call ticket needs the call id")
        check_call_id(draft.call_id)
        values = self.draft_values(draft)
        existing = await self.get_by_call(draft.call_id)
        if existing is not None:
            return TicketOpening(existing, created=False)
        try:
            with store_errors():
                async with self.db.sessions.begin() as session:
                    ticket = await self.insert_new(session, values, draft)
        except IntegrityError:
            # Another task or process opened it between our check and our insert.
            found = await self.get_by_call(draft.call_id)
            if found is None:
                raise
            log.info("call %s: ticket %s already opened elsewhere", draft.call_id, found.number)
            return TicketOpening(found, created=False)
        log.info("call %s: opened ticket %s (level %s)", draft.call_id, ticket.number, draft.level)
        return TicketOpening(ticket, created=True)

    async def create(self, draft: NewTicket) -> Ticket:
        if draft.call_id is not None:
            return (await self.open_for_call(draft)).ticket
        values = self.draft_values(draft)
        with store_errors():
            async with self.db.sessions.begin() as session:
                return await self.insert_new(session, values, draft)

    def draft_values(self, draft: NewTicket) -> dict[str, Any]:
        if draft.created_at.tzinfo is None:
            raise InvalidInput("created_at", "needs a UTC offset")
        values = validate_changes(
            {
                "level": draft.level,
                "site_code": draft.site_code,
                "status": draft.status,
                "description": draft.description,
                "caller_number": network_text(draft.caller_number, 64),
                "caller_name": network_text(draft.caller_name, 200),
                "organisation": network_text(draft.organisation, 200),
                "contact_name": network_text(draft.contact_name, 200),
                "contact_phone": network_text(draft.contact_phone, 64),
                "paper_number": draft.paper_number,
                "response_due": draft.response_due,
                "onsite_due": draft.onsite_due,
            }
        )
        values["source"] = TicketSource(draft.source).value
        for name, value in values.items():
            if isinstance(value, datetime):
                values[name] = value.astimezone(UTC)  # what a read gives back
        check_actor(draft.created_by)
        return values

    async def _allocate(self, session: AsyncSession, opened_at: datetime) -> str:
        day = opened_at.astimezone(self.tz).date()
        return await next_ticket_number(session, self.db.dialect, day, self.node)

    async def insert_new(
        self, session: AsyncSession, values: dict[str, Any], draft: NewTicket
    ) -> Ticket:
        """Insert the ticket and its first history row (Core statements: no unit of work
        to flush) and build its record from what was written, without reading it back."""
        number = await self._allocate(session, draft.created_at)
        return await insert_ticket(session, new_ticket_fields(values, draft, number), draft)

    async def insert_many(
        self, session: AsyncSession, drafts: Sequence[tuple[dict[str, Any], NewTicket]]
    ) -> builtins.list[Ticket]:
        """`insert_new` for each of `drafts` (checked values and draft), numbered in their
        order, the rows in one statement."""
        rows = []
        for values, draft in drafts:
            number = await self._allocate(session, draft.created_at)
            rows.append((new_ticket_fields(values, draft, number), draft))
        return await insert_tickets(session, rows)

    # --- shared by the call events' writes (storage.call_events) ------------------------

    @staticmethod
    async def state(
        session: AsyncSession,
        where: ColumnElement[bool],
        *,
        lock: bool = True,
        first: ColumnElement[bool] | None = None,
    ) -> TicketRow | None:
        """The ticket's own columns (no history, no log) in one Core statement, locked to
        the commit with `lock`; of several, the one matching `first`. A row object
        outside the session: changing it writes nothing until `save_state`."""
        stmt = select(TICKETS).where(where)
        if first is not None:
            stmt = stmt.order_by(first.desc().nulls_last()).limit(1)
        found = (await session.execute(stmt.with_for_update() if lock else stmt)).first()
        return _kept(session, found)

    @staticmethod
    async def state_of(session: AsyncSession, number: str) -> TicketRow | None:
        """`state` of ticket `number`, locked (a constant statement, compiled once); in a
        group commit, the row `lock_numbers` read already, if it did."""
        batch = deferred(session)
        if batch is not None:
            kept = batch.state.get(("ticket number", number))
            if isinstance(kept, TicketRow):
                return kept
        found = (await session.execute(_LOCKED_BY_NUMBER, {"number": number})).first()
        return _kept(session, found)

    @staticmethod
    async def lock_numbers(session: AsyncSession, numbers: Sequence[str]) -> None:
        """`state_of` for each of `numbers` in one statement, ahead of the jobs of a group
        commit that will ask for them: they get the rows from the transaction (the same
        objects as every other job's, so an earlier job's changes are seen)."""
        batch = deferred(session)
        if batch is None or not numbers:
            return
        params = {"numbers": sorted(set(numbers))}
        for found in (await session.execute(_LOCKED_BY_NUMBERS, params)).all():
            row = _kept(session, found)
            if row is not None:
                batch.state[("ticket number", row.number)] = row

    @staticmethod
    async def save_state(session: AsyncSession, row: TicketRow, changed: Sequence[str]) -> None:
        """Write the columns `changed` of a row from `state` (and its `updated_at`). In a
        group commit the call events' changes are left to the end of the batch, one
        executemany for every job's; a later job of the batch that reads the ticket gets
        the changed row from `state` (the row stays locked from the read to the commit)."""
        if not changed:
            return
        batch = deferred(session)
        if batch is not None and CALL_EVENT_COLUMNS.issuperset(changed):
            values = {f"new_{name}": getattr(row, name) for name in CALL_EVENT_COLUMNS}
            batch.add(_CALL_EVENT_UPDATE, values | {"row_id": row.id})
            return
        values = {name: getattr(row, name) for name in (*changed, "updated_at")}
        await session.execute(update(TICKETS).where(TICKETS.c.id == row.id).values(values))

    async def locked_state(
        self, session: AsyncSession, call_id: str, incident: str | None
    ) -> TicketRow | None:
        row = await session.scalar(
            select(TicketRow).where(TicketRow.call_id == call_id).with_for_update()
        )
        if row is None and incident:
            row = await session.scalar(
                select(TicketRow).where(TicketRow.number == incident).with_for_update()
            )
        return row

    def set_callback_due(
        self,
        session: AsyncSession,
        row: TicketRow,
        at: datetime,
        *,
        call_id: str | None = None,
        note: str = "caller hung up before an agent answered: call back",
        statuses: frozenset[str] = frozenset({TicketStatus.OPEN.value}),
    ) -> builtins.list[str]:
        """The ticket (in one of `statuses`) waits for a callback to the caller of call
        `call_id` (default: the call that opened it); the names of the columns changed."""
        if row.status not in statuses:
            return []
        status = {"status": TicketStatus.CALLBACK_DUE.value}
        changed = self.apply_changes(session, row, status, by="system", at=at, note=note)
        row.updated_at = at
        log.info("call %s: ticket %s is due for a callback", call_id or row.call_id, row.number)
        return changed

    # --- reading ---------------------------------------------------------------------------

    async def get(self, number: str) -> Ticket | None:
        with store_errors():
            async with self.db.reads() as session:
                row = await session.scalar(
                    with_details(select(TicketRow).where(TicketRow.number == number))
                )
                return None if row is None else to_ticket(row)

    async def get_by_call(self, call_id: str) -> Ticket | None:
        with store_errors():
            async with self.db.reads() as session:
                row = await session.scalar(
                    with_details(select(TicketRow).where(TicketRow.call_id == call_id))
                )
                return None if row is None else to_ticket(row)

    async def list(
        self, filters: TicketFilter | None = None, *, limit: int = 50, before: str | None = None
    ) -> Sequence[Ticket]:
        limit = max(1, min(limit, 500))
        stmt = select(TicketRow)
        if filters is not None:
            if filters.status is not None:
                stmt = stmt.where(TicketRow.status == TicketStatus(filters.status).value)
            if filters.level is not None:
                stmt = stmt.where(TicketRow.level == filters.level)
            if filters.site_code is not None:
                stmt = stmt.where(TicketRow.site_code == filters.site_code)
            if filters.call_id is not None:
                stmt = stmt.where(TicketRow.call_id == filters.call_id)
            if filters.text:
                pattern = like_pattern(filters.text[:200])
                stmt = stmt.where(
                    or_(
                        TicketRow.number.ilike(pattern, escape="\\"),
                        TicketRow.description.ilike(pattern, escape="\\"),
                        TicketRow.caller_number.ilike(pattern, escape="\\"),
                        TicketRow.organisation.ilike(pattern, escape="\\"),
                    )
                )
        with store_errors():
            async with self.db.reads() as session:
                if before is not None:
                    cursor = (
                        await session.execute(
                            select(TicketRow.created_at, TicketRow.id).where(
                                TicketRow.number == before
                            )
                        )
                    ).first()
                    if cursor is None:
                        return []
                    stmt = stmt.where(
                        or_(
                            TicketRow.created_at < cursor.created_at,
                            and_(
                                TicketRow.created_at == cursor.created_at,
                                TicketRow.id < cursor.id,
                            ),
                        )
                    )
                stmt = stmt.order_by(TicketRow.created_at.desc(), TicketRow.id.desc()).limit(limit)
                rows = (await session.scalars(with_details(stmt))).all()
                return [to_ticket(r) for r in rows]

    # --- changing --------------------------------------------------------------------------

    async def update(
        self,
        number: str,
        changes: Mapping[str, object],
        by: str,
        *,
        note: str = "",
        at: datetime | None = None,
    ) -> Ticket:
        check_actor(by)
        if len(note) > LONG_TEXT:
            raise InvalidInput("note", f"at most {LONG_TEXT} characters")
        values = validate_changes(changes)  # nothing is written if any value is bad
        when = at or self.clock()
        with store_errors():
            async with self.db.sessions.begin() as session:
                row = await self._locked(session, number)
                await self._recompute_deadlines(session, row, values)
                self.add_milestones(row, values, when)
                values.update(
                    matching_part_fields(
                        values,
                        {name: getattr(row, name) for pair in PART_PAIRS for name in pair},
                        when,
                        self.tz,
                    )
                )
                changed = self.apply_changes(session, row, values, by=by, at=when, note=note)
                if changed:
                    row.updated_at = when
        ticket = await self.get(number)
        assert ticket is not None
        if changed:
            log.info(
                "call %s: ticket %s changed by %s: %s",
                ticket.call_id or "-",
                number,
                by,
                ", ".join(changed),
            )
        return ticket

    async def _locked(self, session: AsyncSession, number: str) -> TicketRow:
        row = await session.scalar(
            select(TicketRow).where(TicketRow.number == number).with_for_update()
        )
        if row is None:
            raise TicketNotFound(number)
        return row

    async def _recompute_deadlines(
        self, session: AsyncSession, row: TicketRow, values: dict[str, Any]
    ) -> None:
        if self.policy is None or "response_due" in values or "onsite_due" in values:
            return
        level = values.get("level", row.level)
        site_code = values.get("site_code", row.site_code)
        if level == row.level and site_code == row.site_code:
            return
        distance = None
        if site_code is not None:
            distance = await session.scalar(
                select(SiteRow.distance_km).where(SiteRow.site_code == site_code)
            )
        due = deadlines_for(self.policy, level, row.created_at, distance)
        values["response_due"] = due.response_due
        values["onsite_due"] = due.onsite_due

    @staticmethod
    def add_milestones(row: TicketRow, values: dict[str, Any], at: datetime) -> None:
        status = values.get("status")
        if status is None or status == row.status:
            return
        if status != TicketStatus.CALLBACK_DUE and row.responded_at is None:
            if status != TicketStatus.OPEN:
                values.setdefault("responded_at", at)
        if status in (TicketStatus.RESOLVED, TicketStatus.CLOSED) and row.resolved_at is None:
            values.setdefault("resolved_at", at)
        if status == TicketStatus.CLOSED and row.closed_at is None:
            values.setdefault("closed_at", at)

    @staticmethod
    def apply_changes(
        session: AsyncSession,
        row: TicketRow,
        values: Mapping[str, Any],
        *,
        by: str,
        at: datetime,
        note: str,
    ) -> builtins.list[str]:
        """Set `values` on `row`, each change with its history row; the names changed.
        In a group commit the history rows are left to the end of the batch (one
        executemany for every job's), so another job of the same batch that reads this
        ticket's history does not see them yet."""
        changed: builtins.list[str] = []
        batch = deferred(session)
        for name, new in values.items():
            old = getattr(row, name)
            if old == new:
                continue
            setattr(row, name, new)
            changed.append(name)
            entry = {
                "ticket_id": row.id,
                "at": at,
                "by": by,
                "field": name,
                "old": history_text(old),
                "new": history_text(new),
                "note": note,
            }
            if batch is not None:
                batch.add(HISTORY_INSERT, entry)
            else:
                session.add(TicketHistoryRow(**entry))
        return changed

    async def mark_callback_due(self, call_id: str, at: datetime) -> Ticket | None:
        with store_errors():
            async with self.db.sessions.begin() as session:
                row = await self.locked_state(session, call_id, None)
                if row is None:
                    return None
                number = row.number
                self.set_callback_due(session, row, at)
        return await self.get(number)

    async def add_service_entry(
        self, number: str, *, symptom: str, action: str, result: str, by: str, at: datetime
    ) -> Ticket:
        check_actor(by)
        texts = {
            "symptom": validate_value("description", symptom),
            "action": validate_value("description", action),
            "result": validate_value("description", result),
        }
        with store_errors():
            async with self.db.sessions.begin() as session:
                row = await self._locked(session, number)
                session.add(TicketLogRow(ticket_id=row.id, kind="service", at=at, by=by, **texts))
                session.add(
                    TicketHistoryRow(
                        ticket_id=row.id,
                        at=at,
                        by=by,
                        field="service_log",
                        old=None,
                        new=" | ".join(texts.values()),
                    )
                )
                row.updated_at = at
        ticket = await self.get(number)
        assert ticket is not None
        return ticket

    async def add_progress(self, number: str, *, text: str, by: str, at: datetime) -> Ticket:
        check_actor(by)
        clean = validate_value("description", text)
        with store_errors():
            async with self.db.sessions.begin() as session:
                row = await self._locked(session, number)
                session.add(
                    TicketLogRow(ticket_id=row.id, kind="progress", at=at, by=by, text=clean)
                )
                session.add(
                    TicketHistoryRow(
                        ticket_id=row.id, at=at, by=by, field="progress_log", old=None, new=clean
                    )
                )
                row.updated_at = at
        ticket = await self.get(number)
        assert ticket is not None
        return ticket

    async def record_satisfaction(
        self, number: str, score: int | None, *, at: datetime, call_id: str | None = None
    ) -> Ticket:
        if score is not None and (
            isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5
        ):
            raise InvalidInput("score", "must be 1-5, or None for not applicable")
        with store_errors():
            async with self.db.sessions.begin() as session:
                row = await self._locked(session, number)
                session.add(
                    SatisfactionScoreRow(
                        call_id=call_id or row.call_id, ticket_number=number, score=score, at=at
                    )
                )
                session.add(
                    TicketHistoryRow(
                        ticket_id=row.id,
                        at=at,
                        by="survey",
                        field="satisfaction",
                        old=history_text(row.satisfaction),
                        new=history_text(score),
                        note="" if score is not None else "not applicable / no answer",
                    )
                )
                row.satisfaction = score
                row.satisfaction_at = at
                row.updated_at = at
        ticket = await self.get(number)
        assert ticket is not None
        return ticket
