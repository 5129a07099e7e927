"""Errors of the leadership package."""

from __future__ import annotations


class ClusterError(Exception):
    """Root of the cluster errors."""


class StaleLeader(ClusterError):
    """A write under a fencing token that a newer leader has superseded."""

    def __init__(self, token: int, current: int | None) -> None:
        super().__init__(f"fencing token {token} superseded by {current}")
        self.token = token
        self.current = current


class FenceUnavailable(ClusterError):
    """The database fence could not be read or written (database down or refusing)."""


def stale_leader_in(exc: BaseException) -> StaleLeader | None:
    """The `StaleLeader` behind `exc`, if any (a store may have wrapped it in its own error)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, StaleLeader):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
