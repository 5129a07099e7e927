"""Console user names by queue-member interface, cached briefly.

The screen-pop and the tickets stage both name the agent whose phone rang or answered;
interfaces change only when an admin edits a user, so one read per interface serves every
call for `seconds` instead of one read per event.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from routing.ports import UserStore


class AgentNames:
    def __init__(
        self,
        users: UserStore,
        *,
        seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = users
        self.seconds = seconds
        self._monotonic = monotonic
        # interface -> (read at, username or None, the user is active)
        self._cache: dict[str, tuple[float, str | None, bool]] = {}

    async def username(self, interface: str, *, active_only: bool = True) -> str | None:
        """The console user whose phone is `interface` (None: nobody, or with
        `active_only` a disabled account)."""
        now = self._monotonic()
        cached = self._cache.get(interface)
        if cached is None or now - cached[0] >= self.seconds:
            user = await self.users.by_interface(interface)
            name = user.username if user is not None else None
            cached = (now, name, user is not None and user.active)
            self._cache[interface] = cached
        _, name, active = cached
        return name if active or not active_only else None

    def forget(self) -> None:
        self._cache.clear()
