"""JSON API of the console (INTERFACE.md "HTTP"): tickets, calls, sites, agent state,
emergency mode and backfill, each behind its role check."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from console.deps import json_value, tickets_json
from console.domain.agent_state import AgentState
from console.errors import (
    ERROR_RESPONSES,
    BoardMissing,
    ConsoleError,
    LogoutNotRecorded,
    NoPhoneInterface,
    NotAuthenticated,
    TooManyAttempts,
)
from console.i18n import language_of
from console.messages import error_message
from console.recordings import call_json, with_calls
from console.runtime import AgentSession, SupervisorSession, client_address, record, runtime_of
from console.session_end import announce_session_end
from console.sessions import COOKIE_NAME, Session
from fallback.ports import HealthBoard
from routing.domain.audit import AuditAction
from routing.domain.deadlines import deadlines_for
from routing.domain.ticket_form import AGENT_FIELDS, validate_changes
from routing.errors import InvalidInput, SiteNotFound, TicketNotFound
from routing.records import CallFilter, NewTicket, TicketFilter, TicketSource, TicketStatus

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES)

# Single-line text with no control characters: anything that may reach AMI/AGI.
_LINE = r"^[^\x00-\x1f\x7f]*$"
_DIGITS = r"^[0-9]{1,32}$"
_PHONE = r"^[0-9+*#() .-]{0,64}$"

Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500, pattern=_LINE)
]
SiteCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=_DIGITS)]
PhoneNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=64, pattern=_PHONE)
]

StatusName = Literal["open", "callback_due", "in_progress", "resolved", "closed"]
OutcomeName = Literal["answered", "abandoned", "ivr_hangup", "no_agent", "transferred"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=4000)


# --- log-in -------------------------------------------------------------------------------


class LoginBody(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_LINE)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class LoginResult(BaseModel):
    token: str
    username: str
    role: str
    expires_at: str


async def log_in(request: Request, username: str, password: str) -> Session | None:
    """`SessionManager.log_in` for this request's client, audited either way."""
    runtime = runtime_of(request)
    try:
        session = await runtime.sessions.log_in(username, password, client=client_address(request))
    except TooManyAttempts as exc:
        await record(request, AuditAction.LOGIN_THROTTLED, username[:64], wait_s=exc.retry_after)
        raise
    if session is None:
        await record(request, AuditAction.LOGIN_FAILED, username[:64])
        return None
    await record(request, AuditAction.LOGIN, session.user.username, role=session.user.role.value)
    return session


def set_session_cookie(request: Request, response: Response, session: Session) -> None:
    runtime = runtime_of(request)
    response.set_cookie(
        COOKIE_NAME,
        session.token,
        max_age=int(runtime.sessions.ttl.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=runtime.deps.secure_cookies,
        path="/",
    )


def delete_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="strict",
        secure=runtime_of(request).deps.secure_cookies,
    )


@router.post("/login", response_model=LoginResult, tags=["auth"])
async def login(body: LoginBody, request: Request, response: Response) -> LoginResult:
    session = await log_in(request, body.username, body.password)
    if session is None:
        raise NotAuthenticated("wrong user name or password")
    set_session_cookie(request, response, session)
    return LoginResult(
        token=session.token,
        username=session.user.username,
        role=session.user.role.value,
        expires_at=session.claims.expires_at.isoformat(),
    )


@dataclass(frozen=True, slots=True)
class LogoutResult:
    # Why the log-out could not be recorded for every console process, if it could not.
    not_recorded: str | None = None
    # Why the agent could not be taken out of the queue, if the PBX refused.
    pbx_problem: str | None = None


async def end_session(request: Request, session: Session) -> LogoutResult:
    """Revoke the session; take an agent out of the main queue."""
    runtime = runtime_of(request)
    not_recorded: str | None = None
    try:
        await runtime.sessions.revoke(session)
    except LogoutNotRecorded as exc:  # the agent still leaves the queue below
        not_recorded = str(exc)
    # The bus reaches every console process even while the database is down.
    await announce_session_end(
        runtime.deps.bus, session.user.username, nonce=session.claims.nonce, reason="logged out"
    )
    await record(request, AuditAction.LOGOUT, session.user.username, recorded=not not_recorded)
    if not session.user.interface:
        return LogoutResult(not_recorded)  # no phone, never a queue member
    # Always asked of the PBX (not only when this process put the agent in the queue): after
    # a controller restart the member may still be there, and must not ring an empty desk.
    try:
        await runtime.agents.set_state(session.user, AgentState.LOGGED_OUT)
    except ConsoleError as exc:  # reported to the person; the session ends anyway
        log.warning("log-out of %s: queue removal failed: %s", session.user.username, exc)
        return LogoutResult(not_recorded, str(exc))
    return LogoutResult(not_recorded)


