"""The heap a process builds at start, kept out of the cyclic garbage collector's reach.

A controller builds a large, long-lived heap as it starts: the modules, the ORM's
metadata, the web application, every site's record in the site cache (hundreds of
thousands of objects with a 2,000-site directory). CPython's full collection scans all
of it, on the event loop, every few seconds of busy traffic: 100–200 ms in which no
AMI event is read and no screen-pop goes out. `SettledHeap` waits until the start-up
heap is built (the site cache warm), collects the young generations and freezes
everything (`gc.freeze`): later full collections scan only what calls create. Frozen
objects are still freed by reference counting when they are dropped. Garbage cycles
that were already old at that moment stay, once: a full collection to find them would
pause the event loop as long as one of the pauses this prevents.

What calls and agents' sockets build afterwards still makes the old generation (about
35,000 objects with 100 agents and 200 live calls), and CPython scans it all after every
10 collections of the middle generation: a 10–30 ms pause about every 45 s of steady
traffic. Once settled, a full collection waits for `FULL_COLLECTION_AFTER` of them
instead: the same pause, every few minutes. Cyclic garbage that has grown old waits that
much longer to be freed; what does not form cycles is freed at once, as always.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Sequence

from lifecycle.components import TaskLoop

log = logging.getLogger(__name__)

# Middle-generation collections between two full ones once the heap is settled
# (CPython's default: 10).
FULL_COLLECTION_AFTER = 100


class SettledHeap:
    """Everywhere component: after start, once every `ready` event is set (or after
    `wait` seconds at most: a site cache that cannot warm with the database down must
    not leave the heap unsettled), a young collection and `gc.freeze()`. `stop()`
    unfreezes, so a process that builds the service again (the tests) gets a normal heap
    back."""

    name = "settled-heap"
    leader_only = False

    def __init__(self, ready: Sequence[asyncio.Event], *, wait: float = 120.0) -> None:
        self.ready = tuple(ready)
        self.wait = wait
        self.frozen = 0  # objects frozen by this component (0: not yet, or unfrozen)
        self._thresholds: tuple[int, int, int] | None = None  # the collector's, before
        self._loop = TaskLoop(self.name, self._settle, leader_only=False)

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        if self.frozen:
            gc.unfreeze()
            self.frozen = 0
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None

    async def _settle(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.wait):
                for event in self.ready:
                    await event.wait()
        started = time.perf_counter()
        before = gc.get_freeze_count()
        gc.collect(1)
        gc.freeze()
        self.frozen = gc.get_freeze_count() - before
        self._thresholds = gc.get_threshold()
        young, middle, _ = self._thresholds
        gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)
        log.info(
            "start-up heap settled: %d objects out of the collector's reach (%.0f ms)",
            self.frozen,
            (time.perf_counter() - started) * 1000,
        )
