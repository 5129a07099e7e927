"""A lost host during emergency mode: nothing journaled is lost, no paper number reused.

Two `hotline serve` controllers, a Redis primary and its replica (`redis-server`
processes with appendonly and appendfsync always; the lease, the bus and the replicated
emergency journal all use them), the scratch PostgreSQL, the PBX stand-in with an
eight-desk emergency pool. Emergency mode on; 50 calls journaled with paper numbers;
then the leader's controller is SIGKILLed and its journal directory removed (a lost
disk). The standby takes over, continues the numbering and takes 30 more calls. After
the switch back both controllers' backfill lists all 80 calls, each once, each with its
own paper number.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from cluster_e2e_harness import Cluster, Node

from routing.errors import UserExists
from storage.database import Database
from storage.users import UserRepository
from testkit.demo import DEMO_PASSWORD
from testkit.redis_pair import RedisPair, redis_available

# Whole-system scenarios run one after another on one test worker (scripts/test): two at
# once would share two cores among a dozen processes.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(240),
    pytest.mark.xdist_group("scenarios"),
]

POOL = tuple(f"PJSIP/19{n:02d}" for n in range(1, 9))
FIRST, SECOND = 50, 30


class EmergencyCluster(Cluster):
    """The harness's cluster with the replicated journal and an emergency pool."""

    def __init__(self, *, journal_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.journal_url = journal_url

    def _env(self, node: Node) -> dict[str, str]:
        env = super()._env(node)
        env["HOTLINE_JOURNAL_REDIS_URL"] = self.journal_url
        env["HOTLINE_JOURNAL_REPLICAS"] = "1"
        env["HOTLINE_JOURNAL_WAIT_MS"] = "1000"
        env["HOTLINE_EMERGENCY_MEMBERS"] = ",".join(POOL)
        return env

    async def start(self) -> None:
        for desk in POOL:
            self.pbx.add_agent(desk, answer_after=1.0)
        await super().start()


async def supervisor(cluster: Cluster, node: Node) -> dict[str, str]:
    async with asyncio.timeout(20):
        while True:
            with contextlib.suppress(Exception):
                answer = await cluster.http.post(
                    node.url + "/api/login", json={"username": "sue", "password": DEMO_PASSWORD}
                )
                if answer.status_code == 200:
                    return {"Authorization": f"Bearer {answer.json()['token']}"}
            await asyncio.sleep(0.2)


async def backfill(cluster: Cluster, node: Node, auth: dict[str, str]) -> list[dict[str, Any]]:
    answer = await cluster.http.get(node.url + "/api/backfill", headers=auth, timeout=10)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def until_listed(
    cluster: Cluster, node: Node, auth: dict[str, str], ids: set[str], timeout: float
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        items = await backfill(cluster, node, auth)
        if ids <= {i["call_id"] for i in items}:
            return items
        await asyncio.sleep(0.3)
    listed = {i["call_id"] for i in items}
    raise AssertionError(
        f"{len(ids - listed)} of {len(ids)} calls not in {node.name}'s backfill\n"
        f"{node.log_tail(40)}"
    )


def assert_each_once(items: list[dict[str, Any]], ids: set[str]) -> dict[str, str]:
    """Every call listed once with its own paper number; returns call id -> paper number."""
    calls = [i["call_id"] for i in items]
    papers = [i["paper_number"] for i in items]
    assert sorted(calls) == sorted(ids), "each call listed exactly once"
    assert len(set(papers)) == len(papers), "a paper number given twice"
    return {i["call_id"]: i["paper_number"] for i in items}


async def test_lost_leader_disk_during_emergency_loses_no_call_and_reuses_no_number(
    pg_url: str, tmp_path: Path
) -> None:
    if not redis_available():
        pytest.skip("redis-server not installed")
    pair = RedisPair(tmp_path / "redis")
    pair.start()
    cluster = EmergencyCluster(
        journal_url=pair.url,
        db_url=pg_url,
        redis_url=pair.url,
        consoles=0,
        lease_ttl=2.0,
        speed=10.0,
        workdir=tmp_path / "cluster",
    )
    await cluster.prepare()
    db = Database(pg_url)
    with contextlib.suppress(UserExists):
        await UserRepository(db).create("sue", "supervisor", DEMO_PASSWORD, None)
    await db.dispose()
    try:
        await cluster.start()
        ctl1, ctl2 = cluster.controllers
        auth1 = await supervisor(cluster, ctl1)
        flipped = await cluster.http.post(
            ctl1.url + "/api/emergency",
            json={"active": True, "reason": "seat system down (chaos test)"},
            headers=auth1,
        )
        assert flipped.status_code == 200, flipped.text
        await cluster.wait_for(
            lambda: cluster.pbx.sim.astdb.get("hotline/mode") == "emergency", 15, "PBX mode"
        )

        # 1. Fifty emergency calls, each journaled with its paper number by the leader.
        await cluster.place_calls(FIRST, every=0.15, seed=3)
        first_ids = {c.linkedid for c in cluster.calls}
        before = assert_each_once(
            await until_listed(cluster, ctl1, auth1, first_ids, 60), first_ids
        )
        # Confirmed on the replica before anyone was told: read the replica's own copy.
        direct = aioredis.Redis.from_url(pair.replica.url, decode_responses=True)
        copy = [
            json.loads(r) for r in await direct.lrange(f"{cluster.prefix}:emergency:journal", 0, -1)
        ]
        await direct.aclose()
        on_replica = {
            r["call_id"]: r["fields"]["paper_number"]
            for r in copy
            if r.get("kind") == "call" and "paper_number" in r.get("fields", {})
        }
        assert {k: on_replica[k] for k in first_ids} == before

        # 2. The leader's host dies and its disk with it.
        ctl1.signal(signal.SIGKILL)
        ctl1.process.wait()  # type: ignore[union-attr]
        shutil.rmtree(ctl1.workdir / "journal")
        await cluster.wait_for(lambda: cluster.leader() is ctl2, 20, "standby takes over")
        await cluster.wait_for(
            lambda: cluster.pbx.sim.astdb.get("hotline/mode") == "emergency", 5, "mode kept"
        )
        auth2 = await supervisor(cluster, ctl2)

        # 3. Thirty more calls on the new leader.
        await cluster.place_calls(SECOND, every=0.15, seed=11)
        all_ids = {c.linkedid for c in cluster.calls}
        assert len(all_ids) == FIRST + SECOND
        await until_listed(cluster, ctl2, auth2, all_ids, 60)
        await cluster.finish_calls(120)

        # 4. Recovery: back to normal; the dead host comes back with an empty disk.
        # Leaving emergency mode links the calls' automatic tickets first: not instant.
        started = time.monotonic()
        back = await cluster.http.post(
            ctl2.url + "/api/emergency",
            json={"active": False, "reason": "seat system back"},
            headers=auth2,
            timeout=30,
        )
        assert back.status_code == 200, back.text
        print(f"\nswitch back to normal answered in {time.monotonic() - started:.2f} s")
        ctl1.spawn()
        await cluster.wait_healthy(ctl1)
        for node, auth in ((ctl2, auth2), (ctl1, await supervisor(cluster, ctl1))):
            items = await until_listed(cluster, node, auth, all_ids, 30)
            papers = assert_each_once(items, all_ids)
            # The numbers of the first 50 survived the lost disk unchanged ...
            assert {k: papers[k] for k in first_ids} == before
            # ... and the new leader's numbers continue above them: none reused.
            highest_before = max(before.values())
            assert all(papers[k] > highest_before for k in all_ids - first_ids), papers
        print(
            f"\n80 calls, paper numbers {min(papers.values())}..{max(papers.values())}, "
            f"first leader up to {highest_before}"
        )
    except BaseException:
        for node in cluster.controllers:
            print(f"== {node.name}\n{node.log_tail(60)}")
        raise
    finally:
        await cluster.stop()
        pair.stop()
