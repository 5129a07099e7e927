"""`POST /api/agent/state`: the logged-in agent ready or paused, which drives their queue
membership and pause on the PBX."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request

from console.api.inputs import Strict
from console.domain.agent_state import AgentState
from console.errors import ERROR_RESPONSES
from console.runtime import AgentSession, runtime_of

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["agent"])


class AgentStateBody(Strict):
    state: Literal["ready", "paused"]


@router.post("/agent/state")
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
