"""Log-in throttling: after too many wrong passwords from one place for one user name, that
pair waits. Pure: the clock is passed in; the state is a plain dict.

Keyed by (client address, user name) so a guesser cannot lock a real agent out from
another desk, yet cannot try passwords quickly either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=5)
    lockout: timedelta = timedelta(minutes=5)
    max_tracked: int = 10_000  # bound memory under a spray of made-up names


@dataclass(frozen=True, slots=True)
class Attempts:
    failures: tuple[datetime, ...] = ()
    locked_until: datetime | None = None


class LoginThrottle:
    def __init__(self, policy: ThrottlePolicy | None = None) -> None:
        self.policy = policy or ThrottlePolicy()
        self._attempts: dict[tuple[str, str], Attempts] = {}

    @staticmethod
    def _key(client: str, username: str) -> tuple[str, str]:
        return (client, username.casefold())

    def wait_needed(self, client: str, username: str, now: datetime) -> timedelta | None:
        """How long this pair must still wait, or None when it may try."""
        attempts = self._attempts.get(self._key(client, username))
        if attempts is None or attempts.locked_until is None or attempts.locked_until <= now:
            return None
        return attempts.locked_until - now

    def failed(self, client: str, username: str, now: datetime) -> None:
        key = self._key(client, username)
        if key not in self._attempts and len(self._attempts) >= self.policy.max_tracked:
            self._forget_old(now)
        old = self._attempts.get(key, Attempts())
        recent = tuple(t for t in old.failures if now - t < self.policy.window) + (now,)
        locked = old.locked_until
        if len(recent) >= self.policy.max_failures:
            locked, recent = now + self.policy.lockout, ()
        self._attempts[key] = Attempts(recent, locked)

    def succeeded(self, client: str, username: str) -> None:
        self._attempts.pop(self._key(client, username), None)

    def _forget_old(self, now: datetime) -> None:
        for key, attempts in list(self._attempts.items()):
            stale = all(now - t >= self.policy.window for t in attempts.failures)
            if stale and (attempts.locked_until is None or attempts.locked_until <= now):
                del self._attempts[key]
        while len(self._attempts) >= self.policy.max_tracked:
            del self._attempts[next(iter(self._attempts))]
