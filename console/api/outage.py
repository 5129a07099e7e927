"""`/api/outage`: the outage announcement callers hear, as supervisors set it.

The announcements themselves live with the IVR (`ivr.outage.OutageAnnouncements`); this
module only maps HTTP onto them, and their errors onto status codes. `outage_router(board)`
takes the announcements it drives; `console.components.build` mounts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator

from console.errors import ERROR_RESPONSES
from console.runtime import require
from console.sessions import Session
from ivr.errors import PromptBuildError, UnknownIncident
from routing.records import UserRole


class OutageBoard(Protocol):
    """What the route needs of `ivr.outage.OutageAnnouncements`."""

    def current(self) -> dict[str, Any]: ...

    async def announce(
        self, incident: str, texts: Mapping[str, str], by: str
    ) -> dict[str, Any]: ...

    async def clear(self, by: str) -> dict[str, Any]: ...


class OutageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9-]+$",
        description="number of the incident's ticket",
    )
    texts: dict[str, Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        description='announcement per menu language, e.g. {"zh": ..., "en": ...}'
    )

    @field_validator("texts")
    @classmethod
    def _one_line_each(cls, value: dict[str, str]) -> dict[str, str]:
        for lang, text in value.items():
            if any(ch in text for ch in "\r\n\0"):
                raise ValueError(f"the {lang} text must be one line")
        return value


def outage_router(board: OutageBoard) -> APIRouter:
    """`GET` (agent+), `POST` and `DELETE` (supervisor+) `/api/outage`."""
    router = APIRouter(tags=["outage"], responses=ERROR_RESPONSES)

    @router.get("/api/outage")
    async def get_outage(
        _: Annotated[Session, Depends(require(UserRole.AGENT))],
    ) -> dict[str, Any]:
        return board.current()

    @router.post("/api/outage")
    async def post_outage(
        body: OutageIn, session: Annotated[Session, Depends(require(UserRole.SUPERVISOR))]
    ) -> dict[str, Any]:
        try:
            return await board.announce(body.incident, body.texts, session.user.username)
        except UnknownIncident as exc:
            raise HTTPException(404, str(exc)) from exc
        except PromptBuildError as exc:
            raise HTTPException(503, f"cannot render the announcement: {exc}") from exc

    @router.delete("/api/outage")
    async def delete_outage(
        session: Annotated[Session, Depends(require(UserRole.SUPERVISOR))],
    ) -> dict[str, Any]:
        return await board.clear(session.user.username)

    return router
