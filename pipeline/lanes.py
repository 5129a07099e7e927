"""The one path of call events: every stage gets every event, in order per call.

The call tracker is synchronous and publishes from inside the AMI read path; the stages
(tickets and call records, screen-pop, emergency journal, wallboard) do I/O. For each
stage and each call there is a lane: a queue and a worker that hands the stage that
call's events one by one, retrying as the stage's `RetryPolicy` says. Lanes of one call
are independent (the emergency journal never waits for a ticket write the database
cannot take), and so are the lanes of different calls (one slow write does not hold up
another caller's pop). A lane's worker runs only while the lane has events: it ends when
the queue is empty, and the call's next event starts another. A call that talks for
twenty minutes between its answer and its end holds no task meanwhile: hundreds of live
calls leave nothing behind for the garbage collector to scan on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from calls import DomainCallEvent
from pipeline.spool import EventSpool, Spooled
from pipeline.stage import CallEventHandler, Origin, Stage

log = logging.getLogger(__name__)

# A spooling stage's event not handled within this many seconds goes to the spool (and
# the call's events behind it): a crash while the database hangs loses none of them.
SPOOL_AFTER = 1.0

Fence = Callable[[CallEventHandler], CallEventHandler]
# An event on a lane, with its spool id once it is spooled.
_Item = tuple[DomainCallEvent, int | None]


@dataclass
class PipelineStats:
    handled: int = 0
    failed: int = 0
    retried: int = 0
    gave_up: int = 0
    stage_errors: dict[str, int] = field(default_factory=dict)


class CallPipeline:
    def __init__(
        self,
        stages: Iterable[Stage],
        *,
        fence: Fence | None = None,
        spool: EventSpool | None = None,
    ) -> None:
        """`fence` wraps the handler of every leader-only stage (the cluster's fencing:
        a deposed leader's late write is refused). `spool` keeps the events that spooling
        stages are retrying on disk (`replay` hands them back after a restart)."""
        self.spool = spool
        self.stages = sorted(stages, key=lambda s: s.order)
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique: {names}")
        self._handlers = {
            s.name: fence(s.handle) if fence is not None and s.leader_only else s.handle
            for s in self.stages
        }
        self._lanes: dict[tuple[str, str], asyncio.Queue[_Item]] = {}
        self._workers: dict[tuple[str, str], asyncio.Task[None]] = {}
        # Events submitted and not yet handled, per stage; a stage is settled at zero.
        self._unfinished = {s.name: 0 for s in self.stages}
        self._settled = {s.name: asyncio.Event() for s in self.stages}
        for event in self._settled.values():
            event.set()
        self._idle = asyncio.Event()  # no lane open: every call's lanes ended
        self._idle.set()
        self.stats = PipelineStats()
        self._closed = False

    def submit(self, event: DomainCallEvent, origin: Origin = Origin.LIVE) -> None:
        """Hand `event` to every stage that takes events of `origin`. Called synchronously
        by the tracker: never blocks, never raises."""
        if self._closed:
            log.error("call %s: pipeline closed, dropping %s", event.call_id, type(event).__name__)
            return
        for stage in self.stages:
            if stage.takes(event, origin):
                self._put(stage, event, None)

    def replay(self, spooled: Iterable[Spooled]) -> int:
        """Hand spooled events back to their stages, in their order; returns how many."""
        by_name = {s.name: s for s in self.stages}
        count = 0
        for item in spooled:
            stage = by_name.get(item.stage)
            if stage is None:
                log.error("spooled event for unknown stage %r dropped", item.stage)
                continue
            self._put(stage, item.event, item.id)
            count += 1
        return count

    def _put(self, stage: Stage, event: DomainCallEvent, spool_id: int | None) -> None:
        self._lane(stage, event.call_id).put_nowait((event, spool_id))
        self._unfinished[stage.name] += 1
        self._settled[stage.name].clear()

    def _lane(self, stage: Stage, call_id: str) -> asyncio.Queue[_Item]:
        key = (stage.name, call_id)
        queue = self._lanes.get(key)
        if queue is None:
            queue = self._lanes[key] = asyncio.Queue()
            self._workers[key] = asyncio.get_running_loop().create_task(
                self._work(stage, key, queue), name=f"{stage.name}-{call_id}"
            )
            self._idle.clear()
        return queue

    async def _work(self, stage: Stage, key: tuple[str, str], queue: asyncio.Queue[_Item]) -> None:
        """Hand the lane's events to the stage until the queue is empty. The check and
        the lane's removal happen with no await between them: an event submitted later
        finds no lane and starts a new worker, never one that is finishing."""
        try:
            while not queue.empty():
                event, spool_id = queue.get_nowait()
                try:
                    await self._run(stage, event, spool_id, queue)
                    self.stats.handled += 1
                finally:
                    self._done(stage.name, 1)
        finally:
            if self._lanes.get(key) is queue:
                del self._lanes[key]
                del self._workers[key]
                self._done(stage.name, queue.qsize())  # cancelled with events left
            if not self._workers:
                self._idle.set()

    def _done(self, stage: str, count: int) -> None:
        self._unfinished[stage] -= count
        if self._unfinished[stage] <= 0:
            self._unfinished[stage] = 0
            self._settled[stage].set()

    async def _spool_waiting(self, stage: Stage, queue: asyncio.Queue[_Item]) -> None:
        """The call's events queued behind one being retried go to the spool as well: a
        crash during a long outage must lose none of them, not only the first."""
        assert self.spool is not None
        waiting = _take_all(queue)
        spooled: list[_Item] = []
        for event, spool_id in waiting:
            if spool_id is None:
                spool_id = await self.spool.add(stage.name, event)
            spooled.append((event, spool_id))
        # Events submitted meanwhile come after, in their order (no await from here on).
        for item in [*spooled, *_take_all(queue)]:
            queue.put_nowait(item)

    async def _spooling_meanwhile(
        self,
        stage: Stage,
        event: DomainCallEvent,
        held: list[int | None],
        queue: asyncio.Queue[_Item],
        step: Awaitable[None],
    ) -> None:
        """Await `step` (an attempt at `event`, or the pause before the next one); every
        `SPOOL_AFTER` seconds it takes, spool `event` (its id kept in `held[0]`) and the
        call's events queued behind it: a hung database answers nothing for minutes, and
        a crash meanwhile must lose none of them. A quick step spools nothing."""
        spool = self.spool
        assert spool is not None
        loop = asyncio.get_running_loop()
        spooling: asyncio.Task[None] | None = None
        timer: asyncio.TimerHandle | None = None

        async def spool_now() -> None:
            if held[0] is None:
                held[0] = await spool.add(stage.name, event)
            await self._spool_waiting(stage, queue)

        def due() -> None:
            nonlocal spooling, timer
            if spooling is None or spooling.done():
                spooling = loop.create_task(spool_now())
            timer = loop.call_later(SPOOL_AFTER, due)

        # A timer, not a task around the step: nearly every step is quick, and this runs
        # for every event of a spooling stage.
        timer = loop.call_later(SPOOL_AFTER, due)
        failure: Exception | None = None
        try:
            await step
        except asyncio.CancelledError:
            if spooling is not None:
                spooling.cancel()
            raise
        except Exception as exc:  # raised once the spooling under way has its id
            failure = exc
        finally:
            timer.cancel()  # the last one `due` set
        if spooling is not None:
            await spooling
        if failure is not None:
            raise failure

    async def _run(
        self,
        stage: Stage,
        event: DomainCallEvent,
        spool_id: int | None,
        queue: asyncio.Queue[_Item] | None = None,
    ) -> None:
        handler = self._handlers[stage.name]
        policy = stage.retry
        loop = asyncio.get_running_loop()
        started = loop.time()
        delay = policy.initial
        spooling = stage.spool and self.spool is not None and queue is not None
        held: list[int | None] = [spool_id]
        while True:
            try:
                if spooling:
                    assert queue is not None
                    try:
                        await self._spooling_meanwhile(stage, event, held, queue, handler(event))
                    finally:
                        spool_id = held[0]
                else:
                    await handler(event)
                break
            except asyncio.CancelledError:
                raise  # a spooled event stays spooled: the next start replays it
            except policy.retryable as exc:
                if stage.spool and self.spool is not None:
                    if spool_id is None:
                        spool_id = held[0] = await self.spool.add(stage.name, event)
                    if queue is not None:
                        await self._spool_waiting(stage, queue)
                waited = loop.time() - started
                if policy.give_up_after is not None and waited >= policy.give_up_after:
                    self.stats.gave_up += 1
                    log.error(
                        "call %s: %s gave up on %s after %.0f s: %s",
                        event.call_id,
                        stage.name,
                        type(event).__name__,
                        waited,
                        exc,
                    )
                    break
                self.stats.retried += 1
                log.warning(
                    "call %s: %s failed on %s (%s); retrying in %.1f s",
                    event.call_id,
                    stage.name,
                    type(event).__name__,
                    exc,
                    delay,
                )
                if spooling:
                    assert queue is not None
                    pause = asyncio.sleep(delay)
                    await self._spooling_meanwhile(stage, event, held, queue, pause)
                else:
                    await asyncio.sleep(delay)
                delay = min(delay * 2, policy.longest)
            except Exception:
                self.stats.failed += 1
                errors = self.stats.stage_errors
                errors[stage.name] = errors.get(stage.name, 0) + 1
                log.exception(
                    "call %s: %s failed on %s", event.call_id, stage.name, type(event).__name__
                )
                break
        if spool_id is not None and self.spool is not None:
            await self.spool.done(spool_id)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until the pipeline is idle: every event submitted so far handled, and
        every lane's worker ended."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def _all_settled(self) -> None:
        for event in self._settled.values():
            await event.wait()

    async def settled(self, stage: str, timeout: float | None = None) -> None:
        """Wait until `stage` has handled every event submitted to it so far."""
        await asyncio.wait_for(self._settled[stage].wait(), timeout)

    @property
    def backlog(self) -> int:
        """Events submitted that some stage has not handled yet."""
        return sum(self._unfinished.values())

    @property
    def active_calls(self) -> int:
        """Calls with an event some stage has not finished with."""
        return len({call_id for _, call_id in self._workers})

    def pending_call_ids(self, stage: str | None = None) -> frozenset[str]:
        """Calls with events waiting or being handled in `stage` (any stage: None)."""
        return frozenset(c for name, c in self._workers if stage is None or name == stage)

    async def stop(self, timeout: float = 10.0) -> None:
        """Refuse new events, give the ones submitted up to `timeout` to be handled, then
        end every lane (the spooled events of a stage still retrying stay spooled)."""
        self._closed = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_settled(), timeout)
        for task in list(self._workers.values()):
            task.cancel()
        for task in list(self._workers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _take_all(queue: asyncio.Queue[_Item]) -> list[_Item]:
    items: list[_Item] = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
