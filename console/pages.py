"""Server-rendered pages for people: log-in form, agent console, supervisor console, the
access audit trail (supervisor+) and console users (admin).

Templates only lay out the page (autoescaped); live data comes from the JSON API and the
websocket, rendered by the page scripts with textContent (never innerHTML with data).
Every page is rendered in the request's language (console.i18n) with its `_()` and
carries the script catalogue and the desk's time zone for the page scripts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from console.errors import TooManyAttempts
from console.i18n import RequestLanguage, language_of, remember_language
from console.login import delete_session_cookie, end_session, log_in, set_session_cookie
from console.messages import N_
from console.runtime import keep_language, optional_page_session, runtime_of, same_origin
from console.sessions import Session
from routing.domain.audit import AuditAction
from routing.records import ConsoleUser, UserRole
from translations import LANGUAGES, catalogue_for_scripts

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.add_extension("jinja2.ext.i18n")

router = APIRouter(include_in_schema=False)

PageSession = Annotated[Session | None, Depends(optional_page_session)]


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The template `name` in the request's language; an explicit `?lang=` is kept."""
    deps = runtime_of(request).deps
    user = context.get("user")
    language = page_language(request, user)
    response = TEMPLATES.TemplateResponse(
        request,
        name,
        {
            **context,
            "lang": language.language,
            # The log-in form hands a language chosen in this browser to the log-in.
            "lang_choice": language.language if language.chosen or language.remembered else "",
            "timezone": deps.timezone,
            "catalogue": catalogue_for_scripts(language.language),
            "_": language.gettext,
            "gettext": language.gettext,
            "ngettext": language.ngettext,
        },
        status_code=status_code,
        headers=headers,
    )
    remember_language(response, language, secure=deps.secure_cookies)
    return response


def page_language(request: Request, user: ConsoleUser | None = None) -> RequestLanguage:
    """The page's language: for a signed-in `user` their own choice counts first."""
    return language_of(
        request,
        runtime_of(request).deps.locale,
        signed_in=user is not None,
        preferred=user.language if user is not None else None,
    )


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
        response: Response = RedirectResponse(_home_for(session), status_code=303)
        remember_language(
            response, page_language(request), secure=runtime_of(request).deps.secure_cookies
        )
        return response
    return render(request, "login.html", {"error": None, "username": ""})


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    lang: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    _ = page_language(request).gettext
    if not same_origin(request):
        return render(
            request, "login.html", {"error": _("Cross-site log-in refused."), "username": ""}, 403
        )
    session = None
    if username and password and "\n" not in username and "\r" not in username:
        try:
            session = await log_in(request, username, password)
        except TooManyAttempts as exc:
            message = _("Too many failed log-ins: try again in %(seconds)d s.")
            return render(
                request,
                "login.html",
                {"error": message % {"seconds": exc.retry_after}, "username": username},
                status_code=429,
                headers={"Retry-After": str(exc.retry_after)},
            )
    if session is None:
        return render(
            request,
            "login.html",
            {"error": _("Wrong user name or password."), "username": username},
            status_code=401,
        )
    if lang in LANGUAGES and session.user.language is None:
        # The language the person chose on the log-in page becomes theirs; a choice they
        # already made stands (a `?lang=` on any page changes it).
        await keep_language(request, session, lang)
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
            _ = page_language(request).gettext
            response = render(
                request,
                "login.html",
                {
                    "error": _(
                        "Logged out of this browser, but the log-out could not be recorded"
                        " for every console yet: other consoles may accept the session"
                        " until the database answers."
                    ),
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
    return render(request, "agent.html", {"user": session.user, "page": "agent"})


def _forbidden(request: Request, session: Session, needed: UserRole) -> Response:
    return render(
        request,
        "forbidden.html",
        {"user": session.user, "page": "forbidden", "needed": needed.value},
        status_code=403,
    )


@router.get("/supervisor", response_class=HTMLResponse)
async def supervisor_page(request: Request, session: PageSession) -> Response:
    if session is None:
        return _to_login()
    if not session.user.role.at_least(UserRole.SUPERVISOR):
        return _forbidden(request, session, UserRole.SUPERVISOR)
    return render(request, "supervisor.html", {"user": session.user, "page": "supervisor"})


# The roles and audit actions as the pages name them (translated in the templates).
ROLE_LABELS = (
    (UserRole.AGENT.value, N_("agent")),
    (UserRole.SUPERVISOR.value, N_("supervisor")),
    (UserRole.ADMIN.value, N_("admin")),
)
AUDIT_ACTION_LABELS = (
    (AuditAction.LOGIN, N_("log-in")),
    (AuditAction.LOGIN_FAILED, N_("failed log-in")),
    (AuditAction.LOGIN_THROTTLED, N_("throttled log-in")),
    (AuditAction.LOGOUT, N_("log-out")),
    (AuditAction.LOGOUT_EVERYWHERE, N_("log-out everywhere")),
    (AuditAction.USER_ADDED, N_("user added")),
    (AuditAction.USER_PASSWORD, N_("password changed")),
    (AuditAction.PASSWORD_REFUSED, N_("password change refused")),
    (AuditAction.USER_DISABLED, N_("user disabled")),
    (AuditAction.USER_ENABLED, N_("user enabled")),
    (AuditAction.USER_ROLE, N_("role changed")),
    (AuditAction.WALLBOARD_TOKEN, N_("wallboard token")),
    (AuditAction.EMERGENCY, N_("emergency mode switched")),
    (AuditAction.BACKFILL, N_("paper ticket entered")),
    (AuditAction.BACKFILL_WAIVED, N_("paper ticket waived")),
    (AuditAction.SLA_PAUSE, N_("SLA clocks paused")),
    (AuditAction.SLA_RESUME, N_("SLA clocks resumed")),
    (AuditAction.ONCALL_SWAP, N_("on-call duty swapped")),
    (AuditAction.ONCALL_ACK, N_("on-call page acknowledged")),
)


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request, session: PageSession) -> Response:
    """Console users (admin only); the page script works over `/api/users`."""
    if session is None:
        return _to_login()
    if not session.user.role.at_least(UserRole.ADMIN):
        return _forbidden(request, session, UserRole.ADMIN)
    context = {"user": session.user, "page": "admin", "roles": ROLE_LABELS}
    return render(request, "admin.html", context)


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, session: PageSession) -> Response:
    """The access audit trail (supervisor+); the page script reads `/api/audit`."""
    if session is None:
        return _to_login()
    if not session.user.role.at_least(UserRole.SUPERVISOR):
        return _forbidden(request, session, UserRole.SUPERVISOR)
    actions = tuple((action.value, label) for action, label in AUDIT_ACTION_LABELS)
    return render(
        request, "audit.html", {"user": session.user, "page": "audit", "actions": actions}
    )


@router.get("/oncall", response_class=HTMLResponse)
async def oncall_page(request: Request, session: PageSession) -> Response:
    """Today's on-call duty and the pages sent (supervisor+); the page script works over
    `/api/oncall`."""
    if session is None:
        return _to_login()
    if not session.user.role.at_least(UserRole.SUPERVISOR):
        return _forbidden(request, session, UserRole.SUPERVISOR)
    return render(request, "oncall.html", {"user": session.user, "page": "oncall"})
