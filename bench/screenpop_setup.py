"""The parts of `bench/screenpop.py` that set a run up and hold its measurements: the
agents and their websocket readers, the callers drawn from the directory, the scratch
database, and each phase's result."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import Progress
from websockets.asyncio.client import ClientConnection

from routing.errors import InvalidInput
from routing.numbers import normalise
from storage.database import Database
from storage.migrate import upgrade
from storage.site_import import import_sites
from storage.users import UserRepository
from testkit.demo_directory import write_csv
from testkit.scratch_db import create_scratch_postgres, drop_scratch_postgres

PASSWORD = "bench-password"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def timed(name: str, handler: Any, into: dict[str, list[float]]) -> Any:
    """Wraps a pipeline handler to record its duration per event type (--profile)."""

    async def run(event: Any) -> None:
        start = time.monotonic()
        try:
            await handler(event)
        finally:
            key = f"{name}:{type(event).__name__}"
            into.setdefault(key, []).append((time.monotonic() - start) * 1000)

    return run


@dataclass
class Agent:
    username: str
    interface: str
    token: str = ""
    connection: ClientConnection | None = None
    reader: asyncio.Task[None] | None = None
    pops: dict[str, float] = field(default_factory=dict)  # call id -> receive time
    pop_interfaces: dict[str, str | None] = field(default_factory=dict)
    markers: dict[str, float] = field(default_factory=dict)
    marker_seen: asyncio.Event = field(default_factory=asyncio.Event)


async def read_socket(agent: Agent, progress: Progress | None, task: Any) -> None:
    assert agent.connection is not None
    with contextlib.suppress(Exception):
        async for raw in agent.connection:
            received = time.monotonic()
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "screen_pop":
                agent.pops[message["call_id"]] = received
                agent.pop_interfaces[message["call_id"]] = (message.get("call") or {}).get(
                    "agent_interface"
                )
                if progress is not None:
                    progress.advance(task)
            elif kind == "bench_marker":
                agent.markers[message["id"]] = received
                agent.marker_seen.set()


def callers_from(rows: list[dict[str, str]], count: int, seed: int) -> list[tuple[str, str]]:
    """(number as written, level digit) for numbers that identify exactly one site."""
    sites_of: dict[str, set[str]] = {}
    keyed: list[tuple[str, str]] = []
    for row in rows:
        try:
            number = normalise(row["contact_phone"])
        except InvalidInput:
            continue
        if number.valid and number.extension is None:  # the PBX passes digits only
            sites_of.setdefault(number.key, set()).add(row["site_code"])
            keyed.append((row["contact_phone"], number.key))
    unique = [raw for raw, key in keyed if len(sites_of[key]) == 1]
    rng = random.Random(seed)
    picked = rng.sample(unique, min(count, len(unique)))
    return [(number, str(rng.choice("1234"))) for number in picked]


async def prepare(db_url: str, rows: list[dict[str, str]], agents: list[Agent], tmp: Path) -> None:
    await asyncio.to_thread(upgrade, db_url)
    path = tmp / "sites.csv"
    await asyncio.to_thread(write_csv, rows, path)
    db = Database(db_url)
    try:
        await import_sites(db, path)
        users = UserRepository(db)
        await asyncio.gather(
            *(users.create(a.username, "agent", PASSWORD, a.interface) for a in agents)
        )
    finally:
        await db.dispose()


@contextlib.asynccontextmanager
async def scratch_database(kind: str, tmp: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    url = await asyncio.to_thread(create_scratch_postgres, None, "hotline_bench")
    try:
        yield url
    finally:
        await asyncio.to_thread(drop_scratch_postgres, url)


@dataclass
class Result:
    db: str
    latencies_ms: list[float]
    baseline_ms: list[float]
    tickets: int
    tickets_per_s: float
    misdirected: int
    missing: int
    answered: int
    elapsed: float
    peak_live: int = 0
    calls: int = 0
    ramp: float = 0.0
    # The pop's latency in three legs: AgentConnect written -> CallAnswered out of the
    # tracker -> screen_pop on the bus -> received by the agent's websocket client.
    legs_ms: dict[str, list[float]] = field(default_factory=dict)
    # The three slowest pops, each its total ("pop") and its legs, in ms.
    slowest_pops: list[dict[str, float]] = field(default_factory=list)
    call_ids: list[str] = field(default_factory=list)
    ticket_ms: list[float] = field(default_factory=list)  # queue join -> ticket written
    advice_timeouts: int = 0
    batches: dict[int, int] = field(default_factory=dict)  # group-commit batch sizes
    # First to last queue join: the IVR's pace bounds tickets/s (joins / this) from above.
    join_spread_s: float = 0.0
    controller_cpu_s: float = 0.0  # the controller process's CPU during the phase
    load_cpu_s: float = 0.0  # the load process's (all-in-one: the same process)
    emergency: bool = False  # the hotline was in emergency mode at the end of the phase
    threads_cpu_s: dict[str, float] = field(default_factory=dict)  # controller, by thread
    idle_cpu_per_s: float = 0.0  # the controller's CPU s/s before any call (background)

    def figures(self) -> dict[str, Any]:
        """The run's key figures for the closing JSON line."""
        lat = self.latencies_ms

        def ms(values: list[float], q: float) -> float | None:
            return round(pct(values, q), 2) if values else None

        return {
            "calls": self.calls,
            "pops": len(lat),
            "pop_p50_ms": ms(lat, 0.5),
            "pop_p99_ms": ms(lat, 0.99),
            "pop_max_ms": round(max(lat), 2) if lat else None,
            "baseline_p50_ms": ms(self.baseline_ms, 0.5),
            "baseline_p99_ms": ms(self.baseline_ms, 0.99),
            "tickets": self.tickets,
            "tickets_per_s": round(self.tickets_per_s, 1),
            "join_spread_s": round(self.join_spread_s, 2),
            "ticket_p50_ms": ms(self.ticket_ms, 0.5),
            "ticket_p99_ms": ms(self.ticket_ms, 0.99),
            "pop_legs_p99_ms": {leg: ms(v, 0.99) for leg, v in self.legs_ms.items()},
            "advice_timeouts": self.advice_timeouts,
            "misdirected": self.misdirected,
            "missing": self.missing,
            "answered": self.answered,
            "largest_batch": max(self.batches) if self.batches else 0,
            "batches": sum(self.batches.values()),
            "controller_cpu_ms_per_call": round(self.cpu_ms_per_call, 2),
            "controller_net_cpu_ms_per_call": round(self.net_cpu_ms_per_call, 2),
            "emergency_mode": self.emergency,
        }

    @property
    def cpu_ms_per_call(self) -> float:
        return self.controller_cpu_s * 1000 / max(1, self.calls)

    @property
    def net_cpu_ms_per_call(self) -> float:
        """CPU per call less the controller's idle rate over the phase."""
        work = self.controller_cpu_s - self.idle_cpu_per_s * self.elapsed
        return work * 1000 / max(1, self.calls)
