"""Leadership of a single instance (no `HOTLINE_REDIS_URL`): this process leads from its
start to its stop, with token 0, and nothing is fenced."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cluster.controller import Handler, LeadershipListener
from cluster.handover import AstDbReader, ModeHandover, ModeSource
from lifecycle import HealthEntry


class SoleLeader:
    """The same component and listener interface as `ClusterController`: `start` tells
    the listeners `elected(0)`, `stop` tells them `demoted("shutdown")`."""

    name = "leadership"
    leader_only = False

    def __init__(self) -> None:
        self._listeners: list[LeadershipListener] = []
        self.leading = False

    async def state(self) -> Mapping[str, Any]:
        """`/healthz`'s controller entry."""
        return {"status": "ok", "role": "leader", "note": "single instance"}

    def health_entries(self) -> Mapping[str, HealthEntry]:
        return {"controller": self.state}

    def standby(self) -> bool:
        """Never: no other process could lead."""
        return False

    def fenced(self, handler: Handler) -> Handler:
        """The handler itself: no other process could have written in between."""
        return handler

    def handovers(self, pbx: AstDbReader, mode: ModeSource) -> list[ModeHandover]:
        """None: without a takeover the journal's mode is the PBX's."""
        return []

    def subscribe(self, listener: LeadershipListener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        self.leading = True
        for listener in self._listeners:
            await listener.elected(0)

    async def stop(self) -> None:
        if not self.leading:
            return
        self.leading = False
        for listener in reversed(self._listeners):
            await listener.demoted("shutdown")
