"""HTTP face of engineer dispatch, mounted on the console by `Dispatch.routes`
(`supervision.dispatch.components`).

* ``POST /api/tickets/{number}/dispatch``    agent+: send an engineer → dispatch id, link
* ``GET  /api/tickets/{number}/dispatches``  agent+: the ticket's dispatches, the engineers
  to pick from (the site's assigned ones first) and the ticket's clocks
* ``GET  /checkin/{number}/{token}``         the engineer's mobile page (no log-in)
* ``POST /checkin/{number}/{token}``         one step: ``{"status": ..., "latitude"?, ...}``
* ``GET  /checkin/static/{name}``            the page's script and style

The token in the check-in URL is the only credential: a forged, expired or other ticket's
token, or a superseded dispatch, gets a page saying so (never the ticket's details).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from routing.errors import TicketNotFound
from supervision.dispatch.service import CheckinView, DispatchService
from supervision.domain.dispatch import CheckinRefused, CheckinStep, Refusal
from translations import format_local, negotiate, translator

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.add_extension("jinja2.ext.i18n")

STATIC = {"checkin.js": "text/javascript", "checkin.css": "text/css"}

_LINE = r"^[^\x00-\x1f\x7f]*$"
_TOKEN = r"^[0-9A-Za-z._-]{1,100}$"
_NUMBER = r"^[0-9A-Za-z-]{1,40}$"

# Refusals and their answer: a clear page, never the ticket's details.
_REFUSAL_STATUS = {
    Refusal.MALFORMED: 404,
    Refusal.FORGED: 403,
    Refusal.UNKNOWN: 404,
    Refusal.EXPIRED: 410,
    Refusal.SUPERSEDED: 410,
    Refusal.CLOSED: 409,
    Refusal.NOT_ARRIVED: 409,
}


# What the agent routes may answer besides 200 (the console maps the domain errors).
_AGENT_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "not logged in, or the session ended"},
    403: {"description": "the role may not do this, or a cross-site request"},
    404: {"description": "no such ticket"},
    422: {"description": "a field is missing or unacceptable, or the ticket is closed"},
    503: {"description": "the database is not available"},
}


def N_(message: str) -> str:
    """Marks a message for the catalogue; translated where it is shown."""
    return message


REFUSAL_TEXT = {
    Refusal.MALFORMED: N_("This check-in link is incomplete. Open the link from the notice."),
    Refusal.FORGED: N_(
        "This check-in link is not valid for this ticket. Open the link from your own notice."
    ),
    Refusal.UNKNOWN: N_("This dispatch is not known. Ask the hotline for a new link."),
    Refusal.EXPIRED: N_("This check-in link has expired. Ask the hotline for a new link."),
    Refusal.SUPERSEDED: N_(
        "This ticket has been dispatched to another engineer; this link no longer works."
    ),
    Refusal.CLOSED: N_("This ticket is already resolved or closed."),
    Refusal.NOT_ARRIVED: N_("Confirm your arrival first."),
}
_STEP_TEXT = {
    CheckinStep.ON_THE_WAY: N_("On my way"),
    CheckinStep.ARRIVED: N_("Arrived on site"),
    CheckinStep.FIXED: N_("Fixed"),
    CheckinStep.PART_NEEDED: N_("Needs a spare part"),
}


class DispatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engineer: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_LINE)
    ]
    phone: Annotated[str, StringConstraints(max_length=64, pattern=r"^[0-9+*#() .-]*$")] = ""
    channel: Literal["dingtalk", "wecom", "sms", "email", "webhook", ""] = ""
    address: Annotated[str, StringConstraints(max_length=500, pattern=_LINE)] = ""


class CheckinBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: CheckinStep
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    accuracy: float | None = Field(default=None, ge=0, le=1_000_000)


def _language(request: Request, default: str) -> str:
    return negotiate(
        chosen=request.query_params.get("lang"),
        accept_language=request.headers.get("accept-language"),
        default=default,
    )


def router(
    service: DispatchService,
    *,
    require_agent: Callable[..., Any],
    current_user: Callable[..., Awaitable[str]],
    timezone: str = "Asia/Shanghai",
) -> APIRouter:
    api = APIRouter()
    _agent_routes(api, service, require_agent, current_user)
    _checkin_routes(api, service, ZoneInfo(timezone))
    return api


def _agent_routes(
    api: APIRouter,
    service: DispatchService,
    require_agent: Callable[..., Any],
    current_user: Callable[..., Awaitable[str]],
) -> None:
    agent = [Depends(require_agent)]
    actor = Depends(current_user)

    @api.post(
        "/api/tickets/{number}/dispatch",
        tags=["tickets"],
        dependencies=agent,
        responses=_AGENT_ERRORS,
    )
    async def dispatch(
        number: str,
        body: DispatchBody,
        request: Request,
        user: str = actor,
    ) -> dict[str, Any]:
        result = await service.dispatch(
            number,
            engineer=body.engineer,
            phone=body.phone,
            channel=body.channel,
            address=body.address,
            by=user,
            base_url=str(request.base_url),
        )
        return {
            "dispatch_id": result.record.id,
            "checkin_url": result.checkin_url,
            "engineer": result.record.engineer,
            "expires_at": result.record.expires_at.isoformat(),
        }

    @api.get(
        "/api/tickets/{number}/dispatches",
        tags=["tickets"],
        dependencies=agent,
        responses=_AGENT_ERRORS,
    )
    async def dispatches(number: str) -> dict[str, Any]:
        ticket = await service.tickets.get(number)
        if ticket is None:
            raise TicketNotFound(number)
        items = await service.store.for_ticket(number)
        engineers = await service.engineers(number)
        site = await service.sites.site_record(ticket.site_code) if ticket.site_code else None
        return {
            "site_address": site.address if site else None,
            "items": [d.as_json() for d in items],
            "engineers": [
                {"name": e.name, "phone": e.phone, "assigned": e.assigned} for e in engineers
            ],
            "clocks": (await service.ticket_clocks([ticket]))[0],
        }


def _page(request: Request, language: str, context: dict[str, Any], status: int = 200) -> Response:
    translations = translator(language)
    return TEMPLATES.TemplateResponse(
        request,
        "checkin.html",
        {
            **context,
            "lang": language,
            "_": translations.gettext,
            "gettext": translations.gettext,
            "ngettext": translations.ngettext,
        },
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _refused(request: Request, default: str, refusal: Refusal, as_json: bool) -> Response:
    language = _language(request, default)
    text = translator(language).gettext(REFUSAL_TEXT[refusal])
    status = _REFUSAL_STATUS[refusal]
    if as_json:
        return JSONResponse({"error": refusal.value, "message": text}, status_code=status)
    return _page(request, language, {"refusal": refusal.value, "message": text}, status)


def _view_context(view: CheckinView, language: str, zone: ZoneInfo) -> dict[str, Any]:
    gettext = translator(language).gettext
    ticket, site, record = view.ticket, view.site, view.dispatch
    contact = ticket.contact_name or (site.contacts[0].name if site and site.contacts else "")
    phone = ticket.contact_phone or (site.contacts[0].phone if site and site.contacts else "")
    return {
        "refusal": None,
        "ticket": ticket,
        "site_name": site.site_name if site else (ticket.site_code or ""),
        "address": site.address if site else "",
        "distance_km": site.distance_km if site else None,
        "contact": " ".join(p for p in (contact, phone or ticket.caller_number) if p),
        "engineer": record.engineer,
        "state": record.state if ticket.is_open else "closed",
        "arrived_at": format_local(record.arrived_at or ticket.onsite_at, zone),
        "steps": [(s.value, gettext(_STEP_TEXT[s])) for s in CheckinStep],
        "expires_at": format_local(record.expires_at, zone),
    }


def _checkin_routes(api: APIRouter, service: DispatchService, zone: ZoneInfo) -> None:
    default = service.language

    @api.get("/checkin/static/{name}", include_in_schema=False)
    async def checkin_static(name: str) -> Response:
        if name not in STATIC:
            return Response(status_code=404)
        text = resources.files("supervision.dispatch").joinpath("static", name).read_text("utf-8")
        return Response(text, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    @api.get("/checkin/{number}/{token}", include_in_schema=False)
    async def checkin_page(number: str, token: str, request: Request) -> Response:
        if not _valid(number, token):
            return _refused(request, default, Refusal.MALFORMED, False)
        try:
            view = await service.view(number, token)
        except CheckinRefused as exc:
            return _refused(request, default, exc.reason, False)
        language = _language(request, default)
        return _page(request, language, _view_context(view, language, zone))

    @api.post("/checkin/{number}/{token}", include_in_schema=False)
    async def checkin_step(number: str, token: str, request: Request) -> Response:
        if not _valid(number, token):
            return _refused(request, default, Refusal.MALFORMED, True)
        gettext = translator(_language(request, default)).gettext
        try:
            body = CheckinBody.model_validate(await request.json())
        except (ValueError, ValidationError):
            message = gettext("Unknown check-in step.")
            return JSONResponse({"error": "invalid", "message": message}, status_code=422)
        try:
            effects, record = await service.check_in(
                number,
                token,
                body.status,
                latitude=body.latitude,
                longitude=body.longitude,
                accuracy_m=body.accuracy,
            )
        except CheckinRefused as exc:
            return _refused(request, default, exc.reason, True)
        ticket = await service.tickets.get(number)
        onsite = ticket.onsite_at if ticket else None
        return JSONResponse(
            {
                "recorded": not effects.replay,
                "message": gettext("Already recorded.")
                if effects.replay
                else gettext("Recorded. Thank you."),
                "state": record.state,
                "onsite_at": onsite.isoformat() if onsite else None,
                # The arrival as the page writes times: the desk's zone, YYYY-MM-DD HH:MM.
                "onsite_local": format_local(onsite, zone),
            }
        )


def _valid(number: str, token: str) -> bool:
    return bool(re.fullmatch(_NUMBER, number) and re.fullmatch(_TOKEN, token))
