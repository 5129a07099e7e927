"""Log-in and log-out, shared by the JSON API (`console.api.auth`) and the pages
(`console.pages`): the audited log-in, the session cookie, and the end of a session that
also takes an agent out of the main queue."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import Request, Response

from console.domain.agent_state import AgentState
from console.errors import ConsoleError, LogoutNotRecorded, TooManyAttempts
from console.runtime import client_address, record, runtime_of
from console.session_end import announce_session_end
from console.sessions import COOKIE_NAME, Session
from routing.domain.audit import AuditAction

log = logging.getLogger(__name__)


async def log_in(request: Request, username: str, password: str) -> Session | None:
    """`SessionManager.log_in` for this request's client, audited either way."""
    runtime = runtime_of(request)
    try:
        session = await runtime.sessions.log_in(username, password, client=client_address(request))
    except TooManyAttempts as exc:
        await record(request, AuditAction.LOGIN_THROTTLED, username[:64], wait_s=exc.retry_after)
        raise
    if session is None:
        await record(request, AuditAction.LOGIN_FAILED, username[:64])
        return None
    await record(request, AuditAction.LOGIN, session.user.username, role=session.user.role.value)
    return session


def set_session_cookie(request: Request, response: Response, session: Session) -> None:
    runtime = runtime_of(request)
    response.set_cookie(
        COOKIE_NAME,
        session.token,
        max_age=int(runtime.sessions.ttl.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=runtime.deps.secure_cookies,
        path="/",
    )


def delete_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="strict",
        secure=runtime_of(request).deps.secure_cookies,
    )


@dataclass(frozen=True, slots=True)
class LogoutResult:
    # Why the log-out could not be recorded for every console process, if it could not.
    not_recorded: str | None = None
    # Why the agent could not be taken out of the queue, if the PBX refused.
    pbx_problem: str | None = None


async def end_session(request: Request, session: Session) -> LogoutResult:
    """Revoke the session; take an agent out of the main queue."""
    runtime = runtime_of(request)
    not_recorded: str | None = None
    try:
        await runtime.sessions.revoke(session)
    except LogoutNotRecorded as exc:  # the agent still leaves the queue below
        not_recorded = str(exc)
    # The bus reaches every console process even while the database is down.
    await announce_session_end(
        runtime.deps.bus, session.user.username, nonce=session.claims.nonce, reason="logged out"
    )
    await record(request, AuditAction.LOGOUT, session.user.username, recorded=not not_recorded)
    if not session.user.interface:
        return LogoutResult(not_recorded)  # no phone, never a queue member
    # Always asked of the PBX (not only when this process put the agent in the queue): after
    # a controller restart the member may still be there, and must not ring an empty desk.
    try:
        await runtime.agents.set_state(session.user, AgentState.LOGGED_OUT)
    except ConsoleError as exc:  # reported to the person; the session ends anyway
        log.warning("log-out of %s: queue removal failed: %s", session.user.username, exc)
        return LogoutResult(not_recorded, str(exc))
    return LogoutResult(not_recorded)
