"""HTTP face of supervision, mounted in the console app by `supervision.components`
(`Supervision.routes`, with the console's access checks).

`router(deps)` gives:

* ``GET  /ack/{code}``                      what a notice is about, with an acknowledge button
* ``POST /ack/{code}``                      acknowledge it (the code is the credential)
* ``GET  /wallboard``                       the live wallboard page (supervisor)
* ``GET  /wallboard/static/{name}``         its script and style (no CDN)
* ``GET  /api/wallboard``                   the latest snapshot as JSON (supervisor)
* ``WS   /ws/wallboard``                    live snapshots (supervisor)
* ``GET  /api/supervision/notices``         notices with delivery/ack state (supervisor)
* ``POST /api/supervision/tickets/{n}/pause|resume``  stop/restart a ticket's SLA clocks
* ``GET  /reports/monthly/{month}/``        the monthly report, rendered on demand (supervisor),
                                              in HOTLINE_LOCALE; a reader of another language
                                              is sent to ``/reports/monthly/{month}/{lang}/``
* ``GET  /reports/monthly/{month}/{file}``  its plots and CSV files (also under ``{lang}/``)

Pages and errors speak the catalogue: the acknowledgement pages in the hotline's language
(like the notices that link to them), the rest in the asker's (`asker_language`).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import (
    APIRouter,
    Depends,
    Form,
    HTTPException,
    Query,
    Request,
    WebSocket,
    WebSocketDisconnect,
)
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.websockets import WebSocketState

from bus import MessageBus, Subscription
from calls.clock import Clock, utc_now
from routing.domain.levels import SlaPolicy
from supervision.domain.calendar import CHINA_STANDARD_TIME, WorkingCalendar
from supervision.domain.errors import UnknownAckCode
from supervision.domain.escalation import N_
from supervision.domain.monthly import Month
from supervision.ports import MonthlyFacts, SupervisionStore
from supervision.records import StoredNotice
from supervision.wallboard import TOPIC, WallboardPublisher
from translations import DEFAULT_LANGUAGE, LANGUAGES, format_local, negotiate, translator

log = logging.getLogger(__name__)

STATIC_FILES = {
    "wallboard.js": "text/javascript; charset=utf-8",
    "wallboard.css": "text/css; charset=utf-8",
}


@dataclass
class SupervisionWebDeps:
    """The two access checks are required (keyword only): a router without them would
    let anyone in."""

    store: SupervisionStore
    bus: MessageBus
    publisher: WallboardPublisher | None = None
    # FastAPI dependency that raises (401/403) unless the request is a supervisor's.
    require_supervisor: Callable[..., Any] = field(kw_only=True)
    # FastAPI dependency for agent+ routes (pausing a ticket's clocks); default: supervisor.
    require_agent: Callable[..., Any] | None = None
    # The wallboard page and JSON: also open to a wallboard-scoped (read-only) token;
    # default: supervisor.
    require_wallboard: Callable[..., Any] | None = None
    # Websocket check: return False after refusing the handshake yourself.
    authorize_websocket: Callable[[WebSocket], Awaitable[bool]] = field(kw_only=True)
    # FastAPI dependency giving the acting user's name (who paused a clock).
    current_user: Callable[..., Awaitable[str]] | None = None
    # Audit hook: (request, action, actor, **detail); called after a pause or resume.
    audit: Callable[..., Awaitable[None]] | None = None
    clock: Clock = utc_now
    # Monthly reports served from the console (both needed).
    reports: MonthlyFacts | None = None
    report_dir: Path | None = None
    # The hotline's language (HOTLINE_LOCALE) and local time: the acknowledgement pages
    # speak it like the notices that link to them, and the report (one copy per month).
    language: str = DEFAULT_LANGUAGE
    zone: tzinfo = CHINA_STANDARD_TIME
    # The report's field work is judged by these (default: DESIGN.md's tables, calendar).
    sla: SlaPolicy | None = None
    calendar: WorkingCalendar | None = None


# Error answers for the OpenAPI schema (`{"detail": ...}`; 422 is FastAPI's own).
_SIGNED_IN: dict[int | str, dict[str, Any]] = {
    401: {"description": "not logged in, or the session ended"},
    403: {"description": "the role may not do this, or a cross-site request"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such code, ticket or file"}}
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "the wallboard, the reports or the database are not available"}
}

REPORT_FILE = re.compile(r"^[a-z_]+\.(png|csv|html)$")


class PauseBody(BaseModel):
    reason: str = Field("waiting for customer", max_length=500)


def _static(name: str) -> str:
    return resources.files("supervision").joinpath("static", name).read_text(encoding="utf-8")


def _page(language: str, title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        f'<title>{html.escape(title)}</title></head><body style="font-family:sans-serif;'
        f'max-width:40em;margin:3em auto"><h1>{html.escape(title)}</h1>{body}</body></html>',
        status_code=status,
    )


def _refused(
    request: Request, default: str, status: int, message: str, **values: object
) -> HTTPException:
    """An API error worded in the asker's language (`asker_language`)."""
    text = translator(asker_language(request, default)).gettext(message)
    return HTTPException(status, text % values if values else text)