@router.post("/logout", tags=["auth"])
async def logout(session: AgentSession, request: Request, response: Response) -> dict[str, Any]:
    result = await end_session(request, session)
    delete_session_cookie(request, response)
    _ = language_of(request, runtime_of(request).deps.locale).gettext
    if result.not_recorded:
        response.status_code = 503
        return {"logged_out": False, "detail": error_message(LogoutNotRecorded(), _)}
    if result.pbx_problem:
        response.status_code = 502
        message = _("Logged out, but the PBX did not take you out of the queue: %(reason)s")
        return {"logged_out": True, "detail": message % {"reason": result.pbx_problem}}
    return {"logged_out": True}


@router.get("/me", tags=["auth"])
async def me(session: AgentSession, request: Request) -> dict[str, Any]:
    runtime = runtime_of(request)
    user = session.user
    return {
        "username": user.username,
        "role": user.role.value,
        "interface": user.interface,
        "agent_state": (await runtime.agents.current_state(user)).value,
        "main_queue": runtime.agents.main_queue,
        "expires_at": session.claims.expires_at.isoformat(),
        "language": user.language,  # the person's choice for their pages; null: none
    }


# --- tickets ------------------------------------------------------------------------------


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


@router.get("/tickets", tags=["tickets"])
async def list_tickets(
    session: AgentSession,
    request: Request,
    status: Annotated[StatusName | None, Query()] = None,
    level: Annotated[int | None, Query(ge=1, le=4)] = None,
    site: Annotated[str | None, Query(pattern=_DIGITS)] = None,
    call_id: Annotated[str | None, Query(max_length=128, pattern=_LINE)] = None,
    q: Annotated[str | None, Query(max_length=100, pattern=_LINE)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=64, pattern=_LINE)] = None,
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
    caller_name: Annotated[str, StringConstraints(max_length=200, pattern=_LINE)] = ""
    contact_name: Annotated[str, StringConstraints(max_length=200, pattern=_LINE)] = ""
    contact_phone: PhoneNumber = ""

    @field_validator("site_code", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


@router.post("/tickets", status_code=201, tags=["tickets"])
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


@router.get("/tickets/{number}", tags=["tickets"])
async def get_ticket(number: str, session: AgentSession, request: Request) -> dict[str, Any]:
    deps = runtime_of(request).deps
    ticket = await deps.tickets.get(number)
    if ticket is None:
        raise TicketNotFound(number)
    return await _ticket_json(ticket, request)


@router.patch("/tickets/{number}", tags=["tickets"])
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
        ticket = await store.update(number, changes, by, note=body.note, at=now)
    if entry is not None:
        ticket = await store.add_service_entry(
            number, symptom=entry.symptom, action=entry.action, result=entry.result, by=by, at=now
        )
    if progress:
        ticket = await store.add_progress(number, text=progress, by=by, at=now)
    log.info("ticket %s changed by %s: %s (call %s)", number, by, sorted(changes), ticket.call_id)
    return await _ticket_json(ticket, request)


# --- calls --------------------------------------------------------------------------------


@router.get("/calls", tags=["calls"])
async def list_calls(
    session: AgentSession,
    request: Request,
    call_id: Annotated[str | None, Query(max_length=128, pattern=_LINE)] = None,
    outcome: Annotated[OutcomeName | None, Query()] = None,
    site: Annotated[str | None, Query(pattern=_DIGITS)] = None,
    active: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=128, pattern=_LINE)] = None,
) -> dict[str, Any]:
    filters = CallFilter(call_id=call_id, outcome=outcome, site_code=site)
    calls = await runtime_of(request).deps.calls.list(filters, limit=limit, before=before)
    items = [call_json(c) for c in calls]
    next_before = items[-1]["call_id"] if len(items) == limit else None
    if active:  # the live list: calls not yet ended, within the page asked for
        items = [c for c in items if c.get("ended_at") is None]
    return {"items": items, "next_before": next_before}


