"""HTTP face of on-call paging, mounted on the console by `OnCall.routes`
(`supervision.oncall.components`).

* ``GET  /api/oncall``                  the rota (today and the next days), who is on duty
                                        now, and the pages sent with their ack state
                                        (supervisor+)
* ``POST /api/oncall/shifts/{id}``      another engineer takes a duty period (supervisor+)
* ``POST /api/oncall/pages/{id}/ack``   a supervisor acknowledges a page for the engineer
* ``GET  /oncall/ack/{code}``           the link in a page: what it is about and a button
* ``POST /oncall/ack/{code}``           acknowledge it (the code is the credential)
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Protocol
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from calls.clock import Clock, utc_now
from routing.domain.audit import AuditAction
from supervision.domain.oncall import RotaRowError, Shift, check_contact, duty_order
from supervision.oncall.ports import OnCallStore
from supervision.oncall.records import Page, UnknownPage
from translations import format_local

log = logging.getLogger(__name__)


def _allow_all() -> None:
    return None


async def _console() -> str:
    return "console"


class PageLanguage(Protocol):
    """The language a request is answered in (`console.i18n.RequestLanguage`)."""

    @property
    def language(self) -> str: ...

    def gettext(self, message: str) -> str: ...


@dataclass(frozen=True)
class _English:
    language: str = "en"

    def gettext(self, message: str) -> str:
        return message


def _english(_request: Request) -> PageLanguage:
    return _English()


@dataclass
class OnCallWebDeps:
    store: OnCallStore
    zone: ZoneInfo
    clock: Clock = utc_now
    # FastAPI dependency that raises (401/403) unless the request is a supervisor's.
    require_supervisor: Callable[..., Any] = _allow_all
    # FastAPI dependency giving the acting user's name.
    current_user: Callable[..., Awaitable[str]] = _console
    # The request's language (the console's choice: ?lang=, cookie, browser, default).
    language_of: Callable[[Request], PageLanguage] = _english
    # Audit hook: (request, action, actor, **detail).
    audit: Callable[..., Awaitable[None]] | None = None
    # Said to the leader when a swap changes who is paged next (wakes its pass).
    on_change: Callable[[], None] | None = None


# Error answers for the OpenAPI schema (`{"detail": ...}`; 422 is FastAPI's own).
_SIGNED_IN: dict[int | str, dict[str, Any]] = {
    401: {"description": "not logged in, or the session ended"},
    403: {"description": "the role may not do this, or a cross-site request"},
    503: {"description": "the database is not available"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such shift, page or code"}}


_MAX_ID = 2**31 - 1  # row ids are 32-bit integers in every database we run on


class SwapBody(BaseModel):
    engineer: str = Field(min_length=1, max_length=100, pattern=r"^[^\r\n\x00]+$")
    phone: str | None = Field(None, max_length=64)
    channel: str | None = Field(None, max_length=16)
    address: str | None = Field(None, max_length=500)


def _shift_json(shift: Shift, now: datetime) -> dict[str, Any]:
    return {
        "id": shift.id,
        "start": shift.starts_at.isoformat(),
        "end": shift.ends_at.isoformat(),
        "engineer": shift.engineer,
        "phone": shift.phone,
        "channel": shift.channel,
        "address": shift.address,
        "on_duty": shift.covers(now),
    }


def oncall_router(deps: OnCallWebDeps) -> APIRouter:
    api = APIRouter(tags=["oncall"])
    supervisor = Depends(deps.require_supervisor)
    actor = Depends(deps.current_user)

    @api.get("/api/oncall", dependencies=[supervisor], responses=_SIGNED_IN)
    async def rota(
        days: int = Query(7, ge=1, le=62), pages: int = Query(100, ge=1, le=1000)
    ) -> dict[str, Any]:
        """The rota from the start of today (desk time) for `days` days, the engineers
        on call now in paging order, and the newest pages with their ack state."""
        now = deps.clock()
        today = datetime.combine(now.astimezone(deps.zone).date(), time(0), deps.zone)
        shifts = await deps.store.shifts_between(today, today + timedelta(days=days))
        on_duty = [s for s in duty_order(shifts, now) if s.covers(now)]
        sent = await deps.store.pages(limit=pages)
        return {
            "now": now.isoformat(),
            "items": [_shift_json(s, now) for s in shifts],
            "on_duty": [s.engineer for s in on_duty],
            "engineers": [
                {"engineer": s.engineer, "phone": s.phone, "channel": s.channel}
                for s in await deps.store.all_engineers()
            ],
            "pages": [p.as_json() for p in sent],
        }

    @api.post(
        "/api/oncall/pages/{page_id}/ack",
        dependencies=[supervisor],
        responses={**_SIGNED_IN, **_NOT_FOUND},
    )
    async def ack_page(
        page_id: Annotated[int, Path(ge=1, le=_MAX_ID)], request: Request, by: str = actor
    ) -> dict[str, Any]:
        try:
            page = await deps.store.acknowledge(by=by, at=deps.clock(), page_id=page_id)
        except UnknownPage as exc:
            raise HTTPException(404, deps.language_of(request).gettext("No such page.")) from exc
        if deps.audit is not None:
            await deps.audit(
                request, AuditAction.ONCALL_ACK.value, by, ticket_number=page.ticket_number
            )
        return page.as_json()

    _add_swap_route(api, deps)
    _add_ack_routes(api, deps)
    return api


def _html(
    deps: OnCallWebDeps, request: Request, title: str, body: str, status: int = 200
) -> HTMLResponse:
    lang = deps.language_of(request).language
    return HTMLResponse(
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{html.escape(title)}</title></head><body style="font-family:sans-serif;'
        f'max-width:40em;margin:2em auto;padding:0 1em"><h1>{html.escape(title)}</h1>'
        f"{body}</body></html>",
        status_code=status,
    )


def _about(deps: OnCallWebDeps, request: Request, page: Page) -> str:
    _ = deps.language_of(request).gettext
    rows = [
        (_("Ticket"), page.ticket_number),
        (_("Site"), page.site_code or "—"),
        (_("Caller"), page.caller_number or "—"),
        (_("Engineer"), page.engineer or "—"),
        (_("Requested at"), format_local(page.requested_at, deps.zone)),
    ]
    items = "".join(f"<li>{html.escape(k)}: <b>{html.escape(v)}</b></li>" for k, v in rows)
    if page.acked_at is not None:
        items += (
            "<li>"
            + html.escape(
                _("Acknowledged by %(name)s at %(time)s")
                % {"name": page.acked_by, "time": format_local(page.acked_at, deps.zone)}
            )
            + "</li>"
        )
    return f"<ul>{items}</ul>"


def _valid(code: str) -> bool:
    return (
        code.isascii() and 0 < len(code) <= 32 and code.replace("-", "").replace("_", "").isalnum()
    )


def _unknown(deps: OnCallWebDeps, request: Request) -> HTMLResponse:
    _ = deps.language_of(request).gettext
    return _html(deps, request, _("Unknown acknowledgement code"), "", 404)


def _add_ack_routes(api: APIRouter, deps: OnCallWebDeps) -> None:
    """The link in a page: a form, and the acknowledgement it posts."""

    @api.get("/oncall/ack/{code}", response_class=HTMLResponse, responses=_NOT_FOUND)
    async def ack_form(code: str, request: Request) -> HTMLResponse:
        """Opening the link changes nothing (an IM client's preview acknowledges nothing)."""
        _ = deps.language_of(request).gettext
        if not _valid(code):
            return _unknown(deps, request)
        try:
            page = await deps.store.page_by_code(code)
        except UnknownPage:
            return _unknown(deps, request)
        if page.acked_at is not None:
            return _html(deps, request, _("Acknowledged"), _about(deps, request, page))
        form = (
            f'<form method="post" action="/oncall/ack/{html.escape(code)}"><p><label>'
            f"{html.escape(_('Your name'))} "
            f'<input name="by" maxlength="100" required value="{html.escape(page.engineer)}">'
            f'</label></p><p><button type="submit">{html.escape(_("Acknowledge"))}</button>'
            "</p></form>"
        )
        return _html(deps, request, _("On-call page"), _about(deps, request, page) + form)

    @api.post("/oncall/ack/{code}", response_class=HTMLResponse, responses=_NOT_FOUND)
    async def ack_by_link(
        code: str, request: Request, by: str = Form("", max_length=100)
    ) -> HTMLResponse:
        _ = deps.language_of(request).gettext
        if not _valid(code):
            return _unknown(deps, request)
        name = " ".join(by.split()) or "link"
        try:
            page = await deps.store.acknowledge(by=name, at=deps.clock(), code=code)
        except UnknownPage:
            return _unknown(deps, request)
        log.info("ticket %s: page %d acknowledged by %s", page.ticket_number, page.seq, name)
        return _html(deps, request, _("Acknowledged"), _about(deps, request, page))


def _add_swap_route(api: APIRouter, deps: OnCallWebDeps) -> None:
    """Another engineer takes a duty period (supervisor+)."""
    supervisor = Depends(deps.require_supervisor)
    actor = Depends(deps.current_user)

    @api.post(
        "/api/oncall/shifts/{shift_id}",
        dependencies=[supervisor],
        responses={**_SIGNED_IN, **_NOT_FOUND},
    )
    async def swap(
        shift_id: Annotated[int, Path(ge=1, le=_MAX_ID)],
        body: SwapBody,
        request: Request,
        by: str = actor,
    ) -> dict[str, Any]:
        """Another engineer takes the duty period. Without phone/channel/address the
        engineer's details are taken from their other shifts on the rota."""
        engineer = body.engineer.strip()
        known = {s.engineer: s for s in await deps.store.all_engineers()}
        base = known.get(engineer)
        phone = body.phone or (base.phone if base else "")
        channel = body.channel or (base.channel if base else "")
        address = body.address or (base.address if base else "")
        try:
            channel, phone, address = check_contact(channel, phone, address)
        except RotaRowError as exc:
            _ = deps.language_of(request).gettext
            raise HTTPException(
                422, _("This value is not valid: %(reason)s") % {"reason": str(exc)}
            ) from exc
        now = deps.clock()
        shift = await deps.store.swap_shift(
            shift_id,
            engineer=engineer,
            phone=phone,
            channel=channel,
            address=address,
            by=by,
            at=now,
        )
        if shift is None:
            raise HTTPException(404, deps.language_of(request).gettext("No such shift."))
        log.info("on-call shift %d now %s (by %s)", shift_id, engineer, by)
        if deps.audit is not None:
            await deps.audit(
                request, AuditAction.ONCALL_SWAP.value, by, shift=shift_id, engineer=engineer
            )
        if deps.on_change is not None:
            deps.on_change()
        return _shift_json(shift, now)
