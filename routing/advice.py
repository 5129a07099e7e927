"""Routing advice for the IVR: `ivr.ports.RoutingAdvisorPort` over `routing.router.CallRouter`.

The queue priority comes from the level, raised in special periods; for calls to the main
queue the site's assigned engineers who are free right now (from QueueStatus) are offered
first. The IVR asks for every call and turns the advice into channel variables.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from calls.control import CallControl
from routing.router import CallRouter, available_members

log = logging.getLogger(__name__)


class IvrRoutingAdvisor:
    """`ivr.ports.RoutingAdvisorPort` over `routing.router.CallRouter`: special periods
    raise the priority, and for calls to the main queue the site's assigned engineers who
    are free right now (from QueueStatus) are offered first.

    QueueStatus lists every member of the queue: it is asked only for calls from sites
    with engineers' phones to prefer, and one answer serves every call that asks within
    `members_ttl` seconds (a flash crowd must not become a flood of QueueStatus; a member
    who turned busy meanwhile answers the Dial() BUSY and the call queues)."""

    def __init__(
        self,
        router: CallRouter,
        control: CallControl,
        *,
        members_timeout: float = 0.5,
        members_ttl: float = 1.0,
    ) -> None:
        self.router = router
        self.control = control
        self.members_timeout = members_timeout
        self.members_ttl = members_ttl
        self._members: dict[str, tuple[float, asyncio.Future[dict[str, bool]]]] = {}
        self.queue_status_asked = 0

    async def members_of(self, queue: str) -> dict[str, bool]:
        """Free members of `queue` from one shared, recent QueueStatus."""
        loop = asyncio.get_running_loop()
        cached = self._members.get(queue)
        if cached is not None and loop.time() - cached[0] < self.members_ttl:
            if not cached[1].done() or cached[1].exception() is None:
                return await asyncio.shield(cached[1])
        future: asyncio.Future[dict[str, bool]] = loop.create_future()
        self._members[queue] = (loop.time(), future)
        self.queue_status_asked += 1
        try:
            async with asyncio.timeout(self.members_timeout):
                snapshot = await self.control.queue_status(queue)
            future.set_result(available_members(snapshot, queue))
        except BaseException as exc:
            future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
            future.exception()  # retrieved: the waiters get it, nobody logs it twice
            self._members.pop(queue, None)
            raise
        return future.result()

    async def advise(
        self, *, call_ref: str, site_code: str | None, level: int | None, queue: str
    ) -> Mapping[str, str]:
        async def members() -> dict[str, bool] | None:
            try:
                return await self.members_of(queue)
            except Exception as exc:  # no member view: route by level and period only
                log.warning("call %s: queue members unknown (%r)", call_ref, exc)
                return None

        decision = await self.router.decide(
            site_code=site_code, level=level, call_id=call_ref, queue=queue, members_of=members
        )
        return decision.channel_variables()
