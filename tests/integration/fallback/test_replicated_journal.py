"""The emergency journal and paper numbers on a real Redis primary and replica
(`redis-server` processes with appendonly and appendfsync always): each directory is one
controller host's disk."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from fallback.errors import JournalNotReplicated, PaperNumbersUnavailable
from fallback.journal import EmergencyJournal
from fallback.paper import PaperNumberAllocator
from fallback.replica import RedisJournalReplica
from testkit.redis_pair import RedisPair, redis_available

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]
AT = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[RedisPair]:
    if not redis_available():
        pytest.skip("redis-server not installed")
    redis_pair = RedisPair(tmp_path / "redis")
    redis_pair.start()
    yield redis_pair
    redis_pair.stop()


@pytest.fixture
async def replicas(pair: RedisPair) -> AsyncIterator[list[RedisJournalReplica]]:
    """Replica clients for the tests to hand out; closed at the end."""
    made: list[RedisJournalReplica] = []
    yield made
    for replica in made:
        await replica.close()


def client(pair: RedisPair, made: list[RedisJournalReplica]) -> RedisJournalReplica:
    replica = RedisJournalReplica(pair.url, prefix="t", replicas=1, wait_ms=1500)
    made.append(replica)
    return replica


async def on_replica(pair: RedisPair, key: str) -> list[str]:
    """What the replica's own copy holds (read from the replica process itself)."""
    direct = aioredis.Redis.from_url(pair.replica.url, decode_responses=True)
    try:
        return list(await direct.lrange(key, 0, -1))
    finally:
        await direct.aclose()


def local_lines(directory: Path) -> list[dict[str, object]]:
    path = directory / "emergency-journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_a_record_is_on_the_replica_before_append_returns(
    pair: RedisPair, replicas: list[RedisJournalReplica], tmp_path: Path
) -> None:
    journal = EmergencyJournal(tmp_path / "host1", client(pair, replicas))
    await journal.open()
    await journal.append({"kind": "call", "call_id": "c1", "at": AT.isoformat()}, confirm=True)
    copy = [json.loads(r) for r in await on_replica(pair, "t:emergency:journal")]
    assert [r["call_id"] for r in copy] == ["c1"]
    assert local_lines(tmp_path / "host1")[0]["id"] == copy[0]["id"]
    assert journal.state()["replication"] == "ok"
    await journal.close()


async def test_the_other_host_sees_the_union_each_record_once(
    pair: RedisPair, replicas: list[RedisJournalReplica], tmp_path: Path
) -> None:
    one = EmergencyJournal(tmp_path / "host1", client(pair, replicas))
    two = EmergencyJournal(tmp_path / "host2", client(pair, replicas))
    await one.open()
    await two.open()
    for n in range(3):
        await one.append({"kind": "call", "call_id": f"a{n}", "at": AT.isoformat()})
    await two.append({"kind": "call", "call_id": "b0", "at": AT.isoformat()})
    await one.refresh()
    ids = [r["call_id"] for r in one.records()]
    assert ids == ["a0", "a1", "a2", "b0"]
    assert [r["call_id"] for r in two.records()] == ["a0", "a1", "a2", "b0"]
    # A restart pushes the whole local file again: the replica keeps one copy of each.
    await one.close()
    again = EmergencyJournal(tmp_path / "host1", client(pair, replicas))
    await again.open()
    assert len(await on_replica(pair, "t:emergency:journal")) == 4
    assert [r["call_id"] for r in again.records()] == ["a0", "a1", "a2", "b0"]
    await again.close()
    await two.close()


async def test_a_lost_disk_loses_nothing_the_replica_confirmed(
    pair: RedisPair, replicas: list[RedisJournalReplica], tmp_path: Path
) -> None:
    disk = tmp_path / "host1"
    journal = EmergencyJournal(disk, client(pair, replicas))
    await journal.open()
    for n in range(5):
        await journal.append({"kind": "call", "call_id": f"c{n}", "at": AT.isoformat()})
    await journal.close()
    for path in disk.iterdir():
        path.unlink()
    fresh = EmergencyJournal(disk, client(pair, replicas))
    await fresh.open()
    assert [r["call_id"] for r in fresh.records()] == [f"c{n}" for n in range(5)]
    await fresh.close()


