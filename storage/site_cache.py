"""Keeps the site directory's cache warm and current: every site's static record loaded
at start, then the sites an import changed, in any process: at once when the import
says so on the bus (`bus.topics.SITES_CHANGED`, across processes with Redis), and every
`interval` seconds in any case (what a lost message or an import without Redis changed).

The IVR's caller matching and routing advice and the ticket opening then read site
profiles from memory, so under a flash crowd they never queue for a database connection
behind the writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from bus import MessageBus, Subscription
from bus.topics import SITES_CHANGED
from routing.errors import RoutingError
from storage.sites import SiteRepository

log = logging.getLogger(__name__)


class SiteCacheKeeper:
    def __init__(
        self,
        sites: SiteRepository,
        *,
        interval: float = 5.0,
        full_every: int = 360,
        bus: MessageBus | None = None,
    ) -> None:
        """Every `interval` s the sites changed since the last look; every `full_every`
        rounds all of them (two imports in parallel could interleave their stamps). With
        `bus`, an import's `sites_changed` message starts a round at once."""
        self.sites = sites
        self.interval = interval
        self.full_every = max(1, full_every)
        self.bus = bus
        self.loaded = 0
        self.warm = asyncio.Event()  # set once every site has been loaded
        self._nudged = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.bus is not None:
            subscription = await self.bus.subscribe(SITES_CHANGED)
            self._tasks.append(loop.create_task(self._listen(subscription), name="site-news"))
        self._tasks.append(loop.create_task(self._run(), name="site-cache"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _listen(self, subscription: Subscription) -> None:
        try:
            async for _message in subscription:
                self._nudged.set()
        finally:
            await subscription.close()

    async def _run(self) -> None:
        first = True
        rounds = 0
        while True:
            started = time.perf_counter()
            rounds += 1
            self._nudged.clear()
            try:
                count = await self.sites.load_changed(everything=rounds % self.full_every == 0)
            except RoutingError as exc:  # the database is down: emergency mode's business
                log.warning("site cache not refreshed (%s); retrying in %.0f s", exc, self.interval)
            except Exception:
                log.exception("site cache refresh failed; retrying in %.0f s", self.interval)
            else:
                self.loaded += count
                self.warm.set()
                if first:
                    log.info(
                        "site cache warm: %d sites in %.2f s", count, time.perf_counter() - started
                    )
                    first = False
                elif count:
                    log.info("site cache: %d sites changed by an import reloaded", count)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._nudged.wait()
