"""`supervision.ports.MonthlyFacts` on SQLAlchemy: the rows behind the monthly report
(calls, tickets with their site, escalation steps, satisfaction scores) as plain records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

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
            calls = (
                await s.execute(
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
            ).all()
            tickets = (
                await s.execute(
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
            ).all()
            steps = (
                await s.execute(
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
            ).all()
            scores = (
                await s.execute(
                    select(
                        SatisfactionScoreRow.call_id,
                        SatisfactionScoreRow.ticket_number,
                        SatisfactionScoreRow.score,
                        SatisfactionScoreRow.at,
                    )
                    .where(SatisfactionScoreRow.at >= start, SatisfactionScoreRow.at < end)
                    .order_by(SatisfactionScoreRow.at, SatisfactionScoreRow.id)
                )
            ).all()
        return MonthFacts(
            [CallFact(*r) for r in calls],
            [
                TicketFact(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6],
                    r[7],
                    r[8],
                    r[9],
                    r[10],
                    r[11] or "",
                    onsite_due=r.onsite_due,
                    distance_km=r.distance_km,
                    dispatched_at=r.dispatched_at,
                    onsite_at=r.onsite_at,
                    part_needed_at=r.part_needed_at,
                    part_sent_at=r.part_sent_at,
                    part_received_at=r.part_received_at,
                )
                for r in tickets
            ],
            [EscalationFact(*r) for r in steps],
            [SatisfactionFact(*r) for r in scores],
        )


def _satisfies_the_port(repo: ReportRepository) -> MonthlyFacts:
    """Never called: mypy checks here that the repository implements the port."""
    return repo
