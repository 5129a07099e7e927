"""A ticket's row as its record (`to_ticket`), and the checks of what a ticket's writes
take from outside (actors, call ids, text from the network, search patterns); the
tables' Core handles the constant statements are built on."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Table, insert

from routing.errors import InvalidInput
from routing.records import (
    ProblemType,
    ProgressEntry,
    ServiceEntry,
    Ticket,
    TicketChange,
    TicketSource,
    TicketStatus,
    Urgency,
)
from storage.models import TicketHistoryRow, TicketLogRow, TicketRow

TICKETS: Table = TicketRow.__table__  # type: ignore[assignment]
# A history row written with a Core statement on the table (not the ORM's bulk insert,
# which splits a batch's rows wherever their None columns differ): one executemany.
_HISTORY_TABLE: Table = TicketHistoryRow.__table__  # type: ignore[assignment]
HISTORY_INSERT = insert(_HISTORY_TABLE)


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` literally (metacharacters escaped with '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]+")


def network_text(value: str, limit: int) -> str:
    """Text that arrived from the PBX or another system (caller id, organisation): kept,
    but on one line, without control characters, and bounded. An automatic ticket must
    never be lost because a caller-id name was odd."""
    return _CONTROL_CHARS.sub(" ", value).strip()[:limit]


def check_actor(by: str) -> str:
    if not by or len(by) > 100 or "\r" in by or "\n" in by:
        raise InvalidInput("by", "must be a single line of 1-100 characters")
    return by


def check_call_id(call_id: str) -> str:
    if not call_id or len(call_id) > 64 or any(c in call_id for c in "\r\n\0"):
        raise InvalidInput("call_id", "must be a single line of 1-64 characters")
    return call_id


def to_ticket(
    row: TicketRow,
    *,
    history: Sequence[TicketHistoryRow] | None = None,
    log_rows: Sequence[TicketLogRow] | None = None,
) -> Ticket:
    """The record of a ticket row; `history`/`log_rows` given = do not load them."""
    service: list[ServiceEntry] = []
    progress: list[ProgressEntry] = []
    for entry in row.log if log_rows is None else log_rows:
        if entry.kind == "service":
            service.append(
                ServiceEntry(entry.at, entry.by, entry.symptom, entry.action, entry.result)
            )
        else:
            progress.append(ProgressEntry(entry.at, entry.by, entry.text))
    return Ticket(
        number=row.number,
        call_id=row.call_id,
        site_code=row.site_code,
        level=row.level,
        status=TicketStatus(row.status),
        caller_number=row.caller_number,
        created_at=row.created_at,
        response_due=row.response_due,
        onsite_due=row.onsite_due,
        description=row.description,
        source=TicketSource(row.source),
        history=tuple(
            TicketChange(h.at, h.by, h.field, h.old, h.new, h.note)
            for h in (row.history if history is None else history)
        ),
        updated_at=row.updated_at,
        caller_name=row.caller_name,
        paper_number=row.paper_number,
        responded_at=row.responded_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        cause=row.cause,
        resolution=row.resolution,
        duty_agent=row.duty_agent,
        support_engineer=row.support_engineer,
        onsite_engineer=row.onsite_engineer,
        organisation=row.organisation,
        contact_name=row.contact_name,
        contact_phone=row.contact_phone,
        contact_email=row.contact_email,
        service_log=tuple(service),
        problem_type=ProblemType(row.problem_type) if row.problem_type else None,
        urgency=Urgency(row.urgency) if row.urgency else None,
        department=row.department,
        expected_resolution=row.expected_resolution,
        measures=row.measures,
        owner=row.owner,
        progress_log=tuple(progress),
        rma_number=row.rma_number,
        rma_model=row.rma_model,
        rma_serial=row.rma_serial,
        rma_quantity=row.rma_quantity,
        rma_symptom=row.rma_symptom,
        rma_analysis=row.rma_analysis,
        spare_model=row.spare_model,
        spare_serial=row.spare_serial,
        spare_sent_on=row.spare_sent_on,
        spare_received_on=row.spare_received_on,
        satisfaction=row.satisfaction,
        satisfaction_at=row.satisfaction_at,
        engineer=row.onsite_engineer or None,
        dispatched_at=row.dispatched_at,
        onsite_at=row.onsite_at,
        part_needed_at=row.part_needed_at,
        part_sent_at=row.part_sent_at,
        part_received_at=row.part_received_at,
    )
