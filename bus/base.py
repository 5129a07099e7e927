"""The bus port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

Message = dict[str, Any]


class Subscription(Protocol):
    """An open subscription: iterate it for messages, close it when done."""

    def __aiter__(self) -> AsyncIterator[Message]: ...

    async def close(self) -> None: ...


class MessageBus(Protocol):
    async def publish(self, topic: str, message: Message) -> None:
        """Deliver `message` (JSON-able) to every current subscriber of `topic`."""
        ...

    async def subscribe(self, *topics: str) -> Subscription:
        """Subscribe to one or more topics; messages published afterwards are delivered."""
        ...

    async def close(self) -> None: ...
