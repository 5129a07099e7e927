"""What the composition root supervises: a component has a `name`, `start()` / `stop()`
and a `leader_only` flag; a part with `/healthz` entries names them (`Watched`). Standard
library only, so every package can offer components and health entries.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

# A health state: "ok", "down", "disabled", ... or a mapping with a "status" key and the
# details an operator should see (latency, error text).
HealthState = str | Mapping[str, Any]
# A `/healthz` entry: asked at each request, synchronous or not.
HealthEntry = Callable[[], HealthState | Awaitable[HealthState]]


class Watched(Protocol):
    """A part with entries on `/healthz`, each under its name."""

    def health_entries(self) -> Mapping[str, HealthEntry]: ...


class Component(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def leader_only(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Resource:
    """A component that only has to be opened and closed: a database pool, a bus
    connection, a client of an outside service, a listener; or, leader only, a service
    that runs while this process leads."""

    def __init__(
        self,
        name: str,
        close: Callable[[], Awaitable[None]],
        open: Callable[[], Awaitable[None]] | None = None,
        *,
        leader_only: bool = False,
    ) -> None:
        self.name = name
        self._open = open
        self._close = close
        self.leader_only = leader_only

    async def start(self) -> None:
        if self._open is not None:
            await self._open()

    async def stop(self) -> None:
        await self._close()


class TaskLoop:
    """A component that is one task: a loop (`run` returns only when cancelled) or a
    one-shot piece of work, started by `start()` and cancelled by `stop()`; leader only
    (run at each election, cancelled by a demotion) unless told otherwise."""

    def __init__(
        self, name: str, run: Callable[[], Awaitable[None]], *, leader_only: bool = True
    ) -> None:
        self.name = name
        self.leader_only = leader_only
        self._run = run
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        async def run() -> None:
            await self._run()

        self._task = asyncio.get_running_loop().create_task(run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
