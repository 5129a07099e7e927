"""`/api/sites`: search the site directory, and one site's record (the screen-pop's)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from console.api.inputs import DIGITS, LINE
from console.deps import json_value
from console.errors import ERROR_RESPONSES
from console.runtime import AgentSession, runtime_of
from routing.errors import InvalidInput, SiteNotFound

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["sites"])


@router.get("/sites")
async def search_sites(
    session: AgentSession,
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=100, pattern=LINE)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    found = await runtime_of(request).deps.sites.search(q.strip(), limit=limit)
    return {"items": [json_value(s) for s in found]}


@router.get("/sites/{site_code}")
async def site_record(site_code: str, session: AgentSession, request: Request) -> dict[str, Any]:
    if not re.fullmatch(DIGITS, site_code):
        raise InvalidInput("site_code", "must be digits (at most 32)")
    runtime = runtime_of(request)
    record = await runtime.deps.sites.site_record(site_code, at=runtime.deps.clock())
    if record is None:
        raise SiteNotFound(site_code)
    data: dict[str, Any] = json_value(record)
    return data
