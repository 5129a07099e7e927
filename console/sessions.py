"""Issuing, checking and revoking console sessions.

Tokens are HMAC-signed with an expiry (`console.domain.session`); log-out revokes the
token's nonce here until the token would have expired anyway. The user behind a token is
looked up on every use, so a deactivated user or a changed role takes effect at once.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from console.domain.session import SessionClaims, TokenRejected, new_claims, sign, verify
from console.domain.throttle import LoginThrottle, ThrottlePolicy
from console.errors import ConsoleConfigError, NotAuthenticated, TooManyAttempts
from routing.ports import UserStore
from routing.records import ConsoleUser

log = logging.getLogger(__name__)

COOKIE_NAME = "hotline_session"
MIN_SECRET_BYTES = 16


@dataclass(frozen=True, slots=True)
class Session:
    user: ConsoleUser
    claims: SessionClaims
    token: str


class SessionManager:
    def __init__(
        self,
        secret: str | bytes,
        users: UserStore,
        *,
        ttl: timedelta,
        clock: Callable[[], datetime],
        throttle: ThrottlePolicy | None = None,
    ) -> None:
        key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if len(key) < MIN_SECRET_BYTES:
            raise ConsoleConfigError(
                f"the session secret must be at least {MIN_SECRET_BYTES} bytes long"
            )
        self._secret = key
        self._users = users
        self._ttl = ttl
        self._clock = clock
        self._revoked: dict[str, datetime] = {}  # nonce -> when the token expires anyway
        self._throttle = LoginThrottle(throttle)

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    async def log_in(self, username: str, password: str, *, client: str = "") -> Session | None:
        """A new session when the credentials are right, else None (no reason given).

        Raises TooManyAttempts after repeated failures from `client` for `username`.
        """
        now = self._clock()
        wait = self._throttle.wait_needed(client, username, now)
        if wait is not None:
            log.warning("console log-in for %r from %s throttled", username[:64], client)
            raise TooManyAttempts(int(wait.total_seconds()) + 1)
        user = await self._users.authenticate(username, password)
        if user is None or not user.active:
            self._throttle.failed(client, username, now)
            log.info("console log-in refused for %r from %s", username[:64], client)
            return None
        self._throttle.succeeded(client, username)
        claims = new_claims(
            user.username, now=self._clock(), ttl=self._ttl, nonce=secrets.token_hex(16)
        )
        log.info("console log-in: %s (%s)", user.username, user.role.value)
        return Session(user=user, claims=claims, token=sign(claims, self._secret))

    async def resolve(self, token: str | None) -> Session:
        """The live session behind `token`; NotAuthenticated for anything else."""
        if not token:
            raise NotAuthenticated("log in first")
        now = self._clock()
        try:
            claims = verify(token, self._secret, now=now)
        except TokenRejected as exc:
            log.info("console token refused: %s", exc)
            raise NotAuthenticated("session invalid or expired; log in again") from exc
        self._forget_expired(now)
        if claims.nonce in self._revoked:
            raise NotAuthenticated("logged out; log in again")
        user = await self._users.get(claims.username)
        if user is None or not user.active:
            raise NotAuthenticated("this account is no longer active")
        return Session(user=user, claims=claims, token=token)

    def revoke(self, session: Session) -> None:
        self._revoked[session.claims.nonce] = session.claims.expires_at
        log.info("console log-out: %s", session.user.username)

    def _forget_expired(self, now: datetime) -> None:
        if len(self._revoked) < 256:
            return
        for nonce, expires in list(self._revoked.items()):
            if expires <= now:
                del self._revoked[nonce]