def _month(request: Request, default: str, text: str) -> str:
    try:
        return str(Month.parse(text))
    except ValueError as exc:
        raise _refused(request, default, 404, N_("No such month: write it as YYYY-MM.")) from exc


def _acknowledgement_routes(api: APIRouter, deps: SupervisionWebDeps) -> None:
    """`/ack/{code}`: the page a notice links to, in the hotline's language."""

    def _known_code(code: str) -> bool:
        return code.isascii() and len(code) <= 32 and not any(c in code for c in "\r\n")

    _ = translator(deps.language).gettext

    def page(title: str, body: str, status: int = 200) -> HTMLResponse:
        return _page(deps.language, title, body, status)

    def _unknown_code() -> HTMLResponse:
        check = _("Check the link.")
        return page(_("Unknown acknowledgement code"), f"<p>{html.escape(check)}</p>", 404)

    def _about(notice: StoredNotice) -> str:
        ticket = _("Ticket %(ticket)s: %(title)s") % {
            "ticket": f"<b>{html.escape(notice.ticket_number)}</b>",
            "title": html.escape(notice.title),
        }
        return f"<p>{ticket}</p>"

    def _acked(notice: StoredNotice) -> str:
        said = _("Acknowledged by %(by)s at %(time)s.") % {
            "by": notice.acked_by or "",
            "time": format_local(notice.acked_at, deps.zone),
        }
        return f"<p>{html.escape(said)}</p>"

    @api.get("/ack/{code}", response_class=HTMLResponse, responses=_NOT_FOUND)
    async def acknowledge_page(code: str) -> HTMLResponse:
        """The link in a notice: shows what it is about and a button that acknowledges it.
        Opening it changes nothing, so an IM client's link preview acknowledges nothing."""
        if not _known_code(code):
            return _unknown_code()
        try:
            notice = await deps.store.notice_by_code(code)
        except UnknownAckCode:
            return _unknown_code()
        if notice.acked_at is not None:
            return page(_("Acknowledged"), _about(notice) + _acked(notice))
        your_name, button = html.escape(_("Your name")), html.escape(_("Acknowledge"))
        form = (
            f'<form method="post" action="/ack/{html.escape(code)}">'
            f'<p><label>{your_name} <input name="by" maxlength="100" required '
            'autocomplete="name"></label></p>'
            f'<p><button type="submit">{button}</button></p></form>'
        )
        return page(_("Acknowledge this notice"), _about(notice) + form)

    @api.post("/ack/{code}", response_class=HTMLResponse, responses=_NOT_FOUND)
    async def acknowledge(code: str, by: str = Form("", max_length=100)) -> HTMLResponse:
        if not _known_code(code):
            return _unknown_code()
        try:
            notice = await deps.store.acknowledge(code, by.strip() or "link", deps.clock())
        except UnknownAckCode:
            return _unknown_code()
        log.info(
            "notice %s for ticket %s acknowledged by %s",
            notice.id,
            notice.ticket_number,
            notice.acked_by,
        )
        return page(_("Acknowledged"), _about(notice) + _acked(notice))


def _report_folder(deps: SupervisionWebDeps, language: str) -> Path:
    assert deps.report_dir is not None
    return deps.report_dir if language == deps.language else deps.report_dir / language


def _other_language(request: Request, deps: SupervisionWebDeps, language: str) -> str:
    """`language` from a report's address: a language of the product, not the hotline's."""
    if language not in LANGUAGES or language == deps.language:
        raise _refused(request, deps.language, 404, N_("No such report file."))
    return language


