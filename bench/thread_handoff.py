"""Threads' round trips while the event loop is busy, without and with `ThreadHandoff`.

A thread (aiosqlite's, or the default pool's behind `asyncio.to_thread`) needs the GIL to
run and to hand its result back. Here K tasks keep the loop busy (each burns 0.1 ms of
CPU per turn and yields with `sleep(0)`, so a callback is always ready, as in a
saturated controller), and the bench times, one after the other:

  to_thread   `await asyncio.to_thread(<nothing>)`
  sqlite      one `SELECT 1` on a SQLite file through the controller's own engine
              (`storage.database.Database`: SQLAlchemy over aiosqlite)

for K = 0 (the baseline, measured in the same run), 2 and 20, each without and with the
controller's `ThreadHandoff` running. Then the handoff's own cost on an idle loop: the
process's CPU over a few idle seconds, without and with it.

The last line is one JSON object, {"bench": "thread_handoff", ...}.

Run: .venv/bin/python bench/thread_handoff.py [--trips 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from lifecycle import ThreadHandoff  # noqa: E402
from storage.database import Database  # noqa: E402

BUSY = (0, 2, 20)
IDLE_SECONDS = 3.0


async def spin() -> None:
    while True:
        started = time.perf_counter()
        while time.perf_counter() < started + 0.0001:
            pass
        await asyncio.sleep(0)


async def nothing_in_a_thread() -> None:
    await asyncio.to_thread(lambda: None)


async def timed(trip: Callable[[], Awaitable[None]], trips: int) -> list[float]:
    times = []
    for _ in range(trips):
        started = time.perf_counter()
        await trip()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def measure(
    name: str, trip: Callable[[], Awaitable[None]], busy: int, handoff: bool, trips: int
) -> dict[str, float]:
    spinners = [asyncio.create_task(spin()) for _ in range(busy)]
    component = ThreadHandoff() if handoff else None
    if component is not None:
        await component.start()
    try:
        await asyncio.sleep(0.05)
        times = await timed(trip, trips)
    finally:
        if component is not None:
            await component.stop()
        for task in spinners:
            task.cancel()
        for task in spinners:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    figures = {
        "p50_ms": round(statistics.median(times), 2),
        "max_ms": round(max(times), 2),
    }
    label = f"{name:9} busy tasks {busy:2}, {'with' if handoff else 'without':7} handoff"
    print(f"{label}: p50 {figures['p50_ms']:9.2f} ms, max {figures['max_ms']:9.2f} ms")
    return figures


async def idle_cpu(handoff: bool) -> float:
    """CPU ms per second of an otherwise idle loop."""
    component = ThreadHandoff() if handoff else None
    if component is not None:
        await component.start()
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(IDLE_SECONDS)
        return (time.process_time() - cpu) * 1000 / (time.perf_counter() - wall)
    finally:
        if component is not None:
            await component.stop()


async def main(args: argparse.Namespace) -> None:
    runs: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="thread-handoff-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")

        async def select_one() -> None:
            async with db.reads() as session:
                await session.execute(text("SELECT 1"))

        await select_one()  # the pool's connection opened outside the measurement
        trips: dict[str, Callable[[], Awaitable[None]]] = {
            "to_thread": nothing_in_a_thread,
            "sqlite": select_one,
        }
        try:
            for name, trip in trips.items():
                for busy in BUSY:
                    for handoff in (False, True):
                        key = f"{name} busy {busy} {'with' if handoff else 'without'}"
                        runs[key] = await measure(name, trip, busy, handoff, args.trips)
        finally:
            await db.dispose()
    without, with_ = await idle_cpu(False), await idle_cpu(True)
    print(f"idle loop CPU: {without:.2f} ms/s without the handoff, {with_:.2f} ms/s with it")
    print(
        json.dumps(
            {
                "bench": "thread_handoff",
                "trips": args.trips,
                "runs": runs,
                "idle_cpu_ms_per_s": {"without": round(without, 2), "with": round(with_, 2)},
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=20, help="round trips per measurement")
    asyncio.run(main(parser.parse_args()))
