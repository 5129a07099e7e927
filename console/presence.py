"""Which consoles are connected and when each last sent a heartbeat.

The emergency health watch reads it (`seen_within`) to tell whether the agent consoles
are alive; the websocket endpoint feeds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class ConsoleSeen:
    username: str
    role: str
    connections: int
    last_seen: datetime


class ConsolePresence:
    def __init__(self) -> None:
        self._seen: dict[str, ConsoleSeen] = {}

    def connected(self, username: str, role: str, at: datetime) -> None:
        old = self._seen.get(username)
        count = old.connections + 1 if old else 1
        self._seen[username] = ConsoleSeen(username, role, count, at)

    def heartbeat(self, username: str, at: datetime) -> None:
        old = self._seen.get(username)
        if old is not None:
            self._seen[username] = ConsoleSeen(username, old.role, old.connections, at)

    def disconnected(self, username: str, at: datetime) -> None:
        old = self._seen.get(username)
        if old is None:
            return
        if old.connections <= 1:
            del self._seen[username]
        else:
            self._seen[username] = ConsoleSeen(username, old.role, old.connections - 1, at)

    def consoles(self) -> list[ConsoleSeen]:
        return sorted(self._seen.values(), key=lambda s: s.username)

    def seen_within(self, window: timedelta, now: datetime) -> list[ConsoleSeen]:
        """Connected consoles whose last heartbeat is at most `window` old."""
        return [s for s in self.consoles() if now - s.last_seen <= window]
