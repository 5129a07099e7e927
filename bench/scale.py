"""Scale-out benchmark: calls per second the controller pair sustains while the
screen-pop p99 stays under 50 ms, with one and with two console processes.

Real processes as in production (`hotline serve` x2 as controller candidates, N
`HOTLINE_ROLE=console` processes) on a scratch PostgreSQL database and the local Redis,
driven by the PBX stand-in in this process. Agents' websockets are spread over the
console processes. The offered call rate climbs step by step; for each step:

    screen-pop latency = websocket receipt of `screen_pop` at the answering agent
                         - the moment the PBX connected the call (AgentConnect)

The sustained rate is the highest step whose p99 stays under the limit with every
answered call popped. The baseline measured in the same run is a bare Redis pub/sub
round trip (the floor any cross-process screen-pop pays).

    .venv/bin/python bench/scale.py [--steps 2,4,8,12,16] [--step-seconds 8] [--agents 48]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _load_harness() -> Any:
    name = "cluster_e2e_harness"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, ROOT / "tests" / "e2e" / "cluster" / "harness.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


console = Console()
LIMIT_MS = 50.0
SPEED = 20.0  # simulated seconds per real second of the PBX stand-in


def percentile(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


async def redis_round_trip(url: str, samples: int = 400) -> tuple[float, float]:
    """Baseline: publish -> receive through Redis in one process (p50, p99 in ms)."""
    client = aioredis.Redis.from_url(url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    channel = f"bench-scale-{time.monotonic_ns()}"
    await pubsub.subscribe(channel)
    await pubsub.get_message(timeout=1.0)
    latencies: list[float] = []
    try:
        for i in range(samples):
            sent = time.perf_counter()
            await client.publish(channel, f'{{"n": {i}}}')
            while True:
                message = await pubsub.get_message(timeout=2.0)
                if message is not None:
                    break
            latencies.append((time.perf_counter() - sent) * 1000)
    finally:
        await pubsub.aclose()
        await client.aclose()
    return percentile(latencies, 50), percentile(latencies, 99)


def pops_at_answering_agent(
    received: list[tuple[str, str, float]], placed: list[Any], interfaces: dict[str, str]
) -> tuple[dict[str, float], int]:
    """First pop per call of `placed` on the socket of the agent whose phone took it, and
    how many pops went to another agent's socket."""
    answering = {c.linkedid: c.agent_interface for c in placed}
    pops: dict[str, float] = {}
    misdirected = 0
    for user, call_id, at in sorted(received, key=lambda p: p[2]):
        if call_id not in answering:
            continue
        if interfaces[user] != answering[call_id]:
            misdirected += 1
            continue
        pops.setdefault(call_id, at)
    return pops, misdirected


async def run_config(
    h: Any,
    db_url: str,
    redis_url: str,
    consoles: int,
    steps: list[float],
    step_seconds: float,
    agents: int,
) -> list[dict[str, Any]]:
    roster = [(f"agent{i:03d}", f"PJSIP/{2000 + i}") for i in range(1, agents + 1)]
    interfaces = dict(roster)
    cluster = h.Cluster(
        db_url=db_url,
        redis_url=redis_url,
        consoles=consoles,
        lease_ttl=3.0,
        speed=SPEED,
        agents=roster,
        answer_after=3.0,  # simulated seconds of ringing (0.15 s real at speed 20)
    )
    await cluster.prepare(sites=200)
    rows: list[dict[str, Any]] = []
    try:
        await cluster.start()
        await cluster.connect_agents()
        # Warm-up, not measured: connection pools, caches, first-call imports.
        await cluster.place_calls(12, 0.25, seed=1)
        await asyncio.sleep(3.0)
        misses = 0
        for rate in steps:
            first = len(cluster.calls)
            count = max(1, int(rate * step_seconds))
            await cluster.place_calls(count, 1.0 / rate, seed=int(rate * 100) + consoles)
            placed = cluster.calls[first:]
            # Let the step's calls be answered and popped (not all need to have ended).
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if all(c.linkedid in cluster.connected_at for c in placed):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            pops, misdirected = pops_at_answering_agent(cluster.screen_pops(), placed, interfaces)
            latencies = [
                (pops[c.linkedid] - cluster.connected_at[c.linkedid]) * 1000
                for c in placed
                if c.linkedid in pops and c.linkedid in cluster.connected_at
            ]
            answered = sum(1 for c in placed if c.linkedid in cluster.connected_at)
            row = {
                "rate": rate,
                "calls": len(placed),
                "answered": answered,
                "popped": len(latencies),
                "misdirected": misdirected,
                "p50": percentile(latencies, 50),
                "p99": percentile(latencies, 99),
            }
            row["ok"] = bool(
                latencies
                and row["p99"] < LIMIT_MS
                and len(latencies) == answered > 0
                and misdirected == 0
            )
            rows.append(row)
            console.print(
                f"  {consoles} console(s) {rate:>5g} calls/s: {answered}/{len(placed)} answered,"
                f" {len(latencies)} popped at the answering agent, {misdirected} misdirected,"
                f" p50 {row['p50']:.1f} ms, p99 {row['p99']:.1f} ms"
            )
            misses = 0 if row["ok"] else misses + 1
            if misses >= 2:
                break  # two steps past the knee: higher ones only take longer
        await cluster.finish_calls(120)
    finally:
        await cluster.stop()
    return rows


