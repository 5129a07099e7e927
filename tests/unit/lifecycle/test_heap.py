"""The start-up heap is frozen once it is built, and given back at stop."""

from __future__ import annotations

import asyncio
import gc

from lifecycle import SettledHeap
from lifecycle.heap import FULL_COLLECTION_AFTER


async def test_the_heap_is_frozen_once_everything_is_ready_and_unfrozen_at_stop() -> None:
    before = gc.get_freeze_count()
    thresholds = gc.get_threshold()
    warm = asyncio.Event()
    heap = SettledHeap([warm])
    await heap.start()
    try:
        await asyncio.sleep(0.05)
        assert heap.frozen == 0 and gc.get_freeze_count() == before  # the cache is not warm
        warm.set()
        async with asyncio.timeout(10):
            while not heap.frozen:
                await asyncio.sleep(0.01)
        assert gc.get_freeze_count() > before  # frozen objects can still be freed: no equality
        # Full collections come ten times less often; the young ones as before.
        assert gc.get_threshold() == (*thresholds[:2], FULL_COLLECTION_AFTER)
        assert FULL_COLLECTION_AFTER > thresholds[2]
    finally:
        await heap.stop()
    assert heap.frozen == 0 and gc.get_freeze_count() == before
    assert gc.get_threshold() == thresholds


async def test_a_cache_that_never_warms_does_not_keep_the_heap_unsettled() -> None:
    heap = SettledHeap([asyncio.Event()], wait=0.05)
    await heap.start()
    try:
        async with asyncio.timeout(10):
            while not heap.frozen:
                await asyncio.sleep(0.01)
    finally:
        await heap.stop()
