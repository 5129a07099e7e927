"""The emergency service on the replicated journal (a real Redis primary and replica):
what an agent is told while the replica is down, and what a new leader keeps."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from calls import CallAnswered, CallQueued
from fallback.domain.mode import EmergencyPolicy
from fallback.journal import EmergencyJournal
from fallback.paper import PaperNumberAllocator
from fallback.replica import RedisJournalReplica
from fallback.service import EmergencyService, emergency_journal_stage
from fallback.switching import PbxSwitch
from pipeline import CallPipeline
from testkit.call_snapshots import call_snapshot
from testkit.redis_pair import RedisPair, redis_available

pytestmark = [pytest.mark.redis, pytest.mark.timeout(90)]
EMER = "hotline-emergency"


def _fakes() -> ModuleType:
    """The fallback unit tests' fakes (a PBX keeping queues as Asterisk does, a sink, a bus)."""
    name = "fallback_unit_fakes"
    if name not in sys.modules:
        path = Path(__file__).parents[2] / "unit" / "fallback" / "conftest.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fakes = _fakes()


class Notices:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.sent.append(kwargs)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[RedisPair]:
    if not redis_available():
        pytest.skip("redis-server not installed")
    redis_pair = RedisPair(tmp_path / "redis")
    redis_pair.start()
    yield redis_pair
    redis_pair.stop()


@pytest.fixture
async def hosts(pair: RedisPair, tmp_path: Path) -> AsyncIterator[Any]:
    """`make(name)`: an emergency service on host `name`'s disk, sharing one PBX."""
    pbx, clock, bus = fakes.FakePbx(), fakes.FakeClock(), fakes.RecordingBus()
    made: list[EmergencyService] = []

    async def make(name: str, notices: Notices | None = None) -> EmergencyService:
        replica = RedisJournalReplica(pair.url, prefix="t", replicas=1, wait_ms=1500)
        service = EmergencyService(
            control=pbx,
            switch=PbxSwitch(pbx, pool=["PJSIP/1901"], retry_delay=0),
            journal=EmergencyJournal(tmp_path / name, replica),
            paper=PaperNumberAllocator(tmp_path / name, replica=replica),
            sink=fakes.FakeSink(),
            clock=clock,
            policy=EmergencyPolicy(failures_to_enter=3, hold_down=timedelta(0)),
            bus=bus,
            paper_notice=notices,
        )
        await service.start()
        made.append(service)
        return service

    make.pbx, make.clock, make.bus = pbx, clock, bus  # type: ignore[attr-defined]
    yield make
    for service in made:
        if service.journal._opened:
            await service.stop()


def queued(make: Any, call_id: str) -> CallQueued:
    channel = f"PJSIP/trunk-{call_id}"
    make.pbx.join(EMER, channel, call_id)
    snap = call_snapshot(
        call_id, make.clock.now, channel=channel, caller_number="13800138000", queue=EMER
    )
    return CallQueued(snap, make.clock.now, 1)


def setvars(make: Any, call_id: str) -> list[str]:
    return [a[2] for a in make.pbx.named("Setvar") if a[3] == f"PJSIP/trunk-{call_id}"]


async def test_replica_down_the_agent_is_told_no_number_until_it_is_confirmed(
    hosts: Any, pair: RedisPair
) -> None:
    notices = Notices()
    service = await hosts("host1", notices)
    await service.set_active(True, reason="seat system down", by="lead")
    pipeline = CallPipeline([emergency_journal_stage(service)])
    pipeline.submit(queued(hosts, "c1"))
    await pipeline.settled("emergency-journal", 10)
    assert setvars(hosts, "c1") == ["E000001"]

    pair.stop_replica()
    pipeline.submit(queued(hosts, "c2"))
    await asyncio.sleep(3.5)
    # Refused, not lost: no number on the channel, none to the agent; the page says why.
    assert service.paper_number_of("c2") is None and setvars(hosts, "c2") == []
    assert service.journal.state()["status"] == "degraded"
    journal_messages = hosts.bus.of_type("journal")
    assert journal_messages and journal_messages[-1]["replication"] == "degraded"

    pair.start_replica()
    await pipeline.settled("emergency-journal", 20)
    number = service.paper_number_of("c2")
    assert number is not None and number > "E000001"
    assert setvars(hosts, "c2") == [number]
    assert hosts.bus.of_type("journal")[-1]["replication"] == "ok"
    snap = call_snapshot("c2", hosts.clock.now, channel="PJSIP/trunk-c2", queue=EMER)
    pipeline.submit(CallAnswered(snap, hosts.clock.now, "PJSIP/1901", "desk", 3))
    await pipeline.settled("emergency-journal", 10)
    assert [n["paper_number"] for n in notices.sent] == [number]
    await pipeline.stop(timeout=0.1)


async def test_a_new_leader_keeps_the_old_leaders_numbers_and_numbers_on(hosts: Any) -> None:
    old = await hosts("host1")
    await old.set_active(True, reason="seat system down", by="lead")
    pipeline = CallPipeline([emergency_journal_stage(old)])
    for call_id in ("c1", "c2"):
        pipeline.submit(queued(hosts, call_id))
    await pipeline.settled("emergency-journal", 10)
    await pipeline.stop(timeout=0.1)
    await old.stop()  # its disk is gone with it: the new leader has its own directory

    new = await hosts("host2")
    await new.refresh_journal()
    assert new.paper_number_of("c1") == "E000001" and new.paper_number_of("c2") == "E000002"
    pipeline = CallPipeline([emergency_journal_stage(new)])
    # The resync adopts c2 (still waiting): it keeps its number; c3 gets the next one.
    pipeline.submit(queued(hosts, "c2"))
    pipeline.submit(queued(hosts, "c3"))
    await pipeline.settled("emergency-journal", 10)
    assert new.paper_number_of("c2") == "E000002"
    assert new.paper_number_of("c3") == "E000003"
    items = await new.items()
    assert [(i.call_id, i.paper_number) for i in items] == [
        ("c1", "E000001"),
        ("c2", "E000002"),
        ("c3", "E000003"),
    ]
    await pipeline.stop(timeout=0.1)
