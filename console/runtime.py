"""Per-app state of the console and the FastAPI dependencies that resolve who is asking."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from console.agents import AgentDesk
from console.audit import AuditLog
from console.deps import ConsoleDeps
from console.domain.session import SCOPE_WALLBOARD
from console.errors import NotAuthenticated, NotPermitted
from console.i18n import asked_language, note_person
from console.outgoing import OutgoingTexts
from console.sessions import COOKIE_NAME, Session, SessionManager
from console.socket_recheck import SocketRecheck
from routing.errors import StoreUnavailable
from routing.records import UserRole

log = logging.getLogger(__name__)

# Cookie-authenticated writes must carry this header: a cross-site form cannot set it,
# so it backs up SameSite=Strict against request forgery.
CONSOLE_HEADER = "x-hotline-console"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(slots=True)
class ConsoleRuntime:
    deps: ConsoleDeps
    sessions: SessionManager
    agents: AgentDesk
    audit: AuditLog
    # The open websockets' sessions, rechecked together.
    rechecks: SocketRecheck
    # The websockets' outgoing messages, each encoded once for all the sockets it goes to.
    texts: OutgoingTexts = field(default_factory=OutgoingTexts)


def runtime_of(conn: HTTPConnection) -> ConsoleRuntime:
    runtime: ConsoleRuntime = conn.app.state.console
    return runtime


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def same_origin(conn: HTTPConnection) -> bool:
    """False only when the browser says the request comes from another site."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    host = conn.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


async def api_session(request: Request) -> Session:
    runtime = runtime_of(request)
    token = bearer_token(request)
    if token is None:
        token = request.cookies.get(COOKIE_NAME)
        if token and request.method not in SAFE_METHODS:
            if request.headers.get(CONSOLE_HEADER) != "1" or not same_origin(request):
                raise NotPermitted("console page", "a cross-site request")
    session = await runtime.sessions.resolve(token)
    note_person(request, session.user.language)
    return session


def require(role: UserRole) -> Callable[[Session], Awaitable[Session]]:
    async def check(session: Annotated[Session, Depends(api_session)]) -> Session:
        if not session.user.role.at_least(role):
            raise NotPermitted(role.value, session.user.role.value)
        return session

    return check


async def wallboard_session(request: Request) -> Session:
    """A supervisor's session, or a wallboard-scoped token in the `token` query parameter
    (what a wall screen keeps in its URL: it opens the wallboard and nothing else). A full
    console token is never taken from a URL here."""
    runtime = runtime_of(request)
    query_token = request.query_params.get("token")
    if query_token:
        session = await runtime.sessions.resolve(query_token, scope=SCOPE_WALLBOARD)
        if session.claims.scope != SCOPE_WALLBOARD:
            raise NotAuthenticated("only a wallboard token may be given in the URL")
    else:
        session = await api_session(request)
    if not session.user.role.at_least(UserRole.SUPERVISOR):
        raise NotPermitted(UserRole.SUPERVISOR.value, session.user.role.value)
    return session


async def optional_page_session(request: Request) -> Session | None:
    """The cookie session of a page request, or None (pages redirect to the log-in form).
    A `?lang=` on the page becomes the person's language choice."""
    runtime = runtime_of(request)
    try:
        session = await runtime.sessions.resolve(request.cookies.get(COOKIE_NAME))
    except NotAuthenticated:
        return None
    return await remember_choice(request, session)


async def remember_choice(request: Request, session: Session) -> Session:
    """Keep a `?lang=` as the user's language (INTERFACE: "remembered for the user"), so
    every browser they log in from opens in it; the session then carries the new choice."""
    asked = asked_language(request)
    if asked is None or asked == session.user.language:
        return session
    return await keep_language(request, session, asked)


async def keep_language(request: Request, session: Session, language: str) -> Session:
    """Store `language` as the user's choice; the session returned carries it (even when
    the database cannot keep it now: this page follows it anyway)."""
    try:
        user = await runtime_of(request).deps.users.set_language(session.user.username, language)
    except StoreUnavailable:
        log.warning("cannot keep %s's language choice: database unavailable", session.user.username)
        user = dataclasses.replace(session.user, language=language)
    return dataclasses.replace(session, user=user)


AgentSession = Annotated[Session, Depends(require(UserRole.AGENT))]
SupervisorSession = Annotated[Session, Depends(require(UserRole.SUPERVISOR))]
AdminSession = Annotated[Session, Depends(require(UserRole.ADMIN))]


def client_address(conn: HTTPConnection) -> str:
    """The client's address (behind trusted proxies: the one they forwarded)."""
    return conn.client.host if conn.client is not None else ""


async def record(conn: HTTPConnection, action: str, actor: str, **detail: object) -> None:
    """One audit entry for this request: its client address and user agent included."""
    agent = conn.headers.get("user-agent", "")[:200]
    await runtime_of(conn).audit.record(
        action, actor=actor, client=client_address(conn), detail={**detail, "user_agent": agent}
    )


async def current_username(session: AgentSession) -> str:
    """The logged-in user's name, as a dependency for routers outside the console."""
    return session.user.username
