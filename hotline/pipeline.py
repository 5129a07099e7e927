"""Delivering the call tracker's domain events to the async services.

The tracker is synchronous and publishes from inside the AMI read path; the services
(tickets, screen-pop, emergency journal, wallboard) do I/O. This pipeline decouples
them: events of one call are handled strictly in order (the ticket must exist before
the screen-pop that shows it), different calls concurrently (one slow database write
does not hold up another caller's pop).

A handler that fails with a retryable error (the store is unavailable) is retried with
back-off for that event before the call moves on, so a short database outage delays a
call record instead of losing it; any other exception is logged with the call id and
the next handler still runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from calls import CallEnded, DomainCallEvent

log = logging.getLogger(__name__)

CallEventHandler = Callable[[DomainCallEvent], Awaitable[None]]


@dataclass
class PipelineStats:
    handled: int = 0
    failed: int = 0
    retried: int = 0
    gave_up: int = 0
    handler_errors: dict[str, int] = field(default_factory=dict)


class CallEventPipeline:
    def __init__(
        self,
        handlers: Sequence[tuple[str, CallEventHandler]],
        *,
        retryable: tuple[type[BaseException], ...] = (),
        retry_initial: float = 0.2,
        retry_max: float = 10.0,
        retry_for: float = 900.0,
    ) -> None:
        self.handlers = list(handlers)
        self.retryable = retryable
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.retry_for = retry_for
        self._queues: dict[str, asyncio.Queue[DomainCallEvent]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self.stats = PipelineStats()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    def add_handler(self, name: str, handler: CallEventHandler) -> None:
        self.handlers.append((name, handler))

    def submit(self, event: DomainCallEvent) -> None:
        """Called synchronously by the tracker; never blocks, never raises."""
        if self._closed:
            log.error("call %s: pipeline closed, dropping %s", event.call_id, type(event).__name__)
            return
        queue = self._queues.get(event.call_id)
        if queue is None:
            queue = self._queues[event.call_id] = asyncio.Queue()
            self._workers[event.call_id] = asyncio.get_running_loop().create_task(
                self._work(event.call_id, queue), name=f"call-{event.call_id}"
            )
            self._idle.clear()
        queue.put_nowait(event)

    async def _work(self, call_id: str, queue: asyncio.Queue[DomainCallEvent]) -> None:
        try:
            while True:
                try:
                    # Linger briefly after the last event: a call's events come in bursts.
                    event = await asyncio.wait_for(queue.get(), 30.0)
                except TimeoutError:
                    if queue.empty():
                        return
                    continue
                for name, handler in self.handlers:
                    await self._run(name, handler, event)
                self.stats.handled += 1
                if isinstance(event, CallEnded) and queue.empty():
                    return
        finally:
            if self._queues.get(call_id) is queue:
                del self._queues[call_id]
                del self._workers[call_id]
            if not self._workers:
                self._idle.set()

    async def _run(self, name: str, handler: CallEventHandler, event: DomainCallEvent) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_for
        delay = self.retry_initial
        while True:
            try:
                await handler(event)
                return
            except asyncio.CancelledError:
                raise
            except self.retryable as exc:
                if loop.time() >= deadline:
                    self.stats.gave_up += 1
                    log.error(
                        "call %s: %s gave up on %s after %.0f s: %s",
                        event.call_id,
                        name,
                        type(event).__name__,
                        self.retry_for,
                        exc,
                    )
                    return
                self.stats.retried += 1
                log.warning(
                    "call %s: %s failed on %s (%s); retrying in %.1f s",
                    event.call_id,
                    name,
                    type(event).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
            except Exception:
                self.stats.failed += 1
                self.stats.handler_errors[name] = self.stats.handler_errors.get(name, 0) + 1
                log.exception("call %s: %s failed on %s", event.call_id, name, type(event).__name__)
                return

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every submitted event has been handled."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    @property
    def active_calls(self) -> int:
        return len(self._workers)

    def pending_call_ids(self) -> frozenset[str]:
        """Calls whose events are still being handled (their records are on the way)."""
        return frozenset(self._workers)

    async def stop(self, timeout: float = 10.0) -> None:
        self._closed = True
        with contextlib.suppress(TimeoutError):
            await self.drain(timeout)
        for task in list(self._workers.values()):
            task.cancel()
        for task in list(self._workers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