def _report_routes(
    api: APIRouter, deps: SupervisionWebDeps, supervisor: Any, render_lock: asyncio.Lock
) -> None:
    """`/reports/monthly/…` in the asker's language: the hotline's at `…/YYYY-MM/`, another
    at `…/YYYY-MM/en/` (its own copy, the plots carry words), where `…/YYYY-MM/` sends them."""

    async def index_of(request: Request, month: str, language: str, refresh: bool) -> Path:
        if deps.reports is None or deps.report_dir is None:
            raise _refused(request, deps.language, 503, N_("Reports are not configured."))
        m = _month(request, deps.language, month)
        index = _report_folder(deps, language) / m / "index.html"
        if refresh or not await asyncio.to_thread(index.exists):
            from supervision.report import render_monthly

            async with render_lock:
                folder = _report_folder(deps, language)
                index = await render_monthly(
                    deps.reports, m, folder, now=deps.clock(), language=language,
                    sla=deps.sla, calendar=deps.calendar,
                )  # fmt: skip
        return index

    async def file_of(request: Request, month: str, language: str, name: str) -> FileResponse:
        if deps.report_dir is None or not REPORT_FILE.match(name):
            raise _refused(request, deps.language, 404, N_("No such report file."))
        path = _report_folder(deps, language) / _month(request, deps.language, month) / name
        if not await asyncio.to_thread(path.is_file):
            raise _refused(request, deps.language, 404, N_("No such report file."))
        return FileResponse(path)

    @api.get("/reports/monthly/{month}", include_in_schema=False, dependencies=[supervisor])
    async def report_redirect(month: str, request: Request) -> RedirectResponse:
        return RedirectResponse(f"/reports/monthly/{_month(request, deps.language, month)}/")

    @api.get(
        "/reports/monthly/{month}/",
        dependencies=[supervisor],
        responses={**_SIGNED_IN, **_NOT_FOUND, **_UNAVAILABLE},
        response_model=None,
    )
    async def report_index(
        month: str, request: Request, refresh: bool = False
    ) -> FileResponse | RedirectResponse:
        language = asker_language(request, deps.language)
        if language != deps.language:
            m = _month(request, deps.language, month)
            return RedirectResponse(f"/reports/monthly/{m}/{language}/", status_code=303)
        index = await index_of(request, month, language, refresh)
        return FileResponse(index, media_type="text/html; charset=utf-8")

    @api.get(
        "/reports/monthly/{month}/{language}/",
        dependencies=[supervisor],
        responses={**_SIGNED_IN, **_NOT_FOUND, **_UNAVAILABLE},
    )
    async def report_index_in(
        month: str, language: str, request: Request, refresh: bool = False
    ) -> FileResponse:
        index = await index_of(request, month, _other_language(request, deps, language), refresh)
        return FileResponse(index, media_type="text/html; charset=utf-8")

    @api.get(
        "/reports/monthly/{month}/{name}",
        dependencies=[supervisor],
        responses={**_SIGNED_IN, **_NOT_FOUND, **_UNAVAILABLE},
    )
    async def report_file(month: str, name: str, request: Request) -> FileResponse:
        return await file_of(request, month, deps.language, name)

    @api.get(
        "/reports/monthly/{month}/{language}/{name}",
        dependencies=[supervisor],
        responses={**_SIGNED_IN, **_NOT_FOUND, **_UNAVAILABLE},
    )
    async def report_file_in(
        month: str, language: str, name: str, request: Request
    ) -> FileResponse:
        return await file_of(request, month, _other_language(request, deps, language), name)


def asker_language(request: Request, default: str) -> str:
    """The language to answer `request` in: the signed-in person's own choice (the
    console's sign-in check leaves it on the request, `console.i18n.note_person`), then
    `?lang=`, then the browser's Accept-Language, then `default` (the hotline's)."""
    own = getattr(request.state, "person_language", None)
    asked = request.query_params.get("lang")
    return negotiate(
        chosen=own or asked,
        accept_language=request.headers.get("accept-language"),
        default=default,
    )


def router(deps: SupervisionWebDeps) -> APIRouter:
    """Every route of the module docstring, behind the checks `deps` names."""
    api = APIRouter()
    supervisor = Depends(deps.require_supervisor)
    _acknowledgement_routes(api, deps)
    _wallboard_routes(api, deps)
    _notice_routes(api, deps, supervisor)
    _sla_clock_routes(api, deps)
    # One report rendering at a time: it is CPU-heavy.
    _report_routes(api, deps, supervisor, asyncio.Lock())
    _wallboard_socket(api, deps)
    return api


def _wallboard_routes(api: APIRouter, deps: SupervisionWebDeps) -> None:
    """The wallboard page, its script and style, and its latest snapshot as JSON; the page
    and the JSON also open to a wallboard-scoped token."""
    wallboard = Depends(deps.require_wallboard or deps.require_supervisor)

    @api.get(
        "/wallboard",
        response_class=HTMLResponse,
        dependencies=[wallboard],
        responses={**_SIGNED_IN, **_UNAVAILABLE},
    )
    async def wallboard_page() -> HTMLResponse:
        return HTMLResponse(_static("wallboard.html"))

    @api.get("/wallboard/static/{name}", include_in_schema=False)
    async def wallboard_static(name: str, request: Request) -> Response:
        if name not in STATIC_FILES:
            raise _refused(request, deps.language, 404, N_("No such file."))
        return Response(
            _static(name), media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"}
        )

    @api.get("/api/wallboard", dependencies=[wallboard], responses={**_SIGNED_IN, **_UNAVAILABLE})
    async def wallboard_json(request: Request) -> dict[str, Any]:
        if deps.publisher is None:
            raise _refused(request, deps.language, 503, N_("The wallboard is not running."))
        return deps.publisher.snapshot().to_message()


