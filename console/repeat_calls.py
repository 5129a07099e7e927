"""`POST /api/tickets/{number}/split`: a repeat call gets a ticket of its own again."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from console.deps import json_value
from console.errors import ERROR_RESPONSES
from console.runtime import require
from console.sessions import Session
from routing.records import Ticket, UserRole

log = logging.getLogger(__name__)


class CallSplitter(Protocol):
    """`routing.tickets.CallTicketService.split_call`."""

    def split_call(self, number: str, call_id: str, *, by: str) -> Awaitable[Ticket]: ...


class SplitIn(BaseModel):
    call_id: str = Field(min_length=1, max_length=64, pattern=r"^[^\r\n\x00]+$")


def split_router(splitter: CallSplitter) -> APIRouter:
    """Agent+: the call leaves ticket `number` for a new ticket (same site, caller and
    level); answers the new ticket. 404 for an unknown ticket, 422 when the call is not
    a repeat call of that ticket."""
    router = APIRouter(tags=["tickets"], responses=ERROR_RESPONSES)

    @router.post("/api/tickets/{number}/split", status_code=201)
    async def split_call(
        number: str,
        body: SplitIn,
        session: Annotated[Session, Depends(require(UserRole.AGENT))],
    ) -> dict[str, Any]:
        ticket = await splitter.split_call(number, body.call_id, by=session.user.username)
        data: dict[str, Any] = json_value(ticket)
        data["split_from"] = number
        return data

    return router
