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
