"""`WS /ws/console`: relays the bus messages meant for one console user.

Agents get their own topic (`user:<name>`) and `emergency`; supervisors and admins also
get `supervisors`. The page sends `{"type": "heartbeat"}` every few seconds; heartbeats feed
the presence board (the supervisor's console list, shared by every console process when
Redis is configured) and the emergency health watch's `ConsoleHeartbeat`, and count as
use of the session (idle time-out).

A socket closes with code 4401 when its session ends: a `session_end` message on the
user's topic (`console.session_end`: log-out, disabled user, new password or role, on
any console process), the token's expiry, or the periodic re-check of all open sockets'
sessions (`console.socket_recheck`, which also covers changes made while the bus was
down).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from bus.base import Subscription
from bus.topics import EMERGENCY, SUPERVISORS, user_topic
from console.runtime import ConsoleRuntime, runtime_of
from console.session_end import CLOSE_CODE, SESSION_END, ends
from console.sessions import Session
from console.websocket_auth import authenticate_websocket, deny_handshake
from routing.records import ConsoleUser, UserRole

log = logging.getLogger(__name__)

router = APIRouter()

MAX_CLIENT_MESSAGE = 4096


def topics_for(user: ConsoleUser) -> tuple[str, ...]:
    topics = [user_topic(user.username), EMERGENCY]
    if user.role.at_least(UserRole.SUPERVISOR):
        topics.append(SUPERVISORS)
    return tuple(topics)


@router.websocket("/ws/console")
async def console_socket(websocket: WebSocket) -> None:
    session = await authenticate_websocket(websocket, UserRole.AGENT)
    if session is None:
        return
    runtime = runtime_of(websocket)
    user = session.user
    try:
        subscription = await runtime.deps.bus.subscribe(*topics_for(user))
    except Exception as exc:  # e.g. Redis unreachable: the page retries with back-off
        log.error("console websocket for %s: bus unavailable: %s", user.username, exc)
        await deny_handshake(websocket, 503, "live messages unavailable; retrying")
        return
    await websocket.accept()
    presence = runtime.deps.presence
    # Before the hello: once the page is greeted, every console process lists it.
    await presence.connected(user.username, user.role.value, runtime.deps.clock())
    if runtime.deps.heartbeat is not None:
        runtime.deps.heartbeat.heartbeat(f"console:{user.username}", runtime.deps.clock())
    log.info("console websocket open for %s", user.username)
    try:
        # Read back from the PBX the first time: the page shows the hello's state, and
        # what this process knows may be older than the PBX (a restart, the demo).
        agent_state = await runtime.agents.current_state(user)
        await websocket.send_json(
            {
                "type": "hello",
                "username": user.username,
                "role": user.role.value,
                "agent_state": agent_state.value,
                "emergency": _emergency_brief(runtime.deps.emergency.status()),
            }
        )
        await _OpenSocket(websocket, runtime, session, subscription).serve()
    except WebSocketDisconnect:
        pass
    finally:
        await subscription.close()
        await presence.disconnected(user.username, runtime.deps.clock())
        if websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close()
        log.info("console websocket closed for %s", user.username)


class _OpenSocket:
    """One accepted console socket: four loops, and the first to end closes it."""

    def __init__(
        self,
        websocket: WebSocket,
        runtime: ConsoleRuntime,
        session: Session,
        subscription: Subscription,
    ) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.session = session
        self.subscription = subscription
        self.username = session.user.username

    async def serve(self) -> None:
        tasks = [
            asyncio.create_task(self.relay()),
            asyncio.create_task(self.listen()),
            asyncio.create_task(self.expire()),
            asyncio.create_task(self.recheck()),
        ]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await task
        for task in done:
            failure = task.exception()
            # A peer gone mid-send surfaces as one of these: not an error of ours.
            quiet = WebSocketDisconnect | RuntimeError | OSError
            if failure is not None and not isinstance(failure, quiet):
                raise failure

    async def relay(self) -> None:
        async for message in self.subscription:
            if isinstance(message, dict) and message.get("type") == SESSION_END:
                if ends(message, self.session.claims):
                    reason = str(message.get("reason") or "session ended")
                    log.info("console websocket of %s closed: %s", self.username, reason)
                    await self.websocket.close(code=CLOSE_CODE, reason=reason[:100])
                    return
                continue  # another session of the same user
            call_id = message.get("call_id") if isinstance(message, dict) else None
            if call_id:
                log.debug("call %s: %s to %s", call_id, message.get("type"), self.username)
            await self.websocket.send_text(self.runtime.texts.text(message))

    async def listen(self) -> None:
        deps = self.runtime.deps
        while True:
            text = await self.websocket.receive_text()
            if len(text) > MAX_CLIENT_MESSAGE:
                await self.websocket.close(code=1009, reason="message too big")
                return
            try:
                incoming = json.loads(text)
            except ValueError:
                continue
            if isinstance(incoming, dict) and incoming.get("type") == "heartbeat":
                now = deps.clock()
                await deps.presence.heartbeat(self.username, now)
                await self.runtime.sessions.touch(self.session)
                if deps.heartbeat is not None:
                    deps.heartbeat.heartbeat(f"console:{self.username}", now)
                await self.websocket.send_json({"type": "heartbeat_ack", "at": now.isoformat()})

    async def expire(self) -> None:
        # A socket does not outlive its session: the page then re-authenticates.
        left = (self.session.claims.expires_at - self.runtime.deps.clock()).total_seconds()
        await asyncio.sleep(max(0.0, left))
        await self.websocket.close(code=CLOSE_CODE, reason="session expired")

    async def recheck(self) -> None:
        rechecks = self.runtime.rechecks
        ended = rechecks.watch(self.session)
        try:
            reason = await ended
        finally:
            rechecks.unwatch(ended)
        await self.websocket.close(code=CLOSE_CODE, reason=reason[:100])


def _emergency_brief(status: Any) -> dict[str, Any]:
    since = status.since
    return {
        "active": bool(status.active),
        "since": since.isoformat() if since is not None else None,
        "reason": status.reason,
        "by": status.by,
    }
