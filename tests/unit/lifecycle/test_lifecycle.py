"""The lifecycle of components: order, roll-back on a failed start, elections."""

from __future__ import annotations

import asyncio

import pytest

from cluster import SoleLeader
from lifecycle import Lifecycle, Resource, TaskLoop


class Part:
    def __init__(self, name: str, log: list[str], *, leader_only: bool = False) -> None:
        self.name = name
        self.leader_only = leader_only
        self.log = log
        self.fail_start = False
        self.fail_stop = False

    async def start(self) -> None:
        self.log.append(f"start {self.name}")
        if self.fail_start:
            raise RuntimeError(f"{self.name} cannot start")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        if self.fail_stop:
            raise RuntimeError(f"{self.name} cannot stop")


def parts(log: list[str]) -> tuple[Part, Part, Part, Part]:
    return (
        Part("a", log),
        Part("b", log),
        Part("x", log, leader_only=True),
        Part("y", log, leader_only=True),
    )


async def test_everywhere_in_order_leader_only_at_each_election() -> None:
    log: list[str] = []
    lifecycle = Lifecycle(parts(log))
    await lifecycle.start()
    assert log == ["start a", "start b"]
    await lifecycle.elected(7)
    assert lifecycle.running() == ["a", "b", "x", "y"]
    await lifecycle.demoted("lease lost")
    await lifecycle.elected(8)  # leading again: started again
    await lifecycle.stop()
    assert log == [
        "start a", "start b",
        "start x", "start y",
        "stop y", "stop x",
        "start x", "start y",
        "stop b", "stop a", "stop y", "stop x",
    ]  # fmt: skip
    assert lifecycle.running() == [] and not lifecycle.leading


async def test_a_failed_start_stops_what_started_and_raises() -> None:
    log: list[str] = []
    a, b, x, y = parts(log)
    c = Part("c", log)
    c.fail_start = True
    lifecycle = Lifecycle([a, b, c, x, y])
    with pytest.raises(RuntimeError, match="c cannot start"):
        await lifecycle.start()
    assert log == ["start a", "start b", "start c", "stop b", "stop a"]


async def test_a_failing_stop_does_not_keep_the_others_running() -> None:
    log: list[str] = []
    a, b, x, y = parts(log)
    b.fail_stop = True
    lifecycle = Lifecycle([a, b, x, y])
    await lifecycle.start()
    await lifecycle.stop()
    assert log[-2:] == ["stop b", "stop a"]


async def test_a_demotion_without_a_lead_is_harmless() -> None:
    log: list[str] = []
    lifecycle = Lifecycle(parts(log))
    await lifecycle.demoted("never led")
    assert log == []


async def test_the_sole_leader_elects_at_start_and_demotes_at_stop() -> None:
    log: list[str] = []
    a, b, x, y = parts(log)
    leadership = SoleLeader()
    lifecycle = Lifecycle([a, leadership, b, x, y])
    leadership.subscribe(lifecycle)
    await lifecycle.start()
    assert log == ["start a", "start x", "start y", "start b"]
    assert lifecycle.token == 0
    await lifecycle.stop()
    # The leader's part stops where leadership sits in the order.
    assert log[4:] == ["stop b", "stop y", "stop x", "stop a"]


async def test_a_leader_loop_runs_while_leading_and_is_cancelled_at_demotion() -> None:
    rounds = 0

    async def run() -> None:
        nonlocal rounds
        while True:
            rounds += 1
            await asyncio.sleep(0.001)

    loop = TaskLoop("sweep", run)
    lifecycle = Lifecycle([loop])
    await lifecycle.start()
    assert not loop.running
    await lifecycle.elected(1)
    await asyncio.sleep(0.02)
    assert loop.running and rounds > 0
    await lifecycle.demoted("test")
    assert not loop.running
    seen = rounds
    await asyncio.sleep(0.01)
    assert rounds == seen


async def test_a_resource_opens_and_closes() -> None:
    log: list[str] = []

    async def opening() -> None:
        log.append("open")

    async def closing() -> None:
        log.append("close")

    lifecycle = Lifecycle([Resource("db", close=closing, open=opening), Resource("c", closing)])
    await lifecycle.start()
    await lifecycle.stop()
    assert log == ["open", "close", "close"]


async def test_a_leader_only_resource_runs_from_election_to_demotion() -> None:
    log: list[str] = []

    async def opening() -> None:
        log.append("open")

    async def closing() -> None:
        log.append("close")

    lifecycle = Lifecycle([Resource("pager", close=closing, open=opening, leader_only=True)])
    await lifecycle.start()
    assert log == []
    await lifecycle.elected(1)
    await lifecycle.demoted("lost the lease")
    await lifecycle.stop()
    assert log == ["open", "close"]


class Listener:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    async def elected(self, token: int) -> None:
        self.log.append(f"{self.name} elected {token}")

    async def demoted(self, reason: str) -> None:
        self.log.append(f"{self.name} demoted")


async def test_the_sole_leader_tells_listeners_in_order_and_in_reverse() -> None:
    log: list[str] = []
    leadership = SoleLeader()
    leadership.subscribe(Listener("first", log))
    leadership.subscribe(Listener("second", log))
    await leadership.start()
    await leadership.stop()
    await leadership.stop()  # once only
    assert log == ["first elected 0", "second elected 0", "second demoted", "first demoted"]
