"""`GET /healthz`: the overall state for anyone, the components' details (errors, ports,
nodes) only for a logged-in user or a client on this host."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from console.deps import HEALTHY_STATES
from console.errors import NotAuthenticated
from console.runtime import bearer_token, client_address, runtime_of
from console.sessions import COOKIE_NAME
from routing.errors import StoreUnavailable

log = logging.getLogger(__name__)

router = APIRouter()


def component_status(state: object) -> str:
    """A component's state as one word: the state itself, or its `status`."""
    if isinstance(state, str):
        return state
    if isinstance(state, dict) and isinstance(state.get("status"), str):
        return str(state["status"])
    return "unknown"


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


async def _may_see_details(request: Request) -> bool:
    if _is_loopback(client_address(request)):
        return True
    token = bearer_token(request) or request.cookies.get(COOKIE_NAME)
    if not token:
        return False
    try:
        await runtime_of(request).sessions.resolve(token)
    except (NotAuthenticated, StoreUnavailable):
        return False
    return True


@router.get("/healthz", tags=["health"])
async def healthz(request: Request) -> JSONResponse:
    """`status` (ok, degraded, or down when nothing could be checked) for anyone;
    the components' details (errors, ports, nodes) only for a logged-in user or a
    client on this host."""
    try:
        components = dict(await runtime_of(request).deps.health())
    except Exception as exc:  # a broken probe is itself "degraded", never a 500
        log.warning("health probe failed: %s", exc)
        components = {"health_probe": {"status": "down", "error": str(exc)}}
    statuses = {name: component_status(state) for name, state in components.items()}
    overall = "ok" if all(s in HEALTHY_STATES for s in statuses.values()) else "degraded"
    if "health_probe" in components:
        overall = "down"  # nothing could be checked at all
    if not await _may_see_details(request):
        return JSONResponse({"status": overall})
    body: dict[str, Any] = {"status": overall, **components, "components": components}
    return JSONResponse(body)
