"""Who may open a console websocket: one check for `/ws/console` (agent+) and the
wallboard's `/ws/wallboard` (supervisor+).

The session token comes from the `token` query parameter, a bearer header or the
session cookie; a cookie rides along on cross-site handshakes, so a cookie handshake
from another site is refused. A refusal is a real HTTP status on the handshake (401 not
logged in, 403 cross-site or role too low) when the server supports denial responses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import WebSocket
from fastapi.responses import JSONResponse

from console.domain.session import SCOPE_CONSOLE, SCOPE_WALLBOARD
from console.errors import NotAuthenticated
from console.runtime import bearer_token, runtime_of, same_origin
from console.sessions import COOKIE_NAME, Session
from routing.records import UserRole


async def deny_handshake(websocket: WebSocket, status: int, detail: str) -> None:
    """Refuse the handshake with a real HTTP status when the server supports it."""
    try:
        await websocket.send_denial_response(JSONResponse({"detail": detail}, status_code=status))
    except RuntimeError:
        # No denial-response extension: close during the handshake (client sees 403).
        await websocket.close(code=4000 + status, reason=detail[:100])


async def authenticate_websocket(
    websocket: WebSocket, role: UserRole, *, wallboard: bool = False
) -> Session | None:
    """The session of a user with at least `role`, or None once the handshake is refused.

    `wallboard`: the wallboard's socket, which also takes a wallboard-scoped token, and
    takes a token from the URL only if it is one."""
    query_token = websocket.query_params.get("token")
    token = query_token or bearer_token(websocket)
    from_cookie = False
    if not token:
        token = websocket.cookies.get(COOKIE_NAME)
        from_cookie = token is not None
    if from_cookie and not same_origin(websocket):
        await deny_handshake(websocket, 403, "cross-site websocket refused")
        return None
    scope = SCOPE_WALLBOARD if wallboard else SCOPE_CONSOLE
    try:
        session = await runtime_of(websocket).sessions.resolve(token, scope=scope)
    except NotAuthenticated as exc:
        await deny_handshake(websocket, 401, str(exc))
        return None
    if wallboard and query_token and session.claims.scope != SCOPE_WALLBOARD:
        await deny_handshake(websocket, 401, "only a wallboard token may be given in the URL")
        return None
    if not session.user.role.at_least(role):
        await deny_handshake(websocket, 403, f"this needs the {role.value} role")
        return None
    return session


def websocket_role_check(
    role: UserRole, *, wallboard: bool = False
) -> Callable[[WebSocket], Awaitable[bool]]:
    """`authenticate_websocket` as a yes/no check, for routers outside the console
    (the wallboard's `authorize_websocket`)."""

    async def check(websocket: WebSocket) -> bool:
        return await authenticate_websocket(websocket, role, wallboard=wallboard) is not None

    return check
