"""Leadership of a single instance (no `HOTLINE_REDIS_URL`): this process leads from its
start to its stop, with token 0, and nothing is fenced."""

from __future__ import annotations

from cluster.controller import LeadershipListener


class SoleLeader:
    """The same component and listener interface as `ClusterController`: `start` tells
    the listeners `elected(0)`, `stop` tells them `demoted("shutdown")`."""

    name = "leadership"
    leader_only = False

    def __init__(self) -> None:
        self._listeners: list[LeadershipListener] = []
        self.leading = False

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
