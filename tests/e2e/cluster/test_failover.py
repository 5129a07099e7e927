"""Two `hotline serve` controllers and two console processes on the real PostgreSQL and
Redis, a steady stream of calls from the PBX stand-in, and the faults a hot standby must survive:
the leader SIGKILLed, then the new leader frozen (SIGSTOP) and resumed; then, in the
second test, Redis cut mid-stream and restored. At the end every call has exactly one
call record and one ticket and no screen-pop reached the wrong agent."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from cluster_e2e_harness import Cluster
from cluster_test_support import CuttableProxy

# Set HOTLINE_CLUSTER_LOGS=<dir> to keep each process's log for a post-mortem.
KEEP = Path(os.environ["HOTLINE_CLUSTER_LOGS"]) if os.environ.get("HOTLINE_CLUSTER_LOGS") else None

# Whole-system scenarios run one after another on one test worker (scripts/test): two at
# once would share two cores among a dozen processes.
pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(150),
    pytest.mark.xdist_group("scenarios"),
]


async def wait_roles(cluster: Cluster, wanted: dict[str, str], timeout: float) -> float:
    started = time.monotonic()
    roles: dict[str, str] = {}
    while time.monotonic() - started < timeout:
        roles = await cluster.roles()
        if all(roles.get(name) == role for name, role in wanted.items()):
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    logs = "\n".join(f"== {n.name}\n{n.log_tail(30)}" for n in cluster.controllers)
    raise AssertionError(f"roles {roles}, wanted {wanted}\n{logs}")


def report(title: str, verdict: dict[str, object]) -> None:
    print(f"\n{title}")
    for key, value in verdict.items():
        print(f"  {key}: {value if not isinstance(value, list) else len(value)}")


def assert_end_state(verdict: dict[str, Any], cluster: Cluster) -> None:
    # A failure shows what each controller logged about the calls it names.
    named = {
        c for key in ("missing_records", "missing_tickets", "duplicated") for c in verdict[key]
    }
    named |= {call_id for _, call_id in verdict["wrong_screen_pops"]}
    story = "\n".join(
        f"== {node.name}\n" + "\n".join(node.log_lines_with(sorted(named))[-60:])
        for node in cluster.controllers
    )
    assert verdict["missing_records"] == [], story
    assert verdict["missing_tickets"] == [], story
    assert verdict["duplicated"] == [], story
    assert verdict["wrong_screen_pops"] == [], story


async def test_leader_killed_then_frozen_no_call_lost_or_doubled(
    pg_url: str, redis_url: str
) -> None:
    cluster = Cluster(db_url=pg_url, redis_url=redis_url, consoles=2, lease_ttl=2.0, workdir=KEEP)
    await cluster.prepare()
    try:
        await cluster.start()
        ctl1, ctl2 = cluster.controllers
        await wait_roles(cluster, {"ctl1": "leader", "ctl2": "standby"}, 15)
        await cluster.connect_agents()
        traffic = asyncio.create_task(cluster.place_calls(count=34, every=0.6))
        await asyncio.sleep(4)

        # 1. The leader dies without a word.
        ctl1.signal(signal.SIGKILL)
        killed_takeover = await wait_roles(cluster, {"ctl2": "leader"}, 15)
        print(f"\ntakeover after SIGKILL of the leader: {killed_takeover:.2f} s (lease ttl 2 s)")
        ctl1.spawn()  # what systemd's Restart=always does
        await cluster.wait_healthy(ctl1)
        await wait_roles(cluster, {"ctl1": "standby", "ctl2": "leader"}, 15)
        await asyncio.sleep(2)

        # 2. The new leader freezes (a partition, a stuck VM) and later resumes.
        ctl2.signal(signal.SIGSTOP)
        frozen_takeover = await wait_roles(cluster, {"ctl1": "leader"}, 15)
        print(f"takeover after SIGSTOP of the leader: {frozen_takeover:.2f} s")
        await asyncio.sleep(1.0)
        ctl2.signal(signal.SIGCONT)
        await wait_roles(cluster, {"ctl1": "leader", "ctl2": "standby"}, 15)
        stale = await cluster.health(ctl2)
        assert stale is not None
        print(f"resumed controller: {stale['controller'].get('last_change')}")
        assert "stepped down" in stale["controller"]["last_change"]

        await traffic
        await cluster.finish_calls(60)
        await cluster.wait_store_complete(20)
        verdict = await cluster.check_end_state()
        report("end state after SIGKILL and SIGSTOP/SIGCONT:", verdict)
        assert_end_state(verdict, cluster)
        assert ctl1.alive() and ctl2.alive()
    finally:
        await cluster.stop()


async def test_redis_cut_mid_stream_and_restored(
    pg_url: str, proxy: CuttableProxy, redis_url: str
) -> None:
    cluster = Cluster(db_url=pg_url, redis_url=proxy.url, consoles=2, lease_ttl=2.0, workdir=KEEP)
    await cluster.prepare()
    try:
        await cluster.start()
        ctl1, ctl2 = cluster.controllers
        await wait_roles(cluster, {"ctl1": "leader", "ctl2": "standby"}, 15)
        await cluster.connect_agents()
        traffic = asyncio.create_task(cluster.place_calls(count=24, every=0.6))
        await asyncio.sleep(3)

        proxy.cut()
        outage_started = time.monotonic()
        seen_degraded = False
        while time.monotonic() - outage_started < 3 * cluster.lease_ttl:
            body = await cluster.health(ctl1)
            assert body is not None
            if body["status"] == "degraded" and body["redis"]["status"] == "degraded":
                seen_degraded = True
            # Nobody can be elected; the leader keeps leading on the database fence.
            assert (await cluster.roles()) == {"ctl1": "leader", "ctl2": "standby"}
            await asyncio.sleep(0.2)
        assert seen_degraded
        proxy.restore()

        async def recovered() -> bool:
            bodies = [await cluster.health(n) for n in [*cluster.controllers, *cluster.consoles]]
            return all(b is not None and b["redis"]["status"] == "ok" for b in bodies)

        started = time.monotonic()
        while not await recovered():
            assert time.monotonic() - started < 20, "Redis delivery did not come back"
            await asyncio.sleep(0.2)
        print(f"\nall processes back on Redis {time.monotonic() - started:.2f} s after restore")
        assert (await cluster.roles()) == {"ctl1": "leader", "ctl2": "standby"}

        await traffic
        await cluster.finish_calls(60)
        await cluster.wait_store_complete(20)
        verdict = await cluster.check_end_state()
        report("end state after a Redis outage:", verdict)
        assert_end_state(verdict, cluster)
        # Screen-pops published after the recovery reach the consoles again.
        last_pop = max((at for _, _, at in cluster.screen_pops()), default=0.0)
        assert last_pop > started
    finally:
        await cluster.stop()