@router.get("/queues", tags=["calls"])
async def queue_status(session: SupervisorSession, request: Request) -> dict[str, Any]:
    """What the PBX has right now in the hotline queues: members and waiting callers."""
    snapshot = await runtime_of(request).deps.call_control.queue_status()
    return {
        "members": [json_value(m) for m in snapshot.members],
        "entries": [json_value(e) for e in snapshot.entries],
    }


@router.get("/consoles", tags=["calls"])
async def consoles(session: SupervisorSession, request: Request) -> dict[str, Any]:
    """Who has a console open on any console process (shared through Redis when it is
    configured), their last heartbeat and their queue state as this node knows it."""
    runtime = runtime_of(request)
    return {
        "items": [
            {
                "username": seen.username,
                "role": seen.role,
                "connections": seen.connections,
                "last_seen": seen.last_seen.isoformat(),
                "agent_state": runtime.agents.state_of(seen.username).value,
            }
            for seen in await runtime.deps.presence.consoles()
        ]
    }


# --- sites --------------------------------------------------------------------------------


@router.get("/sites", tags=["sites"])
async def search_sites(
    session: AgentSession,
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=100, pattern=_LINE)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    found = await runtime_of(request).deps.sites.search(q.strip(), limit=limit)
    return {"items": [json_value(s) for s in found]}


@router.get("/sites/{site_code}", tags=["sites"])
async def site_record(site_code: str, session: AgentSession, request: Request) -> dict[str, Any]:
    if not re.fullmatch(_DIGITS, site_code):
        raise InvalidInput("site_code", "must be digits (at most 32)")
    runtime = runtime_of(request)
    record = await runtime.deps.sites.site_record(site_code, at=runtime.deps.clock())
    if record is None:
        raise SiteNotFound(site_code)
    data: dict[str, Any] = json_value(record)
    return data


# --- agent state --------------------------------------------------------------------------


class AgentStateBody(Strict):
    state: Literal["ready", "paused"]


@router.post("/agent/state", tags=["agent"])
async def set_agent_state(
    body: AgentStateBody, session: AgentSession, request: Request
) -> dict[str, Any]:
    runtime = runtime_of(request)
    state = await runtime.agents.set_state(session.user, AgentState(body.state))
    return {
        "username": session.user.username,
        "state": state.value,
        "interface": session.user.interface,
        "queue": runtime.agents.main_queue,
    }


# --- emergency mode -----------------------------------------------------------------------


def emergency_json(status: Any) -> dict[str, Any]:
    return {
        "active": bool(status.active),
        "since": json_value(status.since),
        "reason": status.reason,
        "by": status.by,
        "state": json_value(status.state),
    }


@router.get("/emergency", tags=["emergency"])
async def get_emergency(session: AgentSession, request: Request) -> dict[str, Any]:
    return emergency_json(runtime_of(request).deps.emergency.status())


class EmergencyBody(Strict):
    active: bool = Field(strict=True)
    reason: Reason


@router.post("/emergency", tags=["emergency"])
async def set_emergency(
    body: EmergencyBody, session: SupervisorSession, request: Request
) -> dict[str, Any]:
    by = session.user.username
    log.warning("emergency mode %s requested by %s: %s", body.active, by, body.reason)
    status = await runtime_of(request).deps.emergency.set_active(
        body.active, reason=body.reason, by=by
    )
    await record(request, AuditAction.EMERGENCY, by, active=body.active, reason=body.reason)
    return emergency_json(status)


# --- backfill -----------------------------------------------------------------------------


def backfill_json(item: Any) -> dict[str, Any]:
    return {
        "paper_number": item.paper_number,
        "call_id": item.call_id,
        "caller_number": item.caller_number,
        "started_at": json_value(item.started_at),
        "agent": item.agent,
        "ticket_number": item.ticket_number,
        "waived": bool(item.waived),
        "waive_reason": item.waive_reason,
        # `ticket_only`: the call's ticket was opened automatically, its paper not typed in.
        "state": item.state,
        "paper_entered": bool(item.paper_entered),
        "entered_by": item.entered_by,
        "accounted_for": bool(item.accounted_for),
    }


