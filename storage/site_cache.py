"""Keeps the site directory's cache warm and current: every site's static record loaded
at start, then the sites an import changed (in any process) every few seconds.

The IVR's routing advice and the ticket opening then read site profiles from memory, so
under a flash crowd they never queue for a database connection behind the writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from routing.errors import RoutingError
from storage.sites import SiteRepository

log = logging.getLogger(__name__)


class SiteCacheKeeper:
    def __init__(
        self, sites: SiteRepository, *, interval: float = 5.0, full_every: int = 360
    ) -> None:
        """Every `interval` s the sites changed since the last look; every `full_every`
        rounds all of them (two imports in parallel could interleave their stamps)."""
        self.sites = sites
        self.interval = interval
        self.full_every = max(1, full_every)
        self.loaded = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="site-cache")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        first = True
        rounds = 0
        while True:
            started = time.perf_counter()
            rounds += 1
            try:
                count = await self.sites.load_changed(everything=rounds % self.full_every == 0)
            except RoutingError as exc:  # the database is down: emergency mode's business
                log.warning("site cache not refreshed (%s); retrying in %.0f s", exc, self.interval)
            except Exception:
                log.exception("site cache refresh failed; retrying in %.0f s", self.interval)
            else:
                self.loaded += count
                if first:
                    log.info(
                        "site cache warm: %d sites in %.2f s", count, time.perf_counter() - started
                    )
                    first = False
                elif count:
                    log.info("site cache: %d sites changed by an import reloaded", count)
            await asyncio.sleep(self.interval)
