"""JSON API of access management: the audit trail (supervisor+), console users (admin),
"log out everywhere" and a new password (every user, for themselves) and wallboard
tokens (supervisor+).

Every change of a user ends that user's sessions on every console process
(`console.session_end`) and lands in the audit trail.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, StringConstraints

from console.api import Strict, set_session_cookie
from console.errors import ERROR_RESPONSES, WrongPassword
from console.runtime import (
    AdminSession,
    AgentSession,
    SupervisorSession,
    client_address,
    record,
    runtime_of,
)
from console.session_end import announce_session_end
from routing.domain.audit import AuditAction, AuditFilter
from routing.errors import InvalidInput
from routing.records import ConsoleUser

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES)

RoleName = Literal["agent", "supervisor", "admin"]
UserName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"),
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Interface = Annotated[str, StringConstraints(max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")]


def user_json(user: ConsoleUser) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role.value,
        "interface": user.interface,
        "enabled": user.active,
    }


# --- audit --------------------------------------------------------------------------------


@router.get("/audit", tags=["audit"])
async def audit_trail(
    session: SupervisorSession,
    request: Request,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")] = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Access audit entries, newest first."""
    query = AuditFilter(actor=actor or None, action=action or None, since=since, limit=limit)
    entries = await runtime_of(request).deps.audit.entries(query)
    return {"items": [e.as_json() for e in entries]}


# --- sessions -----------------------------------------------------------------------------


@router.post("/logout-everywhere", tags=["auth"])
async def logout_everywhere(session: AgentSession, request: Request) -> dict[str, Any]:
    """End every session of the logged-in user, this one included, on every process."""
    runtime = runtime_of(request)
    user = await runtime.deps.users.end_sessions(session.user.username)
    await announce_session_end(
        runtime.deps.bus, user.username, epoch=user.session_epoch, reason="logged out everywhere"
    )
    await record(request, AuditAction.LOGOUT_EVERYWHERE, user.username)
    return {"logged_out": True}


@router.post("/wallboard/token", tags=["auth"])
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


@router.post("/me/password", tags=["auth"])
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
    await _ended(request, renewed.user, "password changed")
    await record(request, AuditAction.USER_PASSWORD, username, user=username, own=True)
    set_session_cookie(request, response, renewed)
    return {
        "changed": True,
        "token": renewed.token,
        "expires_at": renewed.claims.expires_at.isoformat(),
    }


class OwnLanguageBody(Strict):
    language: Literal["zh-CN", "en"] | None


@router.post("/me/language", tags=["auth"])
async def choose_own_language(
    body: OwnLanguageBody, session: AgentSession, request: Request
) -> dict[str, Any]:
    """The logged-in user's language for their pages (`null`: none chosen, the browser
    and HOTLINE_LOCALE decide). Kept on the user, so it follows them to any browser;
    a page's `?lang=` sets it too."""
    user = await runtime_of(request).deps.users.set_language(session.user.username, body.language)
    return {"username": user.username, "language": user.language}


# --- users (admin) ------------------------------------------------------------------------


@router.get("/users", tags=["users"])
async def list_users(session: AdminSession, request: Request) -> dict[str, Any]:
    users = await runtime_of(request).deps.users.all_users()
    return {"items": [user_json(u) for u in users]}


class NewUserBody(Strict):
    username: UserName
    role: RoleName
    password: Password
    interface: Interface | None = None


@router.post("/users", status_code=201, tags=["users"])
async def add_user(body: NewUserBody, session: AdminSession, request: Request) -> dict[str, Any]:
    user = await runtime_of(request).deps.users.create(
        body.username, body.role, body.password, body.interface or None
    )
    await record(
        request,
        AuditAction.USER_ADDED,
        session.user.username,
        user=user.username,
        role=user.role.value,
        interface=user.interface,
    )
    return user_json(user)


class PasswordBody(Strict):
    password: Password


class RoleBody(Strict):
    role: RoleName


async def _ended(request: Request, user: ConsoleUser, reason: str) -> None:
    await announce_session_end(
        runtime_of(request).deps.bus, user.username, epoch=user.session_epoch, reason=reason
    )


@router.post("/users/{username}/password", tags=["users"])
async def set_password(
    username: str, body: PasswordBody, session: AdminSession, request: Request
) -> dict[str, Any]:
    user = await runtime_of(request).deps.users.set_password(username, body.password)
    await _ended(request, user, "password changed")
    await record(request, AuditAction.USER_PASSWORD, session.user.username, user=user.username)
    return user_json(user)


@router.post("/users/{username}/disable", tags=["users"])
async def disable_user(username: str, session: AdminSession, request: Request) -> dict[str, Any]:
    user = await runtime_of(request).deps.users.set_active(username, False)
    await _ended(request, user, "account disabled")
    await record(request, AuditAction.USER_DISABLED, session.user.username, user=user.username)
    return user_json(user)


@router.post("/users/{username}/enable", tags=["users"])
async def enable_user(username: str, session: AdminSession, request: Request) -> dict[str, Any]:
    user = await runtime_of(request).deps.users.set_active(username, True)
    await record(request, AuditAction.USER_ENABLED, session.user.username, user=user.username)
    return user_json(user)


@router.post("/users/{username}/role", tags=["users"])
async def set_role(
    username: str, body: RoleBody, session: AdminSession, request: Request
) -> dict[str, Any]:
    user = await runtime_of(request).deps.users.set_role(username, body.role)
    await _ended(request, user, "role changed")
    await record(
        request, AuditAction.USER_ROLE, session.user.username, user=user.username, role=body.role
    )
    return user_json(user)


__all__ = ["router", "user_json"]