@router.get("/backfill", tags=["backfill"])
async def list_backfill(session: SupervisorSession, request: Request) -> dict[str, Any]:
    items = await runtime_of(request).deps.backfill.items()
    return {"items": [backfill_json(i) for i in items]}


@router.get("/backfill/reconciliation", tags=["backfill"])
async def reconciliation(session: SupervisorSession, request: Request) -> dict[str, Any]:
    result = await runtime_of(request).deps.backfill.reconciliation()
    data = json_value(result)
    return data if isinstance(data, dict) else {"result": data}


class BackfillBody(Strict):
    site_code: SiteCode | None = None
    level: int = Field(ge=1, le=4)
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)
    ]
    caller_number: PhoneNumber | None = None

    @field_validator("site_code", "caller_number", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


@router.post("/backfill/{paper_number}", tags=["backfill"])
async def submit_backfill(
    paper_number: str, body: BackfillBody, session: AgentSession, request: Request
) -> dict[str, Any]:
    _check_paper_number(paper_number)
    number = await runtime_of(request).deps.backfill.submit(
        paper_number,
        site_code=body.site_code,
        level=body.level,
        description=body.description,
        caller_number=body.caller_number,
        by=session.user.username,
    )
    log.info("paper ticket %s backfilled as %s by %s", paper_number, number, session.user.username)
    await record(
        request,
        AuditAction.BACKFILL,
        session.user.username,
        paper_number=paper_number,
        ticket_number=number,
    )
    return {"ticket_number": number}


class WaiveBody(Strict):
    reason: Reason


@router.post("/backfill/{paper_number}/waive", tags=["backfill"])
async def waive_backfill(
    paper_number: str, body: WaiveBody, session: SupervisorSession, request: Request
) -> dict[str, Any]:
    _check_paper_number(paper_number)
    await runtime_of(request).deps.backfill.waive(
        paper_number, reason=body.reason, by=session.user.username
    )
    await record(
        request,
        AuditAction.BACKFILL_WAIVED,
        session.user.username,
        paper_number=paper_number,
        reason=body.reason,
    )
    return {"paper_number": paper_number, "waived": True, "waive_reason": body.reason}


def _check_paper_number(paper_number: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", paper_number):
        raise InvalidInput("paper_number", "must be letters, digits, '-' or '_' (at most 64)")


# --- supervisor: health checks, audit, closing the backfill, callbacks -------------------


def _board(request: Request) -> HealthBoard:
    board = runtime_of(request).deps.board
    if board is None:
        raise BoardMissing("emergency health board is not wired in this process")
    return board


@router.get("/emergency/checks", tags=["emergency"])
async def health_checks(session: SupervisorSession, request: Request) -> dict[str, Any]:
    """The latest result of each health check of the main seat system."""
    return {"items": [json_value(c) for c in _board(request).health()]}


@router.get("/emergency/audit", tags=["emergency"])
async def audit_log(
    session: SupervisorSession,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    return {"items": [json_value(a) for a in _board(request).audit_log(limit)]}


@router.post("/emergency/close-backfill", tags=["backfill"])
async def close_backfill(session: SupervisorSession, request: Request) -> dict[str, Any]:
    """Back to normal once every emergency call has a ticket or a waiver (409 otherwise)."""
    runtime = runtime_of(request)
    await runtime.deps.backfill.close_backfill(session.user.username)
    return emergency_json(runtime.deps.emergency.status())


@router.get("/callbacks", tags=["backfill"])
async def callback_list(session: SupervisorSession, request: Request) -> dict[str, Any]:
    """Callers affected by the outage, to call back (回访)."""
    return {"items": [json_value(t) for t in await _board(request).callback_list()]}


class CallBackBody(Strict):
    caller_number: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_PHONE)]


@router.post("/callbacks", tags=["backfill"])
async def call_back(
    body: CallBackBody, session: SupervisorSession, request: Request
) -> dict[str, Any]:
    """Ring the supervisor's own phone and connect it to the caller."""
    interface = session.user.interface
    if not interface:
        raise NoPhoneInterface(f"user {session.user.username} has no phone interface")
    action_id = await _board(request).call_back(
        body.caller_number, interface=interface, by=session.user.username
    )
    return {"action_id": action_id, "caller_number": body.caller_number, "interface": interface}
