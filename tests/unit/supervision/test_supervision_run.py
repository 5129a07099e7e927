"""Supervision's leader-only component: started at once when the database answered at
start, in the background once it answers again otherwise, and re-seeded when leading
again after a demotion."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from supervision.components import SupervisionDeps, SupervisionRun
from supervision.config import SupervisionConfig


@dataclass
class Half:
    log: list[str]
    name: str

    async def start(self) -> None:
        self.log.append(f"{self.name} start")

    async def stop(self) -> None:
        self.log.append(f"{self.name} stop")


@dataclass
class Service:
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.publisher = Half(self.log, "publisher")
        self.scheduler = Half(self.log, "scheduler")

    async def start(self) -> None:
        self.log.append("start")

    async def seed_today(self) -> None:
        self.log.append("seed")

    async def stop(self) -> None:
        self.log.append("stop")


@dataclass
class Settings:
    supervision: dict[str, Any] = field(default_factory=dict)
    main_queue: str = "hotline-main"
    emergency_queue: str = "hotline-emergency"
    service_level_target_seconds: int = 20
    health_interval: float = 0.01
    health_timeout: float = 0.05


class Database:
    def __init__(self, up: bool) -> None:
        self.up = up
        self.pings = 0

    async def ping(self) -> None:
        self.pings += 1
        if not self.up:
            raise ConnectionError("refused")


def run_of(service: Service, db: Database, *, up_at_start: bool) -> SupervisionRun:
    deps = SupervisionDeps(
        database=db,  # type: ignore[arg-type]
        bus=None,  # type: ignore[arg-type]
        call_control=None,  # type: ignore[arg-type]
        config=SupervisionConfig.from_mapping({}),
        database_up_at_start=lambda: up_at_start,
    )
    return SupervisionRun(service, deps, Settings())  # type: ignore[arg-type]


async def test_started_at_once_then_reseeded_when_leading_again() -> None:
    service = Service()
    run = run_of(service, Database(up=True), up_at_start=True)
    await run.start()
    assert service.log == ["start"] and run.started
    await run.stop()
    await run.start()
    assert service.log[1:] == [
        "scheduler stop",
        "publisher stop",
        "seed",
        "publisher start",
        "scheduler start",
    ]
    await run.close()
    assert service.log[-1] == "stop"


async def test_waits_for_the_database_when_it_was_down_at_start() -> None:
    service, db = Service(), Database(up=False)
    run = run_of(service, db, up_at_start=False)
    await run.start()
    await asyncio.sleep(0.05)
    assert service.log == [] and not run.started and db.pings >= 2
    db.up = True
    async with asyncio.timeout(2):
        while not run.started:
            await asyncio.sleep(0.01)
    assert service.log == ["start"]


async def test_a_demotion_while_waiting_stops_the_wait() -> None:
    service, db = Service(), Database(up=False)
    run = run_of(service, db, up_at_start=False)
    await run.start()
    await run.stop()
    db.up = True
    await asyncio.sleep(0.05)
    assert service.log == [] and not run.started
    await run.close()  # never started: nothing to close
    assert service.log == []
