"""Log-in throttling: after too many wrong passwords from one place for one user name, that
pair waits. Pure: the clock is passed in; the state is plain values.

Keyed by (client address, user name) so a guesser cannot lock a real agent out from
another desk, yet cannot try passwords quickly either. A slower back-off per user name,
over every address (`USER_POLICY`: 20 failures in 15 minutes, then one minute), stops
a guesser who spreads over many addresses; one address alone cannot reach it (its own
pair is locked after 5), so one attacker cannot lock a user out for the others.

The rules are the functions `wait_needed`, `after_failure` and `keep_until` over one
pair's `Attempts`; `LoginThrottle` keeps the pairs of one process in a dict, and the
shared throttle (`console.redis_state`) keeps them in Redis and applies the same rules.
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


# Failures of one user name from every address, counted as the pair (ANY_CLIENT, name).
ANY_CLIENT = "*"
USER_POLICY = ThrottlePolicy(
    max_failures=20, window=timedelta(minutes=15), lockout=timedelta(minutes=1)
)


def longer(a: timedelta | None, b: timedelta | None) -> timedelta | None:
    """The longer of two waits (None = no wait)."""
    if a is None or b is None:
        return a or b
    return max(a, b)


def pair_key(client: str, username: str) -> tuple[str, str]:
    """The pair the rules count for: user names fold case (`Alice` is `alice`)."""
    return (client, username.casefold())


def wait_needed(attempts: Attempts | None, now: datetime) -> timedelta | None:
    """How long a pair with these attempts must still wait, or None when it may try."""
    if attempts is None or attempts.locked_until is None or attempts.locked_until <= now:
        return None
    return attempts.locked_until - now


def after_failure(attempts: Attempts | None, now: datetime, policy: ThrottlePolicy) -> Attempts:
    """The pair's attempts once one more wrong password arrived at `now`."""
    old = attempts or Attempts()
    recent = tuple(t for t in old.failures if now - t < policy.window) + (now,)
    locked = old.locked_until
    if len(recent) >= policy.max_failures:
        locked, recent = now + policy.lockout, ()
    return Attempts(recent, locked)


def keep_until(attempts: Attempts, policy: ThrottlePolicy) -> datetime | None:
    """After this the record changes nothing any more (no lock, every failure out of the
    window) and may be forgotten; None for an empty record."""
    ends = [t + policy.window for t in attempts.failures]
    if attempts.locked_until is not None:
        ends.append(attempts.locked_until)
    return max(ends, default=None)


class LoginThrottle:
    """The rules over the pairs of one process (bounded memory), and the per-user
    back-off over every address."""

    def __init__(
        self, policy: ThrottlePolicy | None = None, user_policy: ThrottlePolicy = USER_POLICY
    ) -> None:
        self.policy = policy or ThrottlePolicy()
        self.user_policy = user_policy
        self._attempts: dict[tuple[str, str], Attempts] = {}

    def wait_needed(self, client: str, username: str, now: datetime) -> timedelta | None:
        """How long this pair must still wait, or None when it may try."""
        pair = wait_needed(self._attempts.get(pair_key(client, username)), now)
        user = wait_needed(self._attempts.get(pair_key(ANY_CLIENT, username)), now)
        return longer(pair, user)

    def failed(self, client: str, username: str, now: datetime) -> None:
        self._count(pair_key(client, username), now, self.policy)
        self._count(pair_key(ANY_CLIENT, username), now, self.user_policy)

    def _count(self, key: tuple[str, str], now: datetime, policy: ThrottlePolicy) -> None:
        if key not in self._attempts and len(self._attempts) >= self.policy.max_tracked:
            self._forget_old(now)
        self._attempts[key] = after_failure(self._attempts.get(key), now, policy)

    def succeeded(self, client: str, username: str) -> None:
        # The per-user count stays: a guesser elsewhere is not forgiven by this success.
        self._attempts.pop(pair_key(client, username), None)

    def _forget_old(self, now: datetime) -> None:
        for key, attempts in list(self._attempts.items()):
            policy = self.user_policy if key[0] == ANY_CLIENT else self.policy
            until = keep_until(attempts, policy)
            if until is None or until <= now:
                del self._attempts[key]
        while len(self._attempts) >= self.policy.max_tracked:
            del self._attempts[next(iter(self._attempts))]
