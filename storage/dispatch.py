"""`supervision.dispatch.ports.DispatchStore` on SQLAlchemy: engineer dispatches, their
check-ins and the ticket fields they set (each change in the ticket's history)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from routing.errors import InvalidInput, TicketNotFound
from routing.records import OPEN_STATUSES, TicketStatus
from storage.database import Database
from storage.errors import store_errors
from storage.models import (
    DispatchRow,
    EngineerRow,
    SiteEngineerRow,
    SiteRow,
    TicketPauseRow,
    TicketRow,
)
from storage.tickets import TicketRepository
from supervision.dispatch.ports import (
    DispatchOrder,
    DispatchRecord,
    DispatchStore,
    EngineerChoice,
)
from supervision.domain.dispatch import (
    CheckinRefused,
    CheckinStep,
    DispatchState,
    Refusal,
    StepEffects,
    step_effects,
)
from supervision.domain.sla import Pause

log = logging.getLogger(__name__)

_OPEN = frozenset(s.value for s in OPEN_STATUSES)


def _record(row: DispatchRow, ticket_number: str) -> DispatchRecord:
    return DispatchRecord(
        id=row.id,
        ticket_number=ticket_number,
        engineer=row.engineer,
        phone=row.phone,
        channel=row.channel,
        dispatched_by=row.dispatched_by,
        dispatched_at=row.dispatched_at,
        expires_at=row.expires_at,
        superseded_at=row.superseded_at,
        on_the_way_at=row.on_the_way_at,
        arrived_at=row.arrived_at,
        fixed_at=row.fixed_at,
        part_needed_at=row.part_needed_at,
        latitude=row.latitude,
        longitude=row.longitude,
        notice_state=row.notice_state,
        notice_error=row.notice_error,
    )


class DispatchRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _ticket(self, session: AsyncSession, number: str) -> TicketRow:
        row = await session.scalar(
            select(TicketRow).where(TicketRow.number == number).with_for_update()
        )
        if row is None:
            raise TicketNotFound(number)
        return row

    @staticmethod
    def _change_ticket(
        session: AsyncSession,
        row: TicketRow,
        values: Mapping[str, Any],
        *,
        by: str,
        at: datetime,
        note: str,
    ) -> None:
        changes = dict(values)
        status = changes.get("status")
        if status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            if row.responded_at is None:
                changes.setdefault("responded_at", at)
            if row.resolved_at is None:
                changes.setdefault("resolved_at", at)
        if TicketRepository.apply_changes(session, row, changes, by=by, at=at, note=note):
            row.updated_at = at

    async def dispatch(self, order: DispatchOrder) -> DispatchRecord:
        with store_errors():
            async with self.db.sessions.begin() as session:
                ticket = await self._ticket(session, order.ticket_number)
                if ticket.status not in _OPEN:
                    raise InvalidInput("number", f"ticket {ticket.number} is {ticket.status}")
                await session.execute(
                    update(DispatchRow)
                    .where(DispatchRow.ticket_id == ticket.id, DispatchRow.superseded_at.is_(None))
                    .values(superseded_at=order.at)
                )
                row = DispatchRow(
                    ticket_id=ticket.id,
                    engineer=order.engineer,
                    phone=order.phone,
                    channel=order.channel,
                    address=order.address,
                    link_base=order.link_base[:500],
                    dispatched_by=order.by,
                    dispatched_at=order.at,
                    expires_at=order.expires_at,
                    notice_state="pending",
                    notice_error="",
                )
                session.add(row)
                await session.flush()
                self._change_ticket(
                    session,
                    ticket,
                    {"onsite_engineer": order.engineer, "dispatched_at": order.at},
                    by=order.by,
                    at=order.at,
                    note=f"dispatch #{row.id}: {order.engineer}"
                    + (f" via {order.channel}" if order.channel else ""),
                )
                return _record(row, ticket.number)

    async def check_in(
        self,
        dispatch_id: int,
        ticket_number: str,
        step: CheckinStep,
        at: datetime,
        location: tuple[float, float, float | None] | None = None,
    ) -> tuple[StepEffects, DispatchRecord]:
        with store_errors():
            async with self.db.sessions.begin() as session:
                ticket = await self._ticket(session, ticket_number)
                row = await session.scalar(
                    select(DispatchRow)
                    .where(DispatchRow.id == dispatch_id, DispatchRow.ticket_id == ticket.id)
                    .with_for_update()
                )
                if row is None:
                    raise CheckinRefused(Refusal.UNKNOWN)
                state = DispatchState(
                    superseded=row.superseded_at is not None,
                    ticket_open=ticket.status in _OPEN,
                    on_the_way_at=row.on_the_way_at,
                    arrived_at=row.arrived_at,
                    fixed_at=row.fixed_at,
                    part_needed_at=row.part_needed_at,
                    ticket_onsite_at=ticket.onsite_at,
                    ticket_part_needed_at=ticket.part_needed_at,
                )
                effects = step_effects(state, step, at)
                for name, value in effects.dispatch.items():
                    setattr(row, name, value)
                if location is not None and "arrived_at" in effects.dispatch:
                    row.latitude, row.longitude, row.accuracy_m = location
                if effects.ticket:
                    self._change_ticket(
                        session,
                        ticket,
                        effects.ticket,
                        by=f"engineer {row.engineer}"[:100],
                        at=at,
                        note=f"check-in from the phone: {step.value} (dispatch #{row.id})",
                    )
                await session.flush()
                return effects, _record(row, ticket.number)

    async def get(self, dispatch_id: int, ticket_number: str) -> DispatchRecord | None:
        async with self.db.sessions() as session:
            row = await session.scalar(
                select(DispatchRow)
                .join(TicketRow, TicketRow.id == DispatchRow.ticket_id)
                .where(DispatchRow.id == dispatch_id, TicketRow.number == ticket_number)
            )
            return _record(row, ticket_number) if row is not None else None

    async def for_ticket(self, ticket_number: str) -> list[DispatchRecord]:
        async with self.db.sessions() as session:
            rows = (
                await session.scalars(
                    select(DispatchRow)
                    .join(TicketRow, TicketRow.id == DispatchRow.ticket_id)
                    .where(TicketRow.number == ticket_number)
                    .order_by(DispatchRow.id)
                )
            ).all()
            return [_record(r, ticket_number) for r in rows]

    async def active(self, numbers: Sequence[str]) -> dict[str, DispatchRecord]:
        if not numbers:
            return {}
        out: dict[str, DispatchRecord] = {}
        async with self.db.sessions() as session:
            for start in range(0, len(numbers), 500):
                rows = (
                    await session.execute(
                        select(DispatchRow, TicketRow.number)
                        .join(TicketRow, TicketRow.id == DispatchRow.ticket_id)
                        .where(
                            TicketRow.number.in_(numbers[start : start + 500]),
                            DispatchRow.superseded_at.is_(None),
                        )
                    )
                ).all()
                for row, number in rows:
                    out[number] = _record(row, number)
        return out

    async def pauses(self, numbers: Sequence[str]) -> dict[str, list[Pause]]:
        out: dict[str, list[Pause]] = {}
        if not numbers:
            return out
        async with self.db.sessions() as session:
            for start in range(0, len(numbers), 500):
                rows = (
                    await session.execute(
                        select(
                            TicketPauseRow.ticket_number,
                            TicketPauseRow.started_at,
                            TicketPauseRow.ended_at,
                        ).where(TicketPauseRow.ticket_number.in_(numbers[start : start + 500]))
                    )
                ).all()
                for number, began, ended in rows:
                    out.setdefault(number, []).append(Pause(began, ended))
        return out

    async def unsent(self, now: datetime) -> list[tuple[DispatchRecord, str, str]]:
        """Current dispatches whose notice is still pending or retrying, with the address,
        while their links still work."""
        with store_errors():
            async with self.db.sessions() as session:
                rows = (
                    await session.execute(
                        select(DispatchRow, TicketRow.number)
                        .join(TicketRow, TicketRow.id == DispatchRow.ticket_id)
                        .where(
                            DispatchRow.notice_state.in_(("pending", "retrying")),
                            DispatchRow.superseded_at.is_(None),
                            DispatchRow.expires_at > now,
                            DispatchRow.channel != "",
                        )
                        .order_by(DispatchRow.id)
                    )
                ).all()
        return [(_record(row, number), row.address, row.link_base) for row, number in rows]

    async def note_notice(self, dispatch_id: int, state: str, error: str = "") -> None:
        with store_errors():
            async with self.db.sessions.begin() as session:
                await session.execute(
                    update(DispatchRow)
                    .where(DispatchRow.id == dispatch_id)
                    .values(notice_state=state[:16], notice_error=error[:2000])
                )

    async def engineers(self, site_code: str | None) -> list[EngineerChoice]:
        async with self.db.sessions() as session:
            assigned: list[EngineerChoice] = []
            if site_code is not None:
                rows = (
                    await session.execute(
                        select(EngineerRow.name, EngineerRow.phone)
                        .join(SiteEngineerRow, SiteEngineerRow.engineer_id == EngineerRow.id)
                        .join(SiteRow, SiteRow.id == SiteEngineerRow.site_id)
                        .where(SiteRow.site_code == site_code)
                        .order_by(SiteEngineerRow.position, EngineerRow.name)
                    )
                ).all()
                assigned = [EngineerChoice(name, phone, True) for name, phone in rows]
            taken = {e.name for e in assigned}
            everyone = (
                await session.execute(
                    select(EngineerRow.name, EngineerRow.phone).order_by(EngineerRow.name)
                )
            ).all()
        return assigned + [
            EngineerChoice(name, phone, False) for name, phone in everyone if name not in taken
        ]


def _satisfies_the_port(repo: DispatchRepository) -> DispatchStore:
    """Never called: mypy checks here that the repository implements the port."""
    return repo
