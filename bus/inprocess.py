"""In-process bus: one asyncio.Queue per subscription, bounded so a stuck console can't
grow memory without limit (oldest messages are dropped and counted)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator

from bus.base import Message

log = logging.getLogger(__name__)


class InProcessSubscription:
    def __init__(self, bus: InProcessBus, topics: tuple[str, ...], maxsize: int) -> None:
        self._bus = bus
        self.topics = topics
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize)
        self.dropped = 0
        self._closed = False

    def deliver(self, message: Message) -> None:
        if self._closed:
            return
        if self.queue.full():
            # Drop the oldest: a console that stopped reading must not stall the publisher.
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(message)

    async def __aiter__(self) -> AsyncIterator[Message]:
        while True:
            message = await self.queue.get()
            if message is None:
                return
            yield message

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._bus._remove(self)
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class InProcessBus:
    def __init__(self, *, max_pending: int = 1000) -> None:
        self._subs: dict[str, set[InProcessSubscription]] = defaultdict(set)
        self._max_pending = max_pending

    async def publish(self, topic: str, message: Message) -> None:
        for sub in tuple(self._subs.get(topic, ())):
            sub.deliver(message)

    async def subscribe(self, *topics: str) -> InProcessSubscription:
        sub = InProcessSubscription(self, topics, self._max_pending)
        for topic in topics:
            self._subs[topic].add(sub)
        return sub

    def _remove(self, sub: InProcessSubscription) -> None:
        for topic in sub.topics:
            subs = self._subs.get(topic)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[topic]

    def subscriber_count(self, topic: str) -> int:
        return len(self._subs.get(topic, ()))

    async def close(self) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                await sub.close()
