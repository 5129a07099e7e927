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
