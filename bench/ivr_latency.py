"""IVR latency: controller-side time per AGI command round trip and per full menu traversal.

Runs N simulated calls (default 1,000), C at a time (default 50), through the real IVR
server over loopback TCP, each driven by the PBX stand-in's FastAGI client as a known
caller who presses 1. The same number of calls then goes through a bare panoramisk 1.4
FastAGI route that sends the very same command lines without any menu logic: the
baseline, measured in the same run on the same machine.

    .venv/bin/python bench/ivr_latency.py [--calls 1000] [--concurrency 50]

Numbers only; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from panoramisk.fast_agi import Application, Request  # noqa: E402

from ivr.directory import (  # noqa: E402
    DirectorySite,
    InMemorySiteDirectory,
    InMemorySurveySink,
    StaticIvrMode,
)
from ivr.menu_file import load_menu  # noqa: E402
from ivr.server import IvrServer  # noqa: E402
from pbx.agi_client import CallerScript, agi_environment, run_agi_session  # noqa: E402
from routing.domain.levels import SlaPolicy  # noqa: E402

CALLER = "13800138000"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(port: int, calls: int, concurrency: int) -> tuple[list[float], list[list[str]]]:
    """Run `calls` sessions, `concurrency` at a time; per-session wall time and commands."""
    gate = asyncio.Semaphore(concurrency)
    durations: list[float] = []
    commands: list[list[str]] = []

    async def one(i: int) -> None:
        async with gate:
            env = agi_environment(
                script="ivr",
                host="127.0.0.1",
                port=port,
                channel=f"PJSIP/trunk-{i:08x}",
                uniqueid=f"1795303935.{i}",
                caller_number=CALLER,
                caller_name="Bench",
            )
            started = time.perf_counter()
            result = await run_agi_session(
                "127.0.0.1",
                port,
                script="ivr",
                env=env,
                caller=CallerScript(("1",)),
                variables={},
            )
            durations.append(time.perf_counter() - started)
            if result.error:
                raise RuntimeError(f"call {i}: {result.error}")
            commands.append(result.commands)

    await asyncio.gather(*(one(i) for i in range(calls)))
    return durations, commands


async def bench_hotline(
    calls: int, concurrency: int, sounds: Path
) -> tuple[list[float], list[float], list[str]]:
    rtts: list[float] = []
    server = IvrServer(
        load_menu(),
        InMemorySiteDirectory([DirectorySite("234567", "Bench site", (CALLER,))]),
        StaticIvrMode(),
        InMemorySurveySink(),
        policy=SlaPolicy(),
        sounds_dir=sounds,
        command_observer=lambda _cmd, seconds: rtts.append(seconds),
    )
    await server.start("127.0.0.1", 0)
    assert server.port is not None
    try:
        durations, commands = await drive(server.port, calls, concurrency)
    finally:
        await server.stop()
    return rtts, durations, commands[0]


async def bench_panoramisk(
    calls: int, concurrency: int, script: list[str]
) -> tuple[list[float], list[float]]:
    rtts: list[float] = []

    async def echo(request: Request) -> None:
        for command in script:
            started = time.perf_counter()
            await request.send_command(command)
            rtts.append(time.perf_counter() - started)

    app = Application(loop=asyncio.get_running_loop())
    app.add_route("ivr", echo)
    handler: Callable[..., Awaitable[Any]] = app.handler
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        durations, _ = await drive(port, calls, concurrency)
    finally:
        server.close()
        await server.wait_closed()
    return rtts, durations


def row(name: str, base: list[float], ours: list[float]) -> str:
    b50, b99 = pct(base, 0.50) * 1e3, pct(base, 0.99) * 1e3
    o50, o99 = pct(ours, 0.50) * 1e3, pct(ours, 0.99) * 1e3
    return (
        f"{name:<28} {b50:>9.3f} {b99:>9.3f}   {o50:>9.3f} {o99:>9.3f}   "
        f"{o50 / b50:>6.2f}x {o99 / b99:>6.2f}x"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per side")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4, help="alternations of the two sides")
    args = parser.parse_args()
    # The bench has no rendered prompts; the start-up warning about that is noise here.
    logging.getLogger("ivr.server").setLevel(logging.ERROR)
    rtts: list[float] = []
    traversals: list[float] = []
    base_rtts: list[float] = []
    base_traversals: list[float] = []
    ours_wall = base_wall = 0.0
    per_round = max(1, -(-args.calls // args.rounds))
    with tempfile.TemporaryDirectory() as sounds:
        # Warm-up so neither side pays for imports or first connections.
        _, _, script = await bench_hotline(args.concurrency, args.concurrency, Path(sounds))
        await bench_panoramisk(args.concurrency, args.concurrency, script)
        # Interleave the two sides so that a busy machine slows both alike.
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            r, t, _ = await bench_hotline(per_round, args.concurrency, Path(sounds))
            ours_wall += time.perf_counter() - t0
            rtts += r
            traversals += t
            t0 = time.perf_counter()
            r, t = await bench_panoramisk(per_round, args.concurrency, script)
            base_wall += time.perf_counter() - t0
            base_rtts += r
            base_traversals += t
    calls = per_round * args.rounds

    print(
        f"IVR latency: {calls} calls per side, {args.concurrency} concurrent, "
        f"{len(script)} AGI commands per call (known caller pressing 1), {args.rounds} rounds"
    )
    print(f"{'':<28} {'panoramisk 1.4 (baseline)':^20}   {'hotline IVR':^20}   {'ratio':^14}")
    print(
        f"{'milliseconds':<28} {'p50':>9} {'p99':>9}   {'p50':>9} {'p99':>9}   "
        f"{'p50':>7} {'p99':>7}"
    )
    print(row("AGI command round trip", base_rtts, rtts))
    print(row("full menu traversal", base_traversals, traversals))
    print(f"{'calls per second':<28} {calls / base_wall:>19.0f}   {calls / ours_wall:>19.0f}")
    print(
        f"mean round trip: baseline {statistics.fmean(base_rtts) * 1e3:.3f} ms, "
        f"hotline {statistics.fmean(rtts) * 1e3:.3f} ms "
        f"({len(base_rtts)} / {len(rtts)} commands timed)"
    )

    def ms(values: list[float], q: float) -> float:
        return round(sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1e3, 3)

    line = {
        "bench": "ivr_latency",
        "calls": calls,
        "rtt_p50_ms": ms(rtts, 0.5),
        "rtt_p99_ms": ms(rtts, 0.99),
        "traversal_p50_ms": ms(traversals, 0.5),
        "traversal_p99_ms": ms(traversals, 0.99),
        "baseline_rtt_p50_ms": ms(base_rtts, 0.5),
        "baseline_rtt_p99_ms": ms(base_rtts, 0.99),
        "calls_per_s": round(calls / ours_wall, 1),
        "baseline_calls_per_s": round(calls / base_wall, 1),
    }
    print(json.dumps(line))


if __name__ == "__main__":
    asyncio.run(main())
