"""The lifecycle of the components (`lifecycle.components.Component`).

Components that run everywhere start with the process, in order, and stop in reverse
order; if one fails to start, those already started are stopped again. Leader-only
components start, in order, each time this process is elected (`Lifecycle` is a
leadership listener) and stop, in reverse order, when it is demoted; they may start and
stop many times in one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from lifecycle.components import Component

log = logging.getLogger(__name__)


class Lifecycle:
    """Starts and stops the components in order; starts the leader-only ones on
    `elected` and stops them on `demoted`."""

    def __init__(self, components: Sequence[Component]) -> None:
        self.everywhere = [c for c in components if not c.leader_only]
        self.leader = [c for c in components if c.leader_only]
        self._started: list[Component] = []
        self._leading: list[Component] = []
        self.token: int | None = None

    @property
    def leading(self) -> bool:
        return self.token is not None

    def running(self) -> list[str]:
        """Names of the components running now, in start order."""
        return [c.name for c in self._started + self._leading]

    async def start(self) -> None:
        for component in self.everywhere:
            try:
                await component.start()
            except BaseException:
                await self.demoted("start failed")
                await self.stop()
                raise
            self._started.append(component)

    async def stop(self) -> None:
        """Everything that runs, in reverse start order; every component gets its stop
        even when an earlier one fails."""
        while self._started:
            await _stopped(self._started.pop())
        await self.demoted("shutdown")

    async def elected(self, token: int) -> None:
        self.token = token
        if token:
            log.warning("leader (fencing token %d): starting the leader's components", token)
        for component in self.leader:
            # Listed before it starts: a start cancelled half-way is stopped on demotion.
            self._leading.append(component)
            await component.start()

    async def demoted(self, reason: str) -> None:
        if self.token is None:
            return
        self.token = None
        while self._leading:
            await _stopped(self._leading.pop())
        log.warning("no longer leading (%s): the leader's components stopped", reason)


async def _stopped(component: Component) -> None:
    try:
        await component.stop()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("stopping %s failed", component.name)
