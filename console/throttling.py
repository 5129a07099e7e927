"""Failed log-ins counted in this process (`LocalLoginAttempts`): one console process, or
no Redis. Several processes count together in Redis (`console.redis_state`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from console.domain.throttle import LoginThrottle, ThrottlePolicy


class LocalLoginAttempts:
    """`console.ports.LoginAttempts` in this process's memory."""

    def __init__(self, policy: ThrottlePolicy | None = None) -> None:
        self._throttle = LoginThrottle(policy)

    @property
    def policy(self) -> ThrottlePolicy:
        return self._throttle.policy

    async def wait_needed(self, client: str, username: str, now: datetime) -> timedelta | None:
        return self._throttle.wait_needed(client, username, now)

    async def failed(self, client: str, username: str, now: datetime) -> None:
        self._throttle.failed(client, username, now)

    async def succeeded(self, client: str, username: str) -> None:
        self._throttle.succeeded(client, username)


class LocalSessionActivity:
    """`console.ports.SessionActivity` in this process's memory (bounded)."""

    def __init__(self, max_tracked: int = 100_000) -> None:
        self._seen: dict[str, tuple[datetime, timedelta]] = {}
        self._max = max_tracked

    async def touch(self, nonce: str, at: datetime, idle: timedelta) -> None:
        if nonce not in self._seen and len(self._seen) >= self._max:
            for known, (seen, keep) in list(self._seen.items()):
                if at - seen >= keep:
                    del self._seen[known]
            while len(self._seen) >= self._max:
                del self._seen[next(iter(self._seen))]
        self._seen.pop(nonce, None)  # newest last: the oldest go first when full
        self._seen[nonce] = (at, idle)

    async def last_seen(self, nonce: str) -> datetime | None:
        found = self._seen.get(nonce)
        return None if found is None else found[0]

    async def forget(self, nonce: str) -> None:
        self._seen.pop(nonce, None)
