"""Health probes and the round verdict, with fakes and a fake clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from ami.errors import AmiActionError
from calls.control import QueueMemberState
from fallback.domain.mode import Verdict
from fallback.errors import HealthCheckFailed
from fallback.health import CallableProbe, ConsoleHeartbeats, HealthWatch, ReadyAgentsProbe


def probe(name: str, outcome: str, *, critical: bool = True) -> CallableProbe:
    async def check() -> str:
        if outcome == "hang":
            await asyncio.sleep(30)
        if outcome == "fail":
            raise HealthCheckFailed("broken")
        if outcome == "crash":
            raise ConnectionResetError("peer reset\nsecond line")
        return "fine"

    return CallableProbe(name, check, timeout=0.05, critical=critical)


@pytest.mark.parametrize(
    ("outcomes", "verdict"),
    [
        ({"db": "ok", "consoles": "ok"}, Verdict.HEALTHY),
        ({"db": "fail", "consoles": "ok"}, Verdict.FAILING),
        ({"db": "hang", "consoles": "ok"}, Verdict.FAILING),
        ({"db": "crash", "consoles": "ok"}, Verdict.FAILING),
        ({"db": "ok", "extra": "fail"}, Verdict.HEALTHY),  # "extra" is not critical
    ],
)
async def test_round_verdict(clock, outcomes, verdict) -> None:
    probes = [probe(n, o, critical=(n != "extra")) for n, o in outcomes.items()]
    watch = HealthWatch(probes, clock)
    result = await watch.run_round()
    assert result.verdict is verdict
    states = {r.name: r.state for r in watch.latest()}
    assert states == {n: ("ok" if o == "ok" else "failed") for n, o in outcomes.items()}
    if outcomes.get("db") == "crash":
        assert watch.latest()[0].detail == "ConnectionResetError: peer reset"


async def test_heartbeats_grace_then_stale_then_fresh(clock) -> None:
    beats = ConsoleHeartbeats(clock, max_age=timedelta(seconds=30))
    watch = HealthWatch([beats], clock)
    assert (await watch.run_round()).verdict is Verdict.INCONCLUSIVE  # just started
    clock.advance(31)
    r = await watch.run_round()
    assert r.verdict is Verdict.FAILING and "never" in r.results[0].detail
    beats.heartbeat("console")
    beats.heartbeat("alice-browser")
    assert (await watch.run_round()).verdict is Verdict.HEALTHY
    assert beats.fresh_sources() == ["alice-browser", "console"]
    clock.advance(45)
    r = await watch.run_round()
    assert r.verdict is Verdict.FAILING and "45 s ago" in r.results[0].detail


async def test_heartbeats_received_by_other_console_processes_count(clock) -> None:
    """Consoles on console-only processes: the leader's own websockets carry no heartbeat,
    the shared presence does; when that view is down, the local beats decide alone."""
    remote: dict[str, object] = {}
    down = False

    async def elsewhere() -> dict[str, object]:
        if down:
            raise ConnectionError("redis unreachable")
        return dict(remote)

    beats = ConsoleHeartbeats(clock, max_age=timedelta(seconds=30), elsewhere=elsewhere)  # type: ignore[arg-type]
    watch = HealthWatch([beats], clock)
    clock.advance(31)
    assert (await watch.run_round()).verdict is Verdict.FAILING
    remote["console:alice"] = clock()
    result = await watch.run_round()
    assert result.verdict is Verdict.HEALTHY and result.results[0].detail == "1 console(s) alive"
    # An older beat from elsewhere never replaces a newer local one.
    beats.heartbeat("console:bob")
    remote["console:bob"] = clock() - timedelta(seconds=60)
    assert beats.fresh_sources() == ["console:alice", "console:bob"]
    await watch.run_round()
    assert beats.fresh_sources() == ["console:alice", "console:bob"]
    # Other processes stop reporting (their consoles closed): stale after max_age.
    remote.clear()
    clock.advance(31)
    assert (await watch.run_round()).verdict is Verdict.FAILING
    down = True
    beats.heartbeat("console:carol")
    assert (await watch.run_round()).verdict is Verdict.HEALTHY


async def test_ready_agents(pbx) -> None:
    probe_ = ReadyAgentsProbe(pbx, min_ready=1)
    pbx.members["hotline-main"] = [
        QueueMemberState("hotline-main", "alice", "PJSIP/1001", True, False, 1),  # paused
        QueueMemberState("hotline-main", "bob", "PJSIP/1002", False, False, 5),  # unavailable
    ]
    with pytest.raises(HealthCheckFailed, match="0 ready of 2"):
        await probe_.check()
    pbx.members["hotline-main"].append(
        QueueMemberState("hotline-main", "carol", "PJSIP/1004", False, True, 2)  # in a call
    )
    assert await probe_.check() == "1 ready of 3 member(s) in hotline-main"


async def test_ready_agents_is_inconclusive_without_the_pbx(pbx, clock) -> None:
    pbx.connected = False
    [result] = (await HealthWatch([ReadyAgentsProbe(pbx)], clock).run_round()).results
    assert result.state == "unknown"


async def test_ready_agents_pbx_error_is_a_failure(pbx, clock) -> None:
    async def refuse(queue=None):
        raise AmiActionError("QueueStatus", "No such queue")

    pbx.queue_status = refuse
    [result] = (await HealthWatch([ReadyAgentsProbe(pbx)], clock).run_round()).results
    assert result.state == "failed" and "No such queue" in result.detail


def test_probe_names_must_be_unique(clock) -> None:
    with pytest.raises(ValueError):
        HealthWatch([probe("db", "ok"), probe("db", "ok")], clock)


async def test_a_check_that_hangs_through_its_cancellation_is_not_piled_up(clock) -> None:
    release = asyncio.Event()
    started = 0

    async def stubborn() -> str:
        nonlocal started
        started += 1
        if started == 1:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                await release.wait()  # cleanup on a dead socket: ignores the cancel for a while
                raise
        return "fine"

    mono = [0.0]
    watch = HealthWatch(
        [CallableProbe("db", stubborn, timeout=0.05)], clock, monotonic=lambda: mono[0]
    )
    first = await asyncio.wait_for(watch.run_round(), 2)
    assert first.results[0].detail == "no answer within 0.05 s"
    mono[0] += 1
    second = await asyncio.wait_for(watch.run_round(), 2)
    assert "still hanging" in second.results[0].detail and started == 1
    mono[0] += 60  # stuck far longer than its timeout: give up on it, try afresh
    third = await asyncio.wait_for(watch.run_round(), 2)
    assert third.verdict is Verdict.HEALTHY and started == 2
    release.set()
    await asyncio.sleep(0.01)


async def test_ready_agents_start_up_grace(pbx, clock) -> None:
    from fallback.errors import HealthCheckInconclusive

    probe_ = ReadyAgentsProbe(pbx, clock=clock, grace=timedelta(seconds=60))
    with pytest.raises(HealthCheckInconclusive, match="grace"):
        await probe_.check()
    clock.advance(61)
    with pytest.raises(HealthCheckFailed, match="0 ready of 0"):
        await probe_.check()
