"""`supervision.ports.MonthlyFacts` on SQLAlchemy: the rows behind the monthly report
(calls, tickets with their site, escalation steps, satisfaction scores) as plain records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import Database
from storage.models import (
    CallRow,
    EscalationStepRow,
    SatisfactionScoreRow,
    SiteRow,
    TicketRow,
)
from supervision.domain.monthly import CallFact, EscalationFact, TicketFact
from supervision.ports import MonthlyFacts
from supervision.records import MonthFacts, SatisfactionFact


class ReportRepository:
    """Reads one period's facts for the monthly report."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def month_facts(self, start: datetime, end: datetime) -> MonthFacts:
        """Calls, tickets, escalation steps and satisfaction scores from `start`
        (included) to `end` (excluded), each in time order."""
        async with self.db.session() as s:
            return MonthFacts(
                await _calls(s, start, end),
                await _tickets(s, start, end),
                await _escalation_steps(s, start, end),
                await _scores(s, start, end),
            )


async def _calls(s: AsyncSession, start: datetime, end: datetime) -> list[CallFact]:
    rows = await s.execute(
        select(
            CallRow.call_id,
            CallRow.started_at,
            CallRow.queued_at,
            CallRow.answered_at,
            CallRow.outcome,
            CallRow.level,
            CallRow.site_code,
            CallRow.paper_number,
            CallRow.ticket_number,
        )
        .where(CallRow.started_at >= start, CallRow.started_at < end)
        .order_by(CallRow.started_at, CallRow.id)
    )
    return [CallFact(*r) for r in rows.all()]


async def _tickets(s: AsyncSession, start: datetime, end: datetime) -> list[TicketFact]:
    """Tickets opened in the period, with their site's name, tier and distance."""
    rows = await s.execute(
        select(
            TicketRow.number,
            TicketRow.level,
            TicketRow.status,
            TicketRow.source,
            TicketRow.created_at,
            TicketRow.response_due,
            TicketRow.responded_at,
            TicketRow.resolved_at,
            TicketRow.site_code,
            SiteRow.site_name,
            SiteRow.tier,
            TicketRow.cause,
            TicketRow.onsite_due,
            SiteRow.distance_km,
            TicketRow.dispatched_at,
            TicketRow.onsite_at,
            TicketRow.part_needed_at,
            TicketRow.part_sent_at,
            TicketRow.part_received_at,
        )
        .outerjoin(SiteRow, SiteRow.site_code == TicketRow.site_code)
        .where(TicketRow.created_at >= start, TicketRow.created_at < end)
        .order_by(TicketRow.created_at, TicketRow.id)
    )
    return [
        TicketFact(
            r.number,
            r.level,
            r.status,
            r.source,
            r.created_at,
            r.response_due,
            r.responded_at,
            r.resolved_at,
            r.site_code,
            r.site_name,
            r.tier,
            r.cause or "",
            onsite_due=r.onsite_due,
            distance_km=r.distance_km,
            dispatched_at=r.dispatched_at,
            onsite_at=r.onsite_at,
            part_needed_at=r.part_needed_at,
            part_sent_at=r.part_sent_at,
            part_received_at=r.part_received_at,
        )
        for r in rows.all()
    ]


async def _escalation_steps(
    s: AsyncSession, start: datetime, end: datetime
) -> list[EscalationFact]:
    rows = await s.execute(
        select(
            EscalationStepRow.key,
            EscalationStepRow.ticket_number,
            EscalationStepRow.kind,
            EscalationStepRow.level,
            EscalationStepRow.taken_at,
        )
        .where(EscalationStepRow.taken_at >= start, EscalationStepRow.taken_at < end)
        .order_by(EscalationStepRow.taken_at, EscalationStepRow.key)
    )
    return [EscalationFact(*r) for r in rows.all()]


async def _scores(s: AsyncSession, start: datetime, end: datetime) -> list[SatisfactionFact]:
    rows = await s.execute(
        select(
            SatisfactionScoreRow.call_id,
            SatisfactionScoreRow.ticket_number,
            SatisfactionScoreRow.score,
            SatisfactionScoreRow.at,
        )
        .where(SatisfactionScoreRow.at >= start, SatisfactionScoreRow.at < end)
        .order_by(SatisfactionScoreRow.at, SatisfactionScoreRow.id)
    )
    return [SatisfactionFact(*r) for r in rows.all()]


def _satisfies_the_port(repo: ReportRepository) -> MonthlyFacts:
    """Never called: mypy checks here that the repository implements the port."""
    return repo
