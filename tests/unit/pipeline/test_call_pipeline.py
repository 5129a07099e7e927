"""The one path of call events: per stage and per call in order, stages and calls
independent, retries as each stage declares, origins, fencing, and draining."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from calls import CallEnded, CallQueued, CallStarted, DomainCallEvent
from pipeline import CallPipeline, Origin, RetryPolicy, Stage
from testkit.call_snapshots import call_snapshot

T0 = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)


class StoreDown(Exception):
    pass


def events(call_id: str) -> list[DomainCallEvent]:
    snap = call_snapshot(call_id, T0)
    return [CallStarted(snap, T0), CallQueued(snap, T0, 1), CallEnded(snap, T0)]


class Recorder:
    """A stage handler recording what it saw; it can fail a number of times first."""

    def __init__(self, *, failures: int = 0, error: type[Exception] = StoreDown) -> None:
        self.seen: list[tuple[str, str]] = []
        self.failures = failures
        self.error = error
        self.gate: asyncio.Event | None = None

    async def __call__(self, event: DomainCallEvent) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise self.error("down")
        self.seen.append((event.call_id, type(event).__name__))


FAST = RetryPolicy(retryable=(StoreDown,), initial=0.001, longest=0.002)


async def test_each_stage_sees_each_call_in_order() -> None:
    a, b = Recorder(), Recorder()
    pipe = CallPipeline([Stage("b", 20, b), Stage("a", 10, a)])
    for call in ("c1", "c2"):
        for event in events(call):
            pipe.submit(event)
    await pipe.drain(5)
    for rec in (a, b):
        for call in ("c1", "c2"):
            assert [k for c, k in rec.seen if c == call] == [
                "CallStarted",
                "CallQueued",
                "CallEnded",
            ]
    assert [s.name for s in pipe.stages] == ["a", "b"]  # ordered by `order`
    assert pipe.backlog == 0 and pipe.stats.handled == 12


async def test_a_stage_that_waits_holds_up_neither_other_stages_nor_other_calls() -> None:
    stuck, journal = Recorder(), Recorder()
    stuck.gate = asyncio.Event()  # the database does not answer
    pipe = CallPipeline([Stage("tickets", 10, stuck), Stage("journal", 30, journal)])
    for event in events("c1"):
        pipe.submit(event)
    await pipe.settled("journal", 5)
    assert [k for _, k in journal.seen] == ["CallStarted", "CallQueued", "CallEnded"]
    assert stuck.seen == [] and pipe.backlog == 3
    assert pipe.pending_call_ids("tickets") == {"c1"}
    stuck.gate.set()
    await pipe.drain(5)
    assert len(stuck.seen) == 3


async def test_retry_without_give_up_keeps_the_event_and_the_order() -> None:
    tickets = Recorder(failures=25)
    pipe = CallPipeline([Stage("tickets", 10, tickets, retry=FAST)])
    for event in events("c1"):
        pipe.submit(event)
    await pipe.drain(10)
    assert [k for _, k in tickets.seen] == ["CallStarted", "CallQueued", "CallEnded"]
    assert pipe.stats.retried == 25 and pipe.stats.gave_up == 0


async def test_give_up_drops_only_that_stage_s_event() -> None:
    pop = Recorder(failures=1000)
    pipe = CallPipeline(
        [Stage("screen-pop", 10, pop, retry=RetryPolicy((StoreDown,), 0.001, 0.002, 0.02))]
    )
    pipe.submit(events("c1")[1])
    await pipe.settled("screen-pop", 5)
    assert pop.seen == [] and pipe.stats.gave_up == 1 and pipe.backlog == 0


async def test_an_unexpected_error_is_logged_and_the_call_moves_on() -> None:
    broken = Recorder(failures=1, error=RuntimeError)
    pipe = CallPipeline([Stage("wallboard", 40, broken, retry=FAST)])
    for event in events("c1"):
        pipe.submit(event)
    await pipe.drain(5)
    assert [k for _, k in broken.seen] == ["CallQueued", "CallEnded"]
    assert pipe.stats.stage_errors == {"wallboard": 1}


@pytest.mark.parametrize(
    ("origin", "expected"),
    [(Origin.LIVE, {"tickets", "screen-pop"}), (Origin.CDR, {"tickets"})],
)
async def test_events_reach_the_stages_that_take_their_origin(
    origin: Origin, expected: set[str]
) -> None:
    seen: dict[str, Recorder] = {"tickets": Recorder(), "screen-pop": Recorder()}
    pipe = CallPipeline(
        [
            Stage("tickets", 10, seen["tickets"], origins=frozenset(Origin)),
            Stage("screen-pop", 5, seen["screen-pop"]),
        ]
    )
    pipe.submit(events("c9")[2], origin)
    await pipe.drain(5)
    assert {name for name, rec in seen.items() if rec.seen} == expected


async def test_a_stage_gets_only_the_event_types_it_takes() -> None:
    picky, every = Recorder(), Recorder()
    pipe = CallPipeline(
        [
            Stage("tickets", 10, picky, events=(CallQueued, CallEnded)),
            Stage("journal", 30, every),
        ]
    )
    for event in events("c1"):
        pipe.submit(event)
    await pipe.drain(5)
    assert [k for _, k in picky.seen] == ["CallQueued", "CallEnded"]
    assert [k for _, k in every.seen] == ["CallStarted", "CallQueued", "CallEnded"]
    assert pipe.backlog == 0 and pipe.stats.handled == 5


def test_a_stage_that_takes_some_events_takes_call_ended() -> None:
    with pytest.raises(ValueError, match="CallEnded"):
        Stage("tickets", 10, Recorder(), events=(CallQueued,))


async def test_only_leader_stages_are_fenced() -> None:
    fenced: list[str] = []

    def fence(
        handler: Callable[[DomainCallEvent], Awaitable[None]],
    ) -> Callable[[DomainCallEvent], Awaitable[None]]:
        async def guarded(event: DomainCallEvent) -> None:
            fenced.append(event.call_id)
            await handler(event)

        return guarded

    tickets, wallboard = Recorder(), Recorder()
    pipe = CallPipeline(
        [Stage("tickets", 10, tickets, leader_only=True), Stage("wallboard", 40, wallboard)],
        fence=fence,
    )
    pipe.submit(events("c1")[0])
    await pipe.settled("tickets", 5)
    await pipe.settled("wallboard", 5)
    assert fenced == ["c1"] and tickets.seen and wallboard.seen
    pipe.submit(events("c1")[2])
    await pipe.drain(5)
    assert fenced == ["c1", "c1"] and len(wallboard.seen) == 2
    assert pipe.active_calls == 0


async def test_a_live_call_between_its_events_holds_no_task() -> None:
    tickets = Recorder()
    pipe = CallPipeline([Stage("tickets", 10, tickets)])
    started, queued, *rest = events("live")
    pipe.submit(started)
    pipe.submit(queued)
    await pipe.settled("tickets", 5)
    await asyncio.sleep(0)  # the worker's last step: it finds the lane empty and ends
    # Talking: no lane, no worker task, nothing pending.
    assert pipe.active_calls == 0 and pipe.pending_call_ids() == frozenset()
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("tickets-")]
    for event in rest:  # the next event starts a new worker; the order is kept
        pipe.submit(event)
    assert pipe.pending_call_ids("tickets") == {"live"}
    await pipe.drain(5)
    assert [k for _, k in tickets.seen] == [type(e).__name__ for e in (started, queued, *rest)]


def test_stage_names_are_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        CallPipeline([Stage("a", 1, Recorder()), Stage("a", 2, Recorder())])


async def test_a_closed_pipeline_drops_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    pipe = CallPipeline([Stage("a", 1, rec)])
    await pipe.stop()
    pipe.submit(events("c1")[0])
    assert rec.seen == [] and pipe.backlog == 0
    assert "pipeline closed" in caplog.text


async def test_stop_with_a_live_call_ends_once_its_events_are_handled() -> None:
    tickets = Recorder()
    pipe = CallPipeline([Stage("tickets", 10, tickets)])
    for event in events("live")[:2]:  # no CallEnded: the call is still up
        pipe.submit(event)
    await pipe.settled("tickets", 5)
    # The call is still up, but nothing is left to wait for.
    await asyncio.wait_for(pipe.stop(timeout=10), 2)
    assert [k for _, k in tickets.seen] == ["CallStarted", "CallQueued"]
    assert pipe.active_calls == 0


async def test_stop_waits_for_the_events_still_being_handled() -> None:
    tickets = Recorder()
    tickets.gate = asyncio.Event()
    pipe = CallPipeline([Stage("tickets", 10, tickets)])
    for event in events("live")[:2]:
        pipe.submit(event)
    stopping = asyncio.create_task(pipe.stop(timeout=10))
    await asyncio.sleep(0.05)
    assert not stopping.done()  # the database has not answered yet
    tickets.gate.set()
    await asyncio.wait_for(stopping, 5)
    assert [k for _, k in tickets.seen] == ["CallStarted", "CallQueued"]
