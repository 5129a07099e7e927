"""`ThreadHandoff` naps on the loop's thread while other tasks keep the loop busy, not
while it idles, and stops at `stop()`. (What the nap buys, threads' round trips under a
busy loop, is measured by bench/thread_handoff.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import time

from lifecycle import ThreadHandoff


async def spin() -> None:
    """Keeps a callback ready at every turn of the loop, as a saturated controller does."""
    while True:
        started = time.perf_counter()
        while time.perf_counter() < started + 0.0001:
            pass
        await asyncio.sleep(0)


async def test_it_naps_while_the_loop_is_busy_and_not_after_stop() -> None:
    naps: list[float] = []
    handoff = ThreadHandoff(every=0.001, idle_every=0.001, nap=0.0001, sleep=naps.append)
    spinners = [asyncio.create_task(spin()) for _ in range(2)]
    await handoff.start()
    try:
        async with asyncio.timeout(10):
            while len(naps) < 5:
                await asyncio.sleep(0)
    finally:
        await handoff.stop()
        for task in spinners:
            task.cancel()
        for task in spinners:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert set(naps) == {0.0001}
    count = len(naps)
    await asyncio.sleep(0.01)
    assert len(naps) == count


async def test_an_idle_loop_is_not_held_up() -> None:
    naps: list[float] = []
    handoff = ThreadHandoff(every=0.001, idle_every=0.001, sleep=naps.append, cpu=lambda: 0.0)
    await handoff.start()
    try:
        await asyncio.sleep(0.05)  # some fifty looks: the loop's thread used no CPU
    finally:
        await handoff.stop()
    assert naps == [] and handoff.naps == 0