def _notice_routes(api: APIRouter, deps: SupervisionWebDeps, supervisor: Any) -> None:
    """`/api/supervision/notices`: the notices sent, with their delivery and ack state."""

    @api.get(
        "/api/supervision/notices",
        dependencies=[supervisor],
        responses={**_SIGNED_IN, **_UNAVAILABLE},
    )
    async def notices(
        ticket: str | None = Query(None, max_length=40), limit: int = Query(100, ge=1, le=1000)
    ) -> dict[str, Any]:
        items = await deps.store.notices(ticket_number=ticket, limit=limit)
        return {"items": [n.as_json() for n in items], "states": await deps.store.notice_counts()}


def _sla_clock_routes(api: APIRouter, deps: SupervisionWebDeps) -> None:
    """`/api/supervision/tickets/{n}/pause|resume` (agent+): stop and restart a ticket's
    SLA clocks, audited with the acting user's name."""
    agent = Depends(deps.require_agent or deps.require_supervisor)

    async def _anonymous() -> str:
        return "console"

    actor = Depends(deps.current_user or _anonymous)

    async def _audit(request: Request, action: str, by: str, **detail: object) -> None:
        if deps.audit is not None:
            await deps.audit(request, action, by, **detail)

    @api.post(
        "/api/supervision/tickets/{number}/pause",
        dependencies=[agent],
        responses={**_SIGNED_IN, **_NOT_FOUND, **_UNAVAILABLE},
    )
    async def pause(
        number: str, body: PauseBody, request: Request, by: str = actor
    ) -> dict[str, Any]:
        if len(number) > 40 or not await deps.store.ticket_exists(number):
            raise _refused(request, deps.language, 404, N_("No such ticket."))
        changed = await deps.store.pause(number, deps.clock(), by, body.reason)
        await _audit(request, "sla_pause", by, ticket_number=number, reason=body.reason)
        return {"ticket_number": number, "paused": True, "changed": changed, "by": by}

    @api.post(
        "/api/supervision/tickets/{number}/resume",
        dependencies=[agent],
        responses={**_SIGNED_IN, **_NOT_FOUND, **_UNAVAILABLE},
    )
    async def resume(number: str, request: Request, by: str = actor) -> dict[str, Any]:
        if len(number) > 40 or not await deps.store.ticket_exists(number):
            raise _refused(request, deps.language, 404, N_("No such ticket."))
        changed = await deps.store.resume(number, deps.clock())
        await _audit(request, "sla_resume", by, ticket_number=number)
        return {"ticket_number": number, "paused": False, "changed": changed}


def _wallboard_socket(api: APIRouter, deps: SupervisionWebDeps) -> None:
    """`/ws/wallboard`: the latest snapshot, then every new one, until the viewer leaves."""

    @api.websocket("/ws/wallboard")
    async def wallboard_socket(websocket: WebSocket) -> None:
        if not await deps.authorize_websocket(websocket):
            return
        await websocket.accept()
        subscription = await deps.bus.subscribe(TOPIC)
        try:
            if deps.publisher is not None:
                first = deps.publisher.snapshot().to_message()
                await websocket.send_text(json.dumps(first))
            await _relay_until_closed(websocket, subscription)
        finally:
            await subscription.close()
            if (
                websocket.application_state is WebSocketState.CONNECTED
                and websocket.client_state is WebSocketState.CONNECTED
            ):
                with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                    await websocket.close()


async def _relay_until_closed(websocket: WebSocket, subscription: Subscription) -> None:
    """Send every wallboard message until the viewer goes or the subscription ends."""

    async def relay() -> None:
        async for message in subscription:
            await websocket.send_text(json.dumps(message, default=str))

    async def listen() -> None:
        while True:  # the page sends nothing but pings; we only notice the close
            await websocket.receive_text()

    tasks = [asyncio.create_task(relay()), asyncio.create_task(listen())]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        exc = task.exception()
        if exc is None or isinstance(exc, WebSocketDisconnect):
            log.info("wallboard viewer disconnected")
        else:
            log.warning("wallboard websocket ended: %r", exc)
