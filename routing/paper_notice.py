"""The answering agent's console shows the emergency paper number of their call."""

from __future__ import annotations

import asyncio
import logging

from bus import MessageBus
from bus.topics import user_topic
from routing.console_messages import PaperNumber
from routing.fanout import ConsoleFanout

log = logging.getLogger(__name__)


class PaperNumberToAgent:
    """`fallback.ports.PaperNumberNotice`: the answering agent's console shows the number."""

    def __init__(self, fanout: ConsoleFanout, bus: MessageBus, lookup_timeout: float = 1.0) -> None:
        self.fanout = fanout
        self.bus = bus
        self.lookup_timeout = lookup_timeout
        self._sending: set[asyncio.Task[None]] = set()

    async def __call__(
        self,
        *,
        interface: str,
        member_name: str,
        call_id: str,
        paper_number: str,
        caller_number: str,
    ) -> None:
        # Returns at once: the emergency journal worker awaits this, and the user lookup
        # needs the database, which is exactly what is down in emergency mode.
        task = asyncio.get_running_loop().create_task(
            self._send(interface, member_name, call_id, paper_number, caller_number)
        )
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(
        self,
        interface: str,
        member_name: str,
        call_id: str,
        paper_number: str,
        caller_number: str,
    ) -> None:
        username: str | None = None
        try:
            async with asyncio.timeout(self.lookup_timeout):
                username = await self.fanout.username_for(interface)
        except Exception as exc:  # database down: the member name is the best we have
            log.warning(
                "call %s: no user for %s (%r); using %s", call_id, interface, exc, member_name
            )
        username = username or member_name
        try:
            await self._publish(username, call_id, paper_number, caller_number)
        except Exception:
            log.exception(
                "call %s: paper number %s not sent to %s", call_id, paper_number, username
            )

    async def _publish(
        self, username: str, call_id: str, paper_number: str, caller_number: str
    ) -> None:
        message = PaperNumber(call_id, paper_number, caller_number)
        await self.bus.publish(user_topic(username), message.as_message())
