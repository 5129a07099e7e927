"""Ending a user's sessions on every console process at once.

A log-out, a disabled user, a new password or role, "log out everywhere": the token is
refused by every process already (revocations, the user's session epoch), and a
`session_end` message on the user's bus topic (`user:<name>`, over Redis with several
processes) makes each process close that user's open `/ws/console` sockets with code
4401. The message names one token (`nonce`, a log-out) or every token older than an
epoch (`epoch`, the user's new session epoch). Console pages never see it.
"""

from __future__ import annotations

import logging
from typing import Any

from bus import MessageBus
from bus.topics import user_topic
from console.domain.session import SessionClaims

log = logging.getLogger(__name__)

SESSION_END = "session_end"
CLOSE_CODE = 4401


def session_end_message(
    *, nonce: str | None = None, epoch: int | None = None, reason: str
) -> dict[str, Any]:
    return {"type": SESSION_END, "nonce": nonce, "epoch": epoch, "reason": reason[:100]}


def ends(message: Any, claims: SessionClaims) -> bool:
    """Whether a `session_end` message ends the session with these claims."""
    if not isinstance(message, dict) or message.get("type") != SESSION_END:
        return False
    nonce, epoch = message.get("nonce"), message.get("epoch")
    if isinstance(nonce, str) and nonce == claims.nonce:
        return True
    return isinstance(epoch, int) and claims.epoch < epoch


async def announce_session_end(
    bus: MessageBus,
    username: str,
    *,
    nonce: str | None = None,
    epoch: int | None = None,
    reason: str,
) -> None:
    """Tell every console process to close the user's matching websockets. A bus that
    fails is logged: the tokens are refused anyway, and the open sockets' sessions are
    re-checked periodically (`console.socket_recheck.RECHECK_SECONDS`)."""
    try:
        await bus.publish(
            user_topic(username), session_end_message(nonce=nonce, epoch=epoch, reason=reason)
        )
    except Exception as exc:
        log.error("could not announce the end of %s's sessions: %s", username, exc)
