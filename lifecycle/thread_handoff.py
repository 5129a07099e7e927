"""Hands the GIL to the process's threads while the event loop is busy.

SQLite's driver (aiosqlite) runs every statement in a thread, and `asyncio.to_thread`
runs the event spool's fsync and other blocking work in the default pool. A thread
needs the GIL to do its work and to hand the result back to the loop. A loop that
always has callbacks ready polls for I/O with a zero timeout: it lets go of the GIL for
an instant each turn and takes it straight back, and CPython gives a waiting thread the
GIL only once it has waited 5 ms with no switch at all, which those instants prevent.
So while the loop stays busy, a thread's round trip takes from hundreds of milliseconds
to seconds instead of half a millisecond (`bench/thread_handoff.py` measures it): on
SQLite every database statement of a busy controller, the health probe's included.

`ThreadHandoff` sleeps `nap` seconds on the loop's thread every `every` seconds while
the loop is busy (its thread used at least half of the last period's time on the CPU).
The GIL is free during the nap, so a waiting thread gets it within one period; it
costs a busy loop 1 % of its time by default (0.1 ms every 10 ms). An idle loop is only
looked at every `idle_every` seconds, and not held up at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from lifecycle.components import TaskLoop

EVERY_SECONDS = 0.010
IDLE_EVERY_SECONDS = 0.100
NAP_SECONDS = 0.0001
# The share of a period the loop's thread spent on the CPU above which the loop is busy.
BUSY_SHARE = 0.5


class ThreadHandoff:
    """Everywhere component: the periodic nap while the loop is busy, from `start()` to
    `stop()`. `cpu` is the CPU time of the loop's thread."""

    name = "thread-handoff"
    leader_only = False

    def __init__(
        self,
        *,
        every: float = EVERY_SECONDS,
        idle_every: float = IDLE_EVERY_SECONDS,
        nap: float = NAP_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        cpu: Callable[[], float] = time.thread_time,
    ) -> None:
        self.every = every
        self.idle_every = idle_every
        self.nap = nap
        self.naps = 0
        self._sleep = sleep
        self._cpu = cpu
        self._loop = TaskLoop(self.name, self._run, leader_only=False)

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        busy = False
        cpu, wall = self._cpu(), time.perf_counter()
        while True:
            await asyncio.sleep(self.every if busy else self.idle_every)
            now_cpu, now_wall = self._cpu(), time.perf_counter()
            busy = now_cpu - cpu >= BUSY_SHARE * (now_wall - wall)
            cpu, wall = now_cpu, now_wall
            if busy:
                # Blocking on purpose: the GIL is released while the loop's thread sleeps.
                self._sleep(self.nap)
                self.naps += 1
