"""The message bus as a component: `build(settings)` picks Redis pub/sub when
`HOTLINE_REDIS_URL` is set and the in-process bus otherwise. It runs everywhere: Redis
is connected at start, so that `/healthz` describes the link from then on (its entry is
`redis`), and every bus is closed at stop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from bus.base import MessageBus
from bus.inprocess import InProcessBus
from bus.redis import RedisBus


class BusSettings(Protocol):
    """The settings the bus reads (`hotline.settings.Settings` has them)."""

    @property
    def redis_url(self) -> str | None: ...
    @property
    def redis_prefix(self) -> str: ...


class BusLink:
    """Everywhere: the bus, connected at start (Redis) and closed at stop."""

    name = "bus"
    leader_only = False

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus

    async def start(self) -> None:
        if isinstance(self.bus, RedisBus):
            await self.bus.start()

    async def stop(self) -> None:
        await self.bus.close()

    def health_entries(self) -> Mapping[str, Callable[[], str | Mapping[str, Any]]]:
        return {"redis": self.health}

    def health(self) -> str | Mapping[str, Any]:
        """`/healthz`'s redis entry: the link's state, or `not_configured` without Redis."""
        return self.bus.state() if isinstance(self.bus, RedisBus) else "not_configured"


def build(settings: BusSettings) -> BusLink:
    redis_url = settings.redis_url
    bus = RedisBus(redis_url, prefix=settings.redis_prefix) if redis_url else InProcessBus()
    return BusLink(bus)
