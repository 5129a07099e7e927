"""`/api/tickets`: list and search tickets, open one by hand, read one, change its form
fields (each change lands in its history) and add service and progress log lines; and
`split_router(splitter)`, `POST /api/tickets/{number}/split`, which gives a repeat call a
ticket of its own again (`console.components.build` mounts it on the ticket service)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StringConstraints, field_validator

from console.api.calls import with_calls
from console.api.inputs import DIGITS, LINE, PhoneNumber, SiteCode, Strict
from console.deps import json_value, tickets_json, update_ticket
from console.errors import ERROR_RESPONSES
from console.runtime import AgentSession, runtime_of
from routing.domain.deadlines import deadlines_for
from routing.domain.ticket_form import AGENT_FIELDS, validate_changes
from routing.errors import InvalidInput, TicketNotFound
from routing.records import NewTicket, Ticket, TicketFilter, TicketSource, TicketStatus

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["tickets"])

StatusName = Literal["open", "callback_due", "in_progress", "resolved", "closed"]


class ServiceEntryBody(Strict):
    symptom: Annotated[str, StringConstraints(max_length=4000)] = ""
    action: Annotated[str, StringConstraints(max_length=4000)] = ""
    result: Annotated[str, StringConstraints(max_length=4000)] = ""


Short = Annotated[str, StringConstraints(max_length=200)]
Long = Annotated[str, StringConstraints(max_length=4000)]


class TicketPatch(Strict):
    """Form fields to change (any subset); each real change lands in the history."""

    level: int | None = Field(None, ge=1, le=4)
    site_code: Annotated[str, StringConstraints(max_length=32)] | None = None
    status: StatusName | None = None
    description: Long | None = None
    caller_number: Annotated[str, StringConstraints(max_length=64)] | None = None
    caller_name: Short | None = None
    cause: Short | None = None
    resolution: Long | None = None
    duty_agent: Short | None = None
    support_engineer: Short | None = None
    onsite_engineer: Short | None = None
    organisation: Short | None = None
    contact_name: Short | None = None
    contact_phone: Annotated[str, StringConstraints(max_length=64)] | None = None
    contact_email: Annotated[str, StringConstraints(max_length=254)] | None = None
    problem_type: Literal["request", "complaint", ""] | None = None
    urgency: Literal["normal", "urgent", "very_urgent", ""] | None = None
    department: Short | None = None
    expected_resolution: Annotated[str, StringConstraints(max_length=40)] | None = None
    measures: Long | None = None
    owner: Short | None = None
    rma_number: Short | None = None
    rma_model: Short | None = None
    rma_serial: Short | None = None
    rma_quantity: int | None = Field(None, ge=0, le=1_000_000)
    rma_symptom: Long | None = None
    rma_analysis: Long | None = None
    spare_model: Short | None = None
    spare_serial: Short | None = None
    spare_sent_on: Annotated[str, StringConstraints(max_length=20)] | None = None
    spare_received_on: Annotated[str, StringConstraints(max_length=20)] | None = None
    # Field work recorded by hand (ISO 8601 with offset): arrival, part needed/sent/received.
    onsite_at: Annotated[str, StringConstraints(max_length=40)] | None = None
    part_needed_at: Annotated[str, StringConstraints(max_length=40)] | None = None
    part_sent_at: Annotated[str, StringConstraints(max_length=40)] | None = None
    part_received_at: Annotated[str, StringConstraints(max_length=40)] | None = None
    # Not fields: a note on this change, and lines for the service / progress logs.
    note: Annotated[str, StringConstraints(max_length=500)] = ""
    service_entry: ServiceEntryBody | None = None
    progress_note: Annotated[str, StringConstraints(max_length=4000)] = ""


_NOT_FIELDS = frozenset({"note", "service_entry", "progress_note"})
assert set(TicketPatch.model_fields) - _NOT_FIELDS == set(AGENT_FIELDS), "form drifted"


async def _ticket_json(ticket: Any, request: Request) -> dict[str, Any]:
    deps = runtime_of(request).deps
    item = (await tickets_json(deps, [ticket]))[0]
    await with_calls(deps.calls, [item])
    return item


@router.get("/tickets")
async def list_tickets(
    session: AgentSession,
    request: Request,
    status: Annotated[StatusName | None, Query()] = None,
    level: Annotated[int | None, Query(ge=1, le=4)] = None,
    site: Annotated[str | None, Query(pattern=DIGITS)] = None,
    call_id: Annotated[str | None, Query(max_length=128, pattern=LINE)] = None,
    q: Annotated[str | None, Query(max_length=100, pattern=LINE)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=64, pattern=LINE)] = None,
) -> dict[str, Any]:
    filters = TicketFilter(
        status=TicketStatus(status) if status else None,
        level=level,
        site_code=site,
        call_id=call_id,
        text=q.strip() if q and q.strip() else None,
    )
    deps = runtime_of(request).deps
    tickets = await deps.tickets.list(filters, limit=limit, before=before)
    items = await tickets_json(deps, tickets)
    await with_calls(deps.calls, items)
    return {"items": items, "next_before": items[-1]["number"] if len(items) == limit else None}


class NewTicketBody(Strict):
    """A ticket opened by hand (a call to a direct line, an e-mail, a walk-in)."""

    level: int = Field(ge=1, le=4)
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)
    ]
    site_code: SiteCode | None = None
    caller_number: PhoneNumber = ""
    caller_name: Annotated[str, StringConstraints(max_length=200, pattern=LINE)] = ""
    contact_name: Annotated[str, StringConstraints(max_length=200, pattern=LINE)] = ""
    contact_phone: PhoneNumber = ""

    @field_validator("site_code", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


@router.post("/tickets", status_code=201)
async def create_ticket(
    body: NewTicketBody, session: AgentSession, request: Request
) -> dict[str, Any]:
    deps = runtime_of(request).deps
    now = deps.clock()
    site = None
    if body.site_code is not None:
        site = await deps.sites.site_record(body.site_code, at=now)
        if site is None:
            raise InvalidInput("site_code", f"no site {body.site_code}")
    due = deadlines_for(deps.sla, body.level, now, site.distance_km if site else None)
    ticket = await deps.tickets.create(
        NewTicket(
            level=body.level,
            caller_number=body.caller_number,
            created_at=now,
            response_due=due.response_due,
            onsite_due=due.onsite_due,
            source=TicketSource.MANUAL,
            site_code=body.site_code,
            caller_name=body.caller_name,
            description=body.description,
            organisation=site.organisation if site else "",
            contact_name=body.contact_name,
            contact_phone=body.contact_phone,
            created_by=session.user.username,
        )
    )
    log.info("ticket %s opened by hand by %s", ticket.number, session.user.username)
    return await _ticket_json(ticket, request)


@router.get("/tickets/{number}")
async def get_ticket(number: str, session: AgentSession, request: Request) -> dict[str, Any]:
    deps = runtime_of(request).deps
    ticket = await deps.tickets.get(number)
    if ticket is None:
        raise TicketNotFound(number)
    return await _ticket_json(ticket, request)


@router.patch("/tickets/{number}")
async def patch_ticket(
    number: str, body: TicketPatch, session: AgentSession, request: Request
) -> dict[str, Any]:
    runtime = runtime_of(request)
    store = runtime.deps.tickets
    raw = body.model_dump(exclude_unset=True, exclude=set(_NOT_FIELDS))
    changes = validate_changes(raw, allowed=AGENT_FIELDS)
    entry = body.service_entry
    if entry is not None and not (entry.symptom or entry.action or entry.result):
        entry = None
    progress = body.progress_note.strip()
    if not changes and entry is None and not progress:
        raise InvalidInput("body", "nothing to change")
    by = session.user.username
    now = runtime.deps.clock()
    ticket = await store.get(number)
    if ticket is None:
        raise TicketNotFound(number)
    if changes:
        ticket = await update_ticket(runtime.deps, number, changes, by, note=body.note, at=now)
    if entry is not None:
        ticket = await store.add_service_entry(
            number, symptom=entry.symptom, action=entry.action, result=entry.result, by=by, at=now
        )
    if progress:
        ticket = await store.add_progress(number, text=progress, by=by, at=now)
    log.info("ticket %s changed by %s: %s (call %s)", number, by, sorted(changes), ticket.call_id)
    return await _ticket_json(ticket, request)


class CallSplitter(Protocol):
    """`routing.tickets.CallTicketService.split_call`."""

    def split_call(self, number: str, call_id: str, *, by: str) -> Awaitable[Ticket]: ...


class SplitIn(BaseModel):
    call_id: str = Field(min_length=1, max_length=64, pattern=r"^[^\r\n\x00]+$")


def split_router(splitter: CallSplitter) -> APIRouter:
    """`POST /api/tickets/{number}/split` (agent+): a repeat call leaves ticket `number` for
    a new ticket of its own (same site, caller and level); answers the new ticket. 404 for
    an unknown ticket, 422 when the call is not a repeat call of that ticket."""
    router = APIRouter(tags=["tickets"], responses=ERROR_RESPONSES)

    @router.post("/api/tickets/{number}/split", status_code=201)
    async def split_call(number: str, body: SplitIn, session: AgentSession) -> dict[str, Any]:
        ticket = await splitter.split_call(number, body.call_id, by=session.user.username)
        data: dict[str, Any] = json_value(ticket)
        data["split_from"] = number
        return data

    return router
