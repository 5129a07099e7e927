"""The periodic re-check of the sessions behind this process's open console sockets.

A socket closes as soon as its session ends through the `session_end` word on the bus;
this pass catches what that word missed (a change made while the bus was down, a
session gone idle). Every `RECHECK_SECONDS`, one pass checks all the open sockets'
sessions together (`SessionManager.ended_among`: one read of the log-outs and one of
the users, however many sockets are open) and ends the sockets whose session ended.
"""

from __future__ import annotations

import asyncio
import logging

from console.sessions import Session, SessionManager
from routing.errors import StoreUnavailable

log = logging.getLogger(__name__)

RECHECK_SECONDS = 15.0


class SocketRecheck:
    """Open sockets register their session with `watch` and learn from the future it
    returns why their session ended. The pass runs while at least one socket is open."""

    def __init__(self, sessions: SessionManager, interval: float = RECHECK_SECONDS) -> None:
        self._sessions = sessions
        self._interval = interval
        self._open: dict[asyncio.Future[str], Session] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def watched(self) -> int:
        return len(self._open)

    def watch(self, session: Session) -> asyncio.Future[str]:
        """A future that is given the reason once `session` ended; `unwatch` it when the
        socket closes for any reason."""
        ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._open[ended] = session
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="console-socket-recheck")
        return ended

    def unwatch(self, ended: asyncio.Future[str]) -> None:
        self._open.pop(ended, None)
        if not self._open and self._task is not None:
            self._task.cancel()
            self._task = None

    async def recheck(self) -> None:
        """One pass over every open socket's session."""
        watched = list(self._open.items())
        if not watched:
            return
        try:
            ended = await self._sessions.ended_among([session for _, session in watched])
        except StoreUnavailable as exc:
            log.warning("console sessions not rechecked (%s): the next pass decides", exc)
            return
        for future, session in watched:
            reason = ended.get(session.token)
            if reason is not None and not future.done():
                log.info("console websocket of %s ends: %s", session.user.username, reason)
                future.set_result(reason)

    async def _run(self) -> None:
        while self._open:
            await asyncio.sleep(self._interval)
            try:
                await self.recheck()
            except Exception:  # the pass must outlive a surprise, or no socket is checked
                log.exception("console session re-check failed; retrying")
