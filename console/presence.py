"""Which consoles are connected and when each last sent a heartbeat, as one process sees
them (`ConsolePresence`). The websocket endpoint feeds it; the supervisor's console list
(`GET /api/consoles`) reads it. Several console processes share theirs through Redis
(`console.redis_state.SharedPresence`). The emergency health watch does not read it: it
counts heartbeats through `fallback.ports.ConsoleHeartbeat`.
"""

from __future__ import annotations

from datetime import datetime

from console.domain.presence import ConsoleSeen, PresenceTable

__all__ = ["ConsolePresence", "ConsoleSeen"]


class ConsolePresence:
    """`console.ports.PresenceBoard` of a single console process."""

    def __init__(self) -> None:
        self._table = PresenceTable()

    async def connected(self, username: str, role: str, at: datetime) -> None:
        self._table.connected(username, role, at)

    async def heartbeat(self, username: str, at: datetime) -> None:
        self._table.heartbeat(username, at)

    async def disconnected(self, username: str, at: datetime) -> None:
        self._table.disconnected(username, at)

    async def consoles(self) -> list[ConsoleSeen]:
        return self._table.snapshot()