def json_number(value: Any) -> Any:
    """Floats rounded for the JSON line; NaN (no sample) as null."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 2)
    return value


def sustained(rows: list[dict[str, Any]]) -> float:
    best = 0.0
    for row in rows:
        if not row["ok"]:
            break
        best = row["rate"]
    return best


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="2,4,8,12,16", help="offered calls/s, comma-separated")
    parser.add_argument("--step-seconds", type=float, default=8.0)
    parser.add_argument("--agents", type=int, default=48)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    steps = [float(s) for s in args.steps.split(",") if s.strip()]

    from testkit.scratch_db import create_scratch_postgres, drop_scratch_postgres

    h = _load_harness()
    console.print(
        f"{args.agents} agents; steps of {args.step_seconds:g} s at {', '.join(map(str, steps))}"
        f" calls/s offered; PBX stand-in at {SPEED:g}x simulated speed"
    )
    base50, base99 = await redis_round_trip(args.redis_url)
    console.print(f"baseline: Redis pub/sub round trip p50 {base50:.2f} ms, p99 {base99:.2f} ms")
    results: dict[int, list[dict[str, Any]]] = {}
    for consoles in (1, 2):
        db_url = create_scratch_postgres(prefix="hotline_bench_scale")
        try:
            console.print(f"[bold]{consoles} console process(es)[/bold]")
            results[consoles] = await run_config(
                h, db_url, args.redis_url, consoles, steps, args.step_seconds, args.agents
            )
        finally:
            drop_scratch_postgres(db_url)

    table = Table(title=f"screen-pop latency by offered load (limit p99 < {LIMIT_MS:g} ms)")
    table.add_column("calls/s", justify="right")
    for consoles in (1, 2):
        table.add_column(f"{consoles} console: p50 / p99 ms", justify="right")
        table.add_column("popped", justify="right")
    for i, rate in enumerate(steps):
        cells = [f"{rate:g}"]
        for consoles in (1, 2):
            rows = results[consoles]
            if i < len(rows):
                r = rows[i]
                mark = "" if r["ok"] else " ✗"
                cells += [
                    f"{r['p50']:.1f} / {r['p99']:.1f}{mark}",
                    f"{r['popped']}/{r['answered']}",
                ]
            else:
                cells += ["-", "-"]
        table.add_row(*cells)
    console.print(table)
    console.print(
        f"sustained with p99 < {LIMIT_MS:g} ms:  1 console: {sustained(results[1]):g} calls/s"
        f"   2 consoles: {sustained(results[2]):g} calls/s"
        f"   (baseline Redis round trip p99 {base99:.2f} ms)"
    )
    line = {
        "bench": "scale",
        "agents": args.agents,
        "step_seconds": args.step_seconds,
        "speed": SPEED,
        "redis_p99_ms": round(base99, 3),
        "sustained_calls_per_s": {str(c): sustained(results[c]) for c in (1, 2)},
        "steps": {
            str(c): [{k: json_number(v) for k, v in r.items()} for r in results[c]] for c in (1, 2)
        },
    }
    print(json.dumps(line))


if __name__ == "__main__":
    asyncio.run(main())
