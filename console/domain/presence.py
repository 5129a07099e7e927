"""Who has a console open: the bookkeeping of one process's websockets, and the merge of
every console process's view into the supervisor's list. Pure: times are passed in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ConsoleSeen:
    username: str
    role: str
    connections: int
    last_seen: datetime


class PresenceTable:
    """The consoles connected to one process, by user name."""

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

    def get(self, username: str) -> ConsoleSeen | None:
        return self._seen.get(username)

    def snapshot(self) -> list[ConsoleSeen]:
        return sorted(self._seen.values(), key=lambda s: s.username)


def merge_presence(views: Iterable[Iterable[ConsoleSeen]]) -> list[ConsoleSeen]:
    """One line per user over several processes' views: their connections add up, the
    latest heartbeat wins (with the role it came with)."""
    merged: dict[str, ConsoleSeen] = {}
    for view in views:
        for seen in view:
            old = merged.get(seen.username)
            if old is None:
                merged[seen.username] = seen
                continue
            latest = seen if seen.last_seen > old.last_seen else old
            merged[seen.username] = ConsoleSeen(
                seen.username, latest.role, old.connections + seen.connections, latest.last_seen
            )
    return sorted(merged.values(), key=lambda s: s.username)
