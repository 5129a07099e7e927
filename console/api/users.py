"""`/api/users`: console users (admin): list, add, a new password, disable, enable and a
new role. Every change that could outlive the user's rights (password, disable, role)
ends that user's sessions on every console process (`console.session_end`); every change
lands in the audit trail."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import StringConstraints

from console.api.inputs import Password, Strict
from console.errors import ERROR_RESPONSES
from console.runtime import AdminSession, record, runtime_of
from console.session_end import announce_session_end
from routing.domain.audit import AuditAction
from routing.records import ConsoleUser

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["users"])

RoleName = Literal["agent", "supervisor", "admin"]
UserName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"),
]
Interface = Annotated[str, StringConstraints(max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")]


def user_json(user: ConsoleUser) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role.value,
        "interface": user.interface,
        "enabled": user.active,
    }


async def sessions_ended(request: Request, user: ConsoleUser, reason: str) -> None:
    """Every session of `user` ends, on every console process."""
    await announce_session_end(
        runtime_of(request).deps.bus, user.username, epoch=user.session_epoch, reason=reason
    )


@router.get("/users")
async def list_users(session: AdminSession, request: Request) -> dict[str, Any]:
    users = await runtime_of(request).deps.users.all_users()
    return {"items": [user_json(u) for u in users]}


class NewUserBody(Strict):
    username: UserName
    role: RoleName
    password: Password
    interface: Interface | None = None


@router.post("/users", status_code=201)
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


@router.post("/users/{username}/password")
async def set_password(
    username: str, body: PasswordBody, session: AdminSession, request: Request
) -> dict[str, Any]:
    user = await runtime_of(request).deps.users.set_password(username, body.password)
    await sessions_ended(request, user, "password changed")
    await record(request, AuditAction.USER_PASSWORD, session.user.username, user=user.username)
    return user_json(user)


@router.post("/users/{username}/disable")
async def disable_user(username: str, session: AdminSession, request: Request) -> dict[str, Any]:
    user = await runtime_of(request).deps.users.set_active(username, False)
    await sessions_ended(request, user, "account disabled")
    await record(request, AuditAction.USER_DISABLED, session.user.username, user=user.username)
    return user_json(user)


@router.post("/users/{username}/enable")
async def enable_user(username: str, session: AdminSession, request: Request) -> dict[str, Any]:
    user = await runtime_of(request).deps.users.set_active(username, True)
    await record(request, AuditAction.USER_ENABLED, session.user.username, user=user.username)
    return user_json(user)


@router.post("/users/{username}/role")
async def set_role(
    username: str, body: RoleBody, session: AdminSession, request: Request
) -> dict[str, Any]:
    user = await runtime_of(request).deps.users.set_role(username, body.role)
    await sessions_ended(request, user, "role changed")
    await record(
        request, AuditAction.USER_ROLE, session.user.username, user=user.username, role=body.role
    )
    return user_json(user)
