"""`/api/login`, `/api/logout` and `/api/me`: a program's log-in (the token, also set as
the session cookie), its log-out, and who is logged in; then (`session_router`) the
logged-in user's other sessions and own settings: log out everywhere, a wallboard token,
a new password (every other session ends) and the language of their pages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, StringConstraints

from console.api.inputs import LINE, Password, Strict
from console.api.users import sessions_ended
from console.errors import ERROR_RESPONSES, LogoutNotRecorded, NotAuthenticated, WrongPassword
from console.i18n import language_of
from console.login import delete_session_cookie, end_session, log_in, set_session_cookie
from console.messages import error_message
from console.runtime import AgentSession, SupervisorSession, client_address, record, runtime_of
from routing.domain.audit import AuditAction
from routing.errors import InvalidInput

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["auth"])


class LoginBody(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=LINE)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class LoginResult(BaseModel):
    token: str
    username: str
    role: str
    expires_at: str


@router.post("/login", response_model=LoginResult)
async def login(body: LoginBody, request: Request, response: Response) -> LoginResult:
    session = await log_in(request, body.username, body.password)
    if session is None:
        raise NotAuthenticated("wrong user name or password")
    set_session_cookie(request, response, session)
    return LoginResult(
        token=session.token,
        username=session.user.username,
        role=session.user.role.value,
        expires_at=session.claims.expires_at.isoformat(),
    )


@router.post("/logout")
async def logout(session: AgentSession, request: Request, response: Response) -> dict[str, Any]:
    result = await end_session(request, session)
    delete_session_cookie(request, response)
    _ = language_of(request, runtime_of(request).deps.locale).gettext
    if result.not_recorded:
        response.status_code = 503
        return {"logged_out": False, "detail": error_message(LogoutNotRecorded(), _)}
    if result.pbx_problem:
        response.status_code = 502
        message = _("Logged out, but the PBX did not take you out of the queue: %(reason)s")
        return {"logged_out": True, "detail": message % {"reason": result.pbx_problem}}
    return {"logged_out": True}


@router.get("/me")
async def me(session: AgentSession, request: Request) -> dict[str, Any]:
    runtime = runtime_of(request)
    user = session.user
    return {
        "username": user.username,
        "role": user.role.value,
        "interface": user.interface,
        "agent_state": (await runtime.agents.current_state(user)).value,
        "main_queue": runtime.agents.main_queue,
        "expires_at": session.claims.expires_at.isoformat(),
        "language": user.language,  # the person's choice for their pages; null: none
    }


# The logged-in user's other sessions and own settings. A router of its own, included after
# the other tags' routes (`console.api.router`), where these paths sit in the OpenAPI
# document.
session_router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["auth"])


@session_router.post("/logout-everywhere")
async def logout_everywhere(session: AgentSession, request: Request) -> dict[str, Any]:
    """End every session of the logged-in user, this one included, on every process."""
    runtime = runtime_of(request)
    user = await runtime.deps.users.end_sessions(session.user.username)
    await sessions_ended(request, user, "logged out everywhere")
    await record(request, AuditAction.LOGOUT_EVERYWHERE, user.username)
    return {"logged_out": True}


@session_router.post("/wallboard/token")
async def wallboard_token(session: SupervisorSession, request: Request) -> dict[str, Any]:
    """A read-only token that opens the wallboard and nothing else (for a wall screen's
    URL); it ends with the issuing user's sessions."""
    runtime = runtime_of(request)
    token = runtime.sessions.issue_wallboard_token(session)
    await record(request, AuditAction.WALLBOARD_TOKEN, session.user.username)
    return {"token": token, "url": f"/wallboard?token={token}"}


class OwnPasswordBody(Strict):
    current: Password
    new: Password


@session_router.post("/me/password")
async def change_own_password(
    body: OwnPasswordBody, session: AgentSession, request: Request, response: Response
) -> dict[str, Any]:
    """The logged-in user's own password: `current` must be theirs (a wrong one is audited
    and counted like a failed log-in), `new` must pass the password policy. Every other
    session of the user ends, on every process; this one goes on with the new token in
    the answer (and in the cookie)."""
    runtime = runtime_of(request)
    username = session.user.username
    try:
        renewed = await runtime.sessions.change_password(
            session, body.current, body.new, client=client_address(request)
        )
    except WrongPassword:
        await record(request, AuditAction.PASSWORD_REFUSED, username, user=username)
        raise
    except InvalidInput as exc:  # the policy speaks of "password": here that field is "new"
        raise InvalidInput("new", exc.message) from exc
    await sessions_ended(request, renewed.user, "password changed")
    await record(request, AuditAction.USER_PASSWORD, username, user=username, own=True)
    set_session_cookie(request, response, renewed)
    return {
        "changed": True,
        "token": renewed.token,
        "expires_at": renewed.claims.expires_at.isoformat(),
    }


class OwnLanguageBody(Strict):
    language: Literal["zh-CN", "en"] | None


@session_router.post("/me/language")
async def choose_own_language(
    body: OwnLanguageBody, session: AgentSession, request: Request
) -> dict[str, Any]:
    """The logged-in user's language for their pages (`null`: none chosen, the browser
    and HOTLINE_LOCALE decide). Kept on the user, so it follows them to any browser;
    a page's `?lang=` sets it too."""
    user = await runtime_of(request).deps.users.set_language(session.user.username, body.language)
    return {"username": user.username, "language": user.language}
