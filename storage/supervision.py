"""The supervision ports on SQLAlchemy: sent steps, notices, acks, ticket pauses, the open
tickets the SLA engine looks at, and the day's call records for the wallboard.

`SupervisionRepository` implements `supervision.ports.SupervisionStore`,
`OpenTicketSource` and `CallHistory` (checked by mypy at the bottom of this module)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, and_, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from routing.domain.levels import FaultLevel
from routing.records import OPEN_STATUSES, TicketStatus
from storage.database import Database
from storage.models import (
    CallRow,
    DispatchRow,
    EscalationStepRow,
    NoticeRow,
    SiteRow,
    TicketPauseRow,
    TicketRow,
)
from supervision.domain.errors import SupervisionStoreError, UnknownAckCode
from supervision.domain.escalation import Action, ChannelKind, NoticeRecord, StepRecord
from supervision.domain.sla import Pause, SlaTicket
from supervision.ports import CallHistory, OpenTicketSource, SupervisionStore
from supervision.records import CallTally, NoticeDraft, StoredNotice

log = logging.getLogger(__name__)

OPEN = sorted(s.value for s in OPEN_STATUSES)


def _notice(row: NoticeRow) -> StoredNotice:
    return StoredNotice(
        row.id,
        row.step_key,
        row.ticket_number,
        row.recipient,
        row.channel,
        ChannelKind(row.channel_kind),
        row.title,
        row.body,
        row.ack_code,
        row.state,
        row.attempts,
        row.last_error,
        row.created_at,
        row.delivered_at,
        row.acked_at,
        row.acked_by,
    )


class SupervisionRepository:
    """The escalation log, acknowledgements, pauses and open tickets of one database."""

    def __init__(self, db: Database) -> None:
        self._sessions: async_sessionmaker[AsyncSession] = db.sessions

    # --- the sent log -----------------------------------------------------------------

    async def load_log(
        self,
    ) -> tuple[list[StepRecord], list[tuple[int, str, NoticeRecord]]]:
        """Every step taken for a ticket still open (without notices), and the notices of
        those steps as (notice id, step key, record)."""
        try:
            async with self._sessions() as s:
                open_numbers = select(TicketRow.number).where(TicketRow.status.in_(OPEN))
                steps = (
                    await s.execute(
                        select(
                            EscalationStepRow.key,
                            EscalationStepRow.ticket_number,
                            EscalationStepRow.taken_at,
                        ).where(EscalationStepRow.ticket_number.in_(open_numbers))
                    )
                ).all()
                notices = (
                    await s.execute(
                        select(
                            NoticeRow.id,
                            NoticeRow.step_key,
                            NoticeRow.channel_kind,
                            NoticeRow.delivered_at,
                            NoticeRow.acked_at,
                            NoticeRow.failed_at,
                        )
                        .where(NoticeRow.ticket_number.in_(open_numbers))
                        .order_by(NoticeRow.id)
                    )
                ).all()
        except SQLAlchemyError as exc:
            raise SupervisionStoreError(f"cannot load the escalation log: {exc}") from exc
        return (
            [StepRecord(key, number, taken) for key, number, taken in steps],
            [
                (nid, key, NoticeRecord(ChannelKind(kind), delivered, acked, failed))
                for nid, key, kind, delivered, acked, failed in notices
            ],
        )

    async def record_steps(
        self, items: Sequence[tuple[Action, Sequence[NoticeDraft]]], at: datetime
    ) -> dict[str, list[StoredNotice]]:
        """Write steps and their pending notices, one transaction per batch.

        Steps already recorded (by an earlier pass or another process) are left out of the
        result: the caller sends only what this call wrote, so no step is sent twice.
        """
        written: dict[str, list[StoredNotice]] = {}
        for start in range(0, len(items), 500):
            batch = items[start : start + 500]
            try:
                async with self._sessions() as s, s.begin():
                    keys = [a.key for a, _ in batch]
                    existing = set(
                        (
                            await s.execute(
                                select(EscalationStepRow.key).where(EscalationStepRow.key.in_(keys))
                            )
                        ).scalars()
                    )
                    rows: dict[str, list[NoticeRow]] = {}
                    for action, drafts in batch:
                        if action.key in existing:
                            log.info("step %s already recorded; not sent again", action.key)
                            continue
                        existing.add(action.key)
                        s.add(
                            EscalationStepRow(
                                key=action.key,
                                ticket_number=action.ticket_number,
                                kind=action.kind.value,
                                level=int(action.level),
                                step_index=action.step_index,
                                targets=",".join(action.targets),
                                reason=action.reason,
                                due_at=action.due_at,
                                taken_at=at,
                            )
                        )
                        rows[action.key] = [
                            NoticeRow(
                                step_key=action.key,
                                ticket_number=action.ticket_number,
                                recipient=d.recipient,
                                channel=d.channel,
                                channel_kind=d.channel_kind.value,
                                title=d.title,
                                body=d.body,
                                ack_code=d.ack_code,
                                state="pending",
                                attempts=0,
                                last_error="",
                                created_at=at,
                                acked_by="",
                            )
                            for d in drafts
                        ]
                    await s.flush()  # steps first: notices reference them
                    for notice_rows in rows.values():
                        s.add_all(notice_rows)
                    await s.flush()
                    for key, notice_rows in rows.items():
                        written[key] = [_notice(r) for r in notice_rows]
            except IntegrityError as exc:
                # Another process recorded one of these keys between our check and insert;
                # the next pass sees it in the log and sends nothing twice.
                log.warning("escalation batch raced with another writer: %s", exc)
            except SQLAlchemyError as exc:
                raise SupervisionStoreError(f"cannot record escalation steps: {exc}") from exc
        return written

    async def note_attempt(
        self,
        notice_id: int,
        *,
        attempts: int,
        error: str = "",
        delivered_at: datetime | None = None,
        final: bool = False,
        at: datetime | None = None,
    ) -> None:
        state = "delivered" if delivered_at else ("failed" if final else "pending")
        failed_at = at if state == "failed" else None
        async with self._sessions() as s, s.begin():
            await s.execute(
                update(NoticeRow)
                .where(NoticeRow.id == notice_id)
                .values(
                    state=state,
                    attempts=attempts,
                    last_error=error[:2000],
                    delivered_at=delivered_at,
                    failed_at=failed_at,
                )
            )

    async def undelivered(self) -> list[StoredNotice]:
        """Notices left pending (the controller stopped mid-delivery): the outbox."""
        async with self._sessions() as s:
            rows = (
                (
                    await s.execute(
                        select(NoticeRow).where(NoticeRow.state == "pending").order_by(NoticeRow.id)
                    )
                )
                .scalars()
                .all()
            )
        return [_notice(r) for r in rows]

    # --- acknowledgements -------------------------------------------------------------

    async def notice_by_code(self, code: str) -> StoredNotice:
        """The notice an acknowledgement link names (reads only)."""
        async with self._sessions() as s:
            row = (
                await s.execute(select(NoticeRow).where(NoticeRow.ack_code == code))
            ).scalar_one_or_none()
            if row is None:
                raise UnknownAckCode(f"no notice with acknowledgement code {code!r}")
            return _notice(row)

    async def acknowledge(self, code: str, by: str, at: datetime) -> StoredNotice:
        """Mark the notice acknowledged (the first acknowledgement wins; repeats are fine)."""
        async with self._sessions() as s, s.begin():
            row = (
                await s.execute(select(NoticeRow).where(NoticeRow.ack_code == code))
            ).scalar_one_or_none()
            if row is None:
                raise UnknownAckCode(f"no notice with acknowledgement code {code!r}")
            if row.acked_at is None:
                row.acked_at = at
                row.acked_by = by[:100]
            await s.flush()
            return _notice(row)

    async def acks_since(self, since: datetime | None) -> list[tuple[str, int, datetime]]:
        """(step key, notice id, acked_at) of acknowledgements after `since`."""
        q = select(NoticeRow.step_key, NoticeRow.id, NoticeRow.acked_at).where(
            NoticeRow.acked_at.is_not(None)
        )
        if since is not None:
            q = q.where(NoticeRow.acked_at >= since)
        async with self._sessions() as s:
            return [(k, i, a) for k, i, a in (await s.execute(q)).all() if a is not None]

    async def notices(
        self, *, ticket_number: str | None = None, limit: int = 200
    ) -> list[StoredNotice]:
        q = select(NoticeRow).order_by(NoticeRow.id.desc()).limit(limit)
        if ticket_number is not None:
            q = q.where(NoticeRow.ticket_number == ticket_number)
        async with self._sessions() as s:
            return [_notice(r) for r in (await s.execute(q)).scalars().all()]

    async def notice_counts(self) -> dict[str, int]:
        async with self._sessions() as s:
            rows = (
                await s.execute(select(NoticeRow.state, func.count()).group_by(NoticeRow.state))
            ).all()
        return {state: int(n) for state, n in rows}

    # --- pauses (waiting for the customer) --------------------------------------------

    async def ticket_exists(self, ticket_number: str) -> bool:
        async with self._sessions() as s:
            found = await s.scalar(
                select(TicketRow.number).where(TicketRow.number == ticket_number)
            )
        return found is not None

    async def pause(self, ticket_number: str, at: datetime, by: str, reason: str = "") -> bool:
        """Stop the ticket's clocks; False if it is already paused."""
        async with self._sessions() as s, s.begin():
            open_pause = (
                await s.execute(
                    select(TicketPauseRow.id).where(
                        TicketPauseRow.ticket_number == ticket_number,
                        TicketPauseRow.ended_at.is_(None),
                    )
                )
            ).first()
            if open_pause is not None:
                return False
            s.add(TicketPauseRow(ticket_number=ticket_number, started_at=at, by=by, reason=reason))
            return True

    async def resume(self, ticket_number: str, at: datetime) -> bool:
        async with self._sessions() as s, s.begin():
            result = await s.execute(
                update(TicketPauseRow)
                .where(
                    TicketPauseRow.ticket_number == ticket_number, TicketPauseRow.ended_at.is_(None)
                )
                .values(ended_at=at)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    # --- open tickets -----------------------------------------------------------------

    async def open_tickets(self) -> list[SlaTicket]:
        """Every open ticket with its site's distance and tier, and its pauses.

        Rows are streamed in partitions so that decoding 100,000 tickets gives the event
        loop a turn every few thousand rows instead of holding it for the whole read.
        """
        out: list[SlaTicket] = []
        try:
            async with self._sessions() as s:
                pauses = await _open_ticket_pauses(s)
                result = await s.stream(_open_tickets_query())
                async for partition in result.partitions(2000):
                    out.extend(_sla_ticket(r, pauses.get(r.number, ())) for r in partition)
                    await asyncio.sleep(0)
        except SQLAlchemyError as exc:
            raise SupervisionStoreError(f"cannot read open tickets: {exc}") from exc
        return out

    # --- call records (the wallboard's day counters) ----------------------------------

    async def calls_started(self, start: datetime, end: datetime) -> list[CallTally]:
        """Calls started from `start` to `end`, both included."""
        async with self._sessions() as s:
            rows = (
                await s.execute(
                    select(
                        CallRow.call_id,
                        CallRow.outcome,
                        CallRow.queued_at,
                        CallRow.answered_at,
                        CallRow.hold_seconds,
                    ).where(CallRow.started_at >= start, CallRow.started_at <= end)
                )
            ).all()
        return [CallTally(*r) for r in rows]


# --- the open tickets the SLA engine looks at ---------------------------------------------


def _open_tickets_query() -> Select[*tuple[Any, ...]]:
    """Open tickets, oldest first, with their site and their current dispatch."""
    return (
        select(
            TicketRow.number,
            TicketRow.level,
            TicketRow.status,
            TicketRow.created_at,
            TicketRow.site_code,
            TicketRow.response_due,
            TicketRow.onsite_due,
            TicketRow.responded_at,
            TicketRow.resolved_at,
            TicketRow.description,
            TicketRow.call_id,
            SiteRow.site_name,
            SiteRow.tier,
            SiteRow.distance_km,
            TicketRow.dispatched_at,
            TicketRow.onsite_at,
            TicketRow.part_needed_at,
            TicketRow.part_sent_at,
            TicketRow.part_received_at,
            DispatchRow.on_the_way_at,
        )
        .outerjoin(SiteRow, SiteRow.site_code == TicketRow.site_code)
        # The ticket's current dispatch (a re-dispatch supersedes the earlier ones).
        .outerjoin(
            DispatchRow,
            and_(DispatchRow.ticket_id == TicketRow.id, DispatchRow.superseded_at.is_(None)),
        )
        .where(TicketRow.status.in_(OPEN))
        .order_by(TicketRow.created_at)
    )


async def _open_ticket_pauses(s: AsyncSession) -> dict[str, list[Pause]]:
    """The pauses of every open ticket, by ticket number."""
    open_numbers = select(TicketRow.number).where(TicketRow.status.in_(OPEN))
    pauses: dict[str, list[Pause]] = {}
    for number, start, end in (
        await s.execute(
            select(
                TicketPauseRow.ticket_number,
                TicketPauseRow.started_at,
                TicketPauseRow.ended_at,
            ).where(TicketPauseRow.ticket_number.in_(open_numbers))
        )
    ).all():
        pauses.setdefault(number, []).append(Pause(start, end))
    return pauses


def _sla_ticket(r: Row[Any], pauses: Sequence[Pause]) -> SlaTicket:
    """One row of `_open_tickets_query` as the SLA engine reads it."""
    return SlaTicket(
        number=r.number,
        level=FaultLevel.parse(r.level),
        status=TicketStatus(r.status),
        created_at=r.created_at,
        site_code=r.site_code,
        site_name=r.site_name,
        site_tier=r.tier,
        distance_km=r.distance_km,
        responded_at=r.responded_at,
        resolved_at=r.resolved_at,
        description=r.description or "",
        call_id=r.call_id,
        response_due=r.response_due,
        onsite_due=r.onsite_due,
        pauses=tuple(pauses),
        dispatched_at=r.dispatched_at,
        on_the_way_at=r.on_the_way_at,
        onsite_at=r.onsite_at,
        part_needed_at=r.part_needed_at,
        part_sent_at=r.part_sent_at,
        part_received_at=r.part_received_at,
    )


def _satisfies_the_ports(
    repo: SupervisionRepository,
) -> tuple[SupervisionStore, OpenTicketSource, CallHistory]:
    """Never called: mypy checks here that the repository implements every port."""
    return repo, repo, repo
