"""What the composition root supervises: a component has a `name`, `start()` / `stop()`
and a `leader_only` flag. Standard library only, so every package can offer components.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol


class Component(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def leader_only(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Resource:
    """A component that only has to be opened and closed: a database pool, a bus
    connection, a client of an outside service."""

    leader_only = False

    def __init__(
        self,
        name: str,
        close: Callable[[], Awaitable[None]],
        open: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self._open = open
        self._close = close

    async def start(self) -> None:
        if self._open is not None:
            await self._open()

    async def stop(self) -> None:
        await self._close()


class LeaderLoop:
    """A leader-only task, run while this process leads: a loop (`run` returns only when
    cancelled) or a one-shot piece of work at each election; a demotion cancels it."""

    leader_only = True

    def __init__(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        self.name = name
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
