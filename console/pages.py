"""Server-rendered pages for people: log-in form, agent console, supervisor console.

Templates only lay out the page (autoescaped); live data comes from the JSON API and the
websocket, rendered by the page scripts with textContent (never innerHTML with data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from console.api import delete_session_cookie, end_session, log_in, set_session_cookie
from console.errors import TooManyAttempts
from console.runtime import optional_page_session, same_origin
from console.sessions import Session
from routing.records import UserRole

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

router = APIRouter(include_in_schema=False)

PageSession = Annotated[Session | None, Depends(optional_page_session)]


def _home_for(session: Session) -> str:
    return "/supervisor" if session.user.role.at_least(UserRole.SUPERVISOR) else "/agent"


def _to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


@router.get("/")
async def home(session: PageSession) -> Response:
    return _to_login() if session is None else RedirectResponse(_home_for(session), 303)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, session: PageSession) -> Response:
    if session is not None:
        return RedirectResponse(_home_for(session), status_code=303)
    return TEMPLATES.TemplateResponse(request, "login.html", {"error": None, "username": ""})


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    if not same_origin(request):
        return TEMPLATES.TemplateResponse(
            request, "login.html", {"error": "cross-site log-in refused", "username": ""}, 403
        )
    session = None
    if username and password and "\n" not in username and "\r" not in username:
        try:
            session = await log_in(request, username, password)
        except TooManyAttempts as exc:
            return TEMPLATES.TemplateResponse(
                request,
                "login.html",
                {"error": f"Too many failed log-ins. {exc}.", "username": username},
                status_code=429,
                headers={"Retry-After": str(exc.retry_after)},
            )
    if session is None:
        return TEMPLATES.TemplateResponse(
            request,
            "login.html",
            {"error": "Wrong user name or password.", "username": username},
            status_code=401,
        )
    response = RedirectResponse(_home_for(session), status_code=303)
    set_session_cookie(request, response, session)
    return response


@router.post("/logout")
async def logout_submit(request: Request, session: PageSession) -> Response:
    response: Response = _to_login()
    if session is not None and same_origin(request):
        result = await end_session(request, session)
        if result.not_recorded:
            # Out of this browser, but say so: the token is not refused everywhere yet.
            response = TEMPLATES.TemplateResponse(
                request,
                "login.html",
                {
                    "error": f"Logged out of this browser, but {result.not_recorded}.",
                    "username": "",
                },
                status_code=503,
            )
    delete_session_cookie(request, response)
    return response


@router.get("/agent", response_class=HTMLResponse)
async def agent_page(request: Request, session: PageSession) -> Response:
    if session is None:
        return _to_login()
    return TEMPLATES.TemplateResponse(
        request, "agent.html", {"user": session.user, "page": "agent"}
    )


@router.get("/supervisor", response_class=HTMLResponse)
async def supervisor_page(request: Request, session: PageSession) -> Response:
    if session is None:
        return _to_login()
    if not session.user.role.at_least(UserRole.SUPERVISOR):
        return TEMPLATES.TemplateResponse(
            request,
            "forbidden.html",
            {"user": session.user, "page": "forbidden", "needed": "supervisor"},
            status_code=403,
        )
    return TEMPLATES.TemplateResponse(
        request, "supervisor.html", {"user": session.user, "page": "supervisor"}
    )
