"""Issuing, checking and revoking console sessions.

Tokens are HMAC-signed with an expiry (`console.domain.session`); log-out revokes the
token's nonce in the shared store (`console.ports.SessionRevocations`: the database under
`hotline serve`) until the token would have expired anyway, so every console process
refuses it, after a restart too. Each process also remembers the revocations it has seen,
to refuse those without asking the store again. The user behind a token is looked up on
every use, so a deactivated user or a changed role takes effect at once; a token carries
the user's session epoch, which a password, role or enabled change (or "log out
everywhere") raises, refusing every older token. With an idle time-out, a session unused
for that long is refused (`console.ports.SessionActivity`, shared through Redis).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from calls.clock import Clock
from console.domain.session import (
    SCOPE_CONSOLE,
    SCOPE_WALLBOARD,
    SessionClaims,
    TokenRejected,
    new_claims,
    sign,
    verify,
)
from console.errors import (
    ConsoleConfigError,
    LogoutNotRecorded,
    NotAuthenticated,
    TooManyAttempts,
    WrongPassword,
)
from console.ports import LoginAttempts, SessionActivity, SessionRevocations
from console.throttling import LocalLoginAttempts, LocalSessionActivity
from routing.errors import StoreUnavailable
from routing.ports import UserStore
from routing.records import ConsoleUser

log = logging.getLogger(__name__)

COOKIE_NAME = "hotline_session"
MIN_SECRET_BYTES = 16
# Revocations this process remembers (the store stays the authority beyond these).
REVOKED_CACHE_SIZE = 10_000
# A session's use is written to the shared activity store at most this often.
TOUCH_EVERY = timedelta(seconds=30)
WALLBOARD_TTL = timedelta(days=30)


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
        clock: Clock,
        revocations: SessionRevocations,
        attempts: LoginAttempts | None = None,
        idle: timedelta | None = None,
        activity: SessionActivity | None = None,
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
        self._store = revocations
        self._attempts = attempts or LocalLoginAttempts()
        self._idle = idle
        self._activity = activity or LocalSessionActivity()
        self._touched: dict[str, datetime] = {}  # nonce -> last write to the store
        self._revoked: dict[str, datetime] = {}  # nonce -> when the token expires anyway
        self._sweep_at = 256
        # Log-outs the store missed (it was down): written when it answers again.
        self._unrecorded: dict[str, tuple[str, datetime]] = {}

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    @property
    def unrecorded_logouts(self) -> int:
        return len(self._unrecorded)

    async def log_in(self, username: str, password: str, *, client: str = "") -> Session | None:
        """A new session when the credentials are right, else None (no reason given).

        Raises TooManyAttempts after repeated failures from `client` for `username`.
        """
        now = self._clock()
        wait = await self._attempts.wait_needed(client, username, now)
        if wait is not None:
            log.warning("console log-in for %r from %s throttled", username[:64], client)
            raise TooManyAttempts(int(wait.total_seconds()) + 1)
        user = await self._users.authenticate(username, password)
        if user is None or not user.active:
            await self._attempts.failed(client, username, now)
            log.info("console log-in refused for %r from %s", username[:64], client)
            return None
        await self._attempts.succeeded(client, username)
        claims = new_claims(
            user.username,
            now=self._clock(),
            ttl=self._ttl,
            nonce=secrets.token_hex(16),
            epoch=user.session_epoch,
        )
        if self._idle is not None:
            await self._touch(claims.nonce, now, force=True)
        log.info("console log-in: %s (%s) from %s", user.username, user.role.value, client)
        return Session(user=user, claims=claims, token=sign(claims, self._secret))

    async def change_password(
        self, session: Session, current: str, new: str, *, client: str = ""
    ) -> Session:
        """Give the user of `session` the password `new` when `current` is theirs; every
        older token of theirs is refused from then on (the session epoch rises) and the
        returned session, with a new token, carries on in place of `session`.

        WrongPassword when `current` is wrong (counted like a failed log-in from `client`,
        so TooManyAttempts after repeated ones); InvalidInput("password") when the policy
        refuses `new`.
        """
        username = session.user.username
        now = self._clock()
        wait = await self._attempts.wait_needed(client, username, now)
        if wait is not None:
            raise TooManyAttempts(int(wait.total_seconds()) + 1)
        if await self._users.authenticate(username, current) is None:
            await self._attempts.failed(client, username, now)
            log.info("password change refused for %s from %s: wrong password", username, client)
            raise WrongPassword("the current password is wrong")
        await self._attempts.succeeded(client, username)
        user = await self._users.set_password(username, new)
        claims = new_claims(
            username,
            now=self._clock(),
            ttl=self._ttl,
            nonce=secrets.token_hex(16),
            epoch=user.session_epoch,
        )
        if self._idle is not None:
            await self._touch(claims.nonce, now, force=True)
        return Session(user=user, claims=claims, token=sign(claims, self._secret))

    def issue_wallboard_token(self, session: Session, ttl: timedelta = WALLBOARD_TTL) -> str:
        """A read-only token for a wall screen: it opens the wallboard and nothing else,
        and ends with `session`'s user (disabled, password or role changed)."""
        claims = new_claims(
            session.user.username,
            now=self._clock(),
            ttl=ttl,
            nonce=secrets.token_hex(16),
            epoch=session.user.session_epoch,
            scope=SCOPE_WALLBOARD,
        )
        return sign(claims, self._secret)

    async def resolve(self, token: str | None, *, scope: str = SCOPE_CONSOLE) -> Session:
        """The live session behind `token`; NotAuthenticated for anything else.

        `scope`: a console token is good for everything its user's role allows; a
        wallboard token only where `scope=SCOPE_WALLBOARD` is asked for.
        StoreUnavailable when the database cannot say whether the token was logged out
        (the same as when it cannot look the user up): never let it through unchecked.
        """
        if not token:
            raise NotAuthenticated("log in first")
        now = self._clock()
        try:
            claims = verify(token, self._secret, now=now)
        except TokenRejected as exc:
            log.info("console token refused: %s", exc)
            raise NotAuthenticated("session invalid or expired; log in again") from exc
        if claims.scope != SCOPE_CONSOLE and claims.scope != scope:
            raise NotAuthenticated(f"a {claims.scope} token cannot be used here")
        self._forget_expired(now)
        if claims.nonce in self._revoked:
            raise NotAuthenticated("logged out; log in again")
        if self._unrecorded:
            await self._record_missed(now)
        if await self._store.is_revoked(claims.nonce):
            self._remember(claims.nonce, claims.expires_at)
            raise NotAuthenticated("logged out; log in again")
        user = await self._users.get(claims.username)
        if user is None or not user.active:
            raise NotAuthenticated("this account is no longer active")
        if claims.epoch != user.session_epoch:
            raise NotAuthenticated("signed out (password, role or account changed); log in again")
        if self._idle is not None and claims.scope == SCOPE_CONSOLE:
            await self._check_idle(claims.nonce, now)
        return Session(user=user, claims=claims, token=token)

    async def ended_among(self, sessions: Sequence[Session]) -> dict[str, str]:
        """The sessions of `sessions` that ended, by token, each with why: `resolve`'s
        checks for all of them at once, in one read of the log-outs and one of the users
        (the open websockets' periodic re-check). StoreUnavailable when the store
        cannot say: no session is ended on a guess."""
        now = self._clock()
        ended: dict[str, str] = {}
        left: list[Session] = []
        for session in sessions:
            try:
                verify(session.token, self._secret, now=now)
            except TokenRejected:
                ended[session.token] = "session invalid or expired; log in again"
                continue
            if session.claims.nonce in self._revoked:
                ended[session.token] = "logged out; log in again"
            else:
                left.append(session)
        if not left:
            return ended
        self._forget_expired(now)
        if self._unrecorded:
            await self._record_missed(now)
        revoked = await self._store.revoked_among([s.claims.nonce for s in left])
        users = await self._users.get_many(sorted({s.user.username for s in left}))
        for session in left:
            claims = session.claims
            user = users.get(claims.username)
            if claims.nonce in revoked:
                self._remember(claims.nonce, claims.expires_at)
                ended[session.token] = "logged out; log in again"
            elif user is None or not user.active:
                ended[session.token] = "this account is no longer active"
            elif claims.epoch != user.session_epoch:
                ended[session.token] = (
                    "signed out (password, role or account changed); log in again"
                )
            elif self._idle is not None and claims.scope == SCOPE_CONSOLE:
                try:
                    await self._check_idle(claims.nonce, now)
                except NotAuthenticated as exc:
                    ended[session.token] = str(exc)
        return ended

    @property
    def idle(self) -> timedelta | None:
        return self._idle

    async def _check_idle(self, nonce: str, now: datetime) -> None:
        assert self._idle is not None
        seen = self._touched.get(nonce)
        if seen is None or now - seen >= self._idle - TOUCH_EVERY:
            # Not written lately by this process: another may have seen it more recently.
            seen = await self._activity.last_seen(nonce)
        if seen is None or now - seen >= self._idle:
            self._touched.pop(nonce, None)
            raise NotAuthenticated("session idle too long; log in again")
        await self._touch(nonce, now)

    async def touch(self, session: Session) -> None:
        """The session was used without a request (a websocket heartbeat)."""
        if self._idle is not None:
            await self._touch(session.claims.nonce, self._clock())

    async def _touch(self, nonce: str, now: datetime, *, force: bool = False) -> None:
        assert self._idle is not None
        last = self._touched.get(nonce)
        if not force and last is not None and now - last < TOUCH_EVERY:
            return
        if len(self._touched) >= REVOKED_CACHE_SIZE:
            for known, at in list(self._touched.items()):
                if now - at >= self._idle:
                    del self._touched[known]
            while len(self._touched) >= REVOKED_CACHE_SIZE:
                del self._touched[next(iter(self._touched))]
        self._touched[nonce] = now
        await self._activity.touch(nonce, now, self._idle)

    async def revoke(self, session: Session) -> None:
        """Log the session out on every console process.

        This process refuses the token at once. If the store cannot be written,
        LogoutNotRecorded: the log-out is kept here and written with the next request
        this process serves once the store answers; until then other processes may
        accept the token.
        """
        claims = session.claims
        now = self._clock()
        self._remember(claims.nonce, claims.expires_at)
        self._touched.pop(claims.nonce, None)
        try:
            await self._store.revoke(
                claims.nonce, session.user.username, claims.expires_at, now=now
            )
        except StoreUnavailable as exc:
            self._unrecorded[claims.nonce] = (session.user.username, claims.expires_at)
            log.error(
                "console log-out of %s not recorded (%s): refused here only until the "
                "database answers",
                session.user.username,
                exc,
            )
            raise LogoutNotRecorded(
                "the log-out could not be recorded (database unavailable): this console "
                "process refuses the session and records the log-out once the database "
                "answers; until then other console processes may still accept it"
            ) from exc
        log.info("console log-out: %s", session.user.username)

    async def _record_missed(self, now: datetime) -> None:
        for nonce, (username, expires) in list(self._unrecorded.items()):
            if expires > now:
                try:
                    await self._store.revoke(nonce, username, expires, now=now)
                except StoreUnavailable:
                    return  # still down: the caller's own store read reports it
                log.warning("console log-out of %s recorded late", username)
            self._unrecorded.pop(nonce, None)

    def _remember(self, nonce: str, expires: datetime) -> None:
        if len(self._revoked) >= REVOKED_CACHE_SIZE:
            # Only a cache: a forgotten nonce is asked of the store again.
            del self._revoked[next(iter(self._revoked))]
        self._revoked[nonce] = expires

    def _forget_expired(self, now: datetime) -> None:
        if len(self._revoked) < self._sweep_at:
            return
        for nonce, expires in list(self._revoked.items()):
            if expires <= now:
                del self._revoked[nonce]
        # The next sweep once the cache has grown again: amortised, not on every request.
        self._sweep_at = max(256, 2 * len(self._revoked))
