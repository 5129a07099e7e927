"""`/api/audit`: the access audit trail (supervisor+), newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from console.errors import ERROR_RESPONSES
from console.runtime import SupervisorSession, runtime_of
from routing.domain.audit import AuditFilter

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["audit"])


@router.get("/audit")
async def audit_trail(
    session: SupervisorSession,
    request: Request,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")] = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Access audit entries, newest first."""
    query = AuditFilter(actor=actor or None, action=action or None, since=since, limit=limit)
    entries = await runtime_of(request).deps.audit.entries(query)
    return {"items": [e.as_json() for e in entries]}