async def test_replica_down_nothing_is_confirmed_but_nothing_is_lost(
    pair: RedisPair, replicas: list[RedisJournalReplica], tmp_path: Path
) -> None:
    journal = EmergencyJournal(tmp_path / "host1", client(pair, replicas))
    await journal.open()
    await journal.append({"kind": "call", "call_id": "before", "at": AT.isoformat()})
    pair.stop_replica()
    with pytest.raises(JournalNotReplicated):
        await journal.append(
            {"kind": "call", "call_id": "during", "at": AT.isoformat()}, confirm=True
        )
    # The first copy is on this host's disk; the page shows the degraded state.
    assert [r["call_id"] for r in local_lines(tmp_path / "host1")] == ["before", "during"]
    state = journal.state()
    assert state["status"] == "degraded" and state["unreplicated"] == 1
    pair.start_replica()
    assert await journal.catch_up()
    assert journal.state()["replication"] == "ok"
    # The record refused earlier is on the replica now, exactly once.
    copy = [json.loads(r)["call_id"] for r in await on_replica(pair, "t:emergency:journal")]
    assert copy == ["before", "during"]
    await journal.close()


async def test_paper_numbers_unique_across_hosts_and_never_below_the_floor(
    pair: RedisPair, replicas: list[RedisJournalReplica], tmp_path: Path
) -> None:
    one = PaperNumberAllocator(tmp_path / "host1", replica=client(pair, replicas))
    two = PaperNumberAllocator(tmp_path / "host2", replica=client(pair, replicas))
    await one.open()
    await two.open()
    numbers = [await one.allocate(f"a{n}", AT) for n in range(3)]
    numbers += [await two.allocate(f"b{n}", AT) for n in range(3)]
    numbers += [await one.allocate("a3", AT)]
    assert numbers == [f"E{n:06d}" for n in range(1, 8)]
    # Redis restarted without its data: the counter starts again, the floor holds.
    primary = aioredis.Redis.from_url(pair.url)
    await primary.delete("t:emergency:paper")
    await primary.aclose()
    assert await one.allocate("a4", AT) == "E000008"
    # A host that lost its disk learns the floor from the replicated journal.
    lost = PaperNumberAllocator(tmp_path / "host3", replica=client(pair, replicas))
    await lost.open()
    primary = aioredis.Redis.from_url(pair.url)
    await primary.delete("t:emergency:paper")
    await primary.aclose()
    lost.raise_floor("E000008")
    assert await lost.allocate("c0", AT) == "E000009"
    for allocator in (one, two, lost):
        await allocator.close()


async def test_no_paper_number_without_the_replica_and_none_reused_after(
    pair: RedisPair, replicas: list[RedisJournalReplica], tmp_path: Path
) -> None:
    paper = PaperNumberAllocator(tmp_path / "host1", replica=client(pair, replicas))
    await paper.open()
    assert await paper.allocate("c0", AT) == "E000001"
    pair.stop_replica()
    with pytest.raises(PaperNumbersUnavailable):
        await paper.allocate("c1", AT)
    pair.start_replica()
    # The refused number was never used; whatever comes next is new.
    assert await paper.allocate("c1", AT) > "E000001"
    await paper.close()


async def test_primary_down_is_refused_quickly(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    replica = RedisJournalReplica(f"redis://127.0.0.1:{port}/0", replicas=1, wait_ms=100)
    paper = PaperNumberAllocator(tmp_path, replica=replica)
    await paper.open()
    with pytest.raises(PaperNumbersUnavailable):
        await paper.allocate("c0", AT)
    journal = EmergencyJournal(tmp_path, replica)
    await journal.open()
    with pytest.raises(JournalNotReplicated):
        await journal.append({"kind": "call", "call_id": "c0", "at": AT.isoformat()}, confirm=True)
    assert journal.state()["status"] == "degraded"
    await paper.close()
    await journal.close()
