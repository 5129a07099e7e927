"""`/api/emergency`: emergency mode as every agent sees it, the supervisor's switch, and
the health checks of the main seat system with the switch's audit log."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from console.api.inputs import Reason, Strict
from console.deps import json_value
from console.errors import ERROR_RESPONSES, BoardMissing
from console.runtime import AgentSession, SupervisorSession, record, runtime_of
from fallback.ports import HealthBoard
from routing.domain.audit import AuditAction

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["emergency"])


def emergency_json(status: Any) -> dict[str, Any]:
    return {
        "active": bool(status.active),
        "since": json_value(status.since),
        "reason": status.reason,
        "by": status.by,
        "state": json_value(status.state),
    }


def health_board(request: Request) -> HealthBoard:
    """The emergency health board of this process (`BoardMissing` when not wired)."""
    board = runtime_of(request).deps.board
    if board is None:
        raise BoardMissing("emergency health board is not wired in this process")
    return board


@router.get("/emergency")
async def get_emergency(session: AgentSession, request: Request) -> dict[str, Any]:
    return emergency_json(runtime_of(request).deps.emergency.status())


class EmergencyBody(Strict):
    active: bool = Field(strict=True)
    reason: Reason


@router.post("/emergency")
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


@router.get("/emergency/checks")
async def health_checks(session: SupervisorSession, request: Request) -> dict[str, Any]:
    """The latest result of each health check of the main seat system."""
    return {"items": [json_value(c) for c in health_board(request).health()]}


@router.get("/emergency/audit")
async def audit_log(
    session: SupervisorSession,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    return {"items": [json_value(a) for a in health_board(request).audit_log(limit)]}
