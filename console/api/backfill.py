"""`/api/backfill` and `/api/callbacks`: after emergency mode, the calls with their paper
numbers, typing a paper ticket in, waiving one, the reconciliation, back to normal once
every call is accounted for, and calling back the callers the outage affected (回访)."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import Field, StringConstraints, field_validator

from console.api.emergency import emergency_json, health_board
from console.api.inputs import PHONE, PhoneNumber, Reason, SiteCode, Strict
from console.deps import json_value
from console.errors import ERROR_RESPONSES, NoPhoneInterface
from console.runtime import AgentSession, SupervisorSession, record, runtime_of
from routing.domain.audit import AuditAction
from routing.errors import InvalidInput

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["backfill"])


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


@router.get("/backfill")
async def list_backfill(session: SupervisorSession, request: Request) -> dict[str, Any]:
    items = await runtime_of(request).deps.backfill.items()
    return {"items": [backfill_json(i) for i in items]}


@router.get("/backfill/reconciliation")
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


@router.post("/backfill/{paper_number}")
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


@router.post("/backfill/{paper_number}/waive")
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


@router.post("/emergency/close-backfill")
async def close_backfill(session: SupervisorSession, request: Request) -> dict[str, Any]:
    """Back to normal once every emergency call has a ticket or a waiver (409 otherwise)."""
    runtime = runtime_of(request)
    await runtime.deps.backfill.close_backfill(session.user.username)
    return emergency_json(runtime.deps.emergency.status())


@router.get("/callbacks")
async def callback_list(session: SupervisorSession, request: Request) -> dict[str, Any]:
    """Callers affected by the outage, to call back (回访)."""
    return {"items": [json_value(t) for t in await health_board(request).callback_list()]}


class CallBackBody(Strict):
    caller_number: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PHONE)]


@router.post("/callbacks")
async def call_back(
    body: CallBackBody, session: SupervisorSession, request: Request
) -> dict[str, Any]:
    """Ring the supervisor's own phone and connect it to the caller."""
    interface = session.user.interface
    if not interface:
        raise NoPhoneInterface(f"user {session.user.username} has no phone interface")
    action_id = await health_board(request).call_back(
        body.caller_number, interface=interface, by=session.user.username
    )
    return {"action_id": action_id, "caller_number": body.caller_number, "interface": interface}
