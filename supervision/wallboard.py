"""Wallboard publisher: folds call-tracker events, agent states, ticket clocks and the
emergency mode into snapshots and pushes them to the bus `wallboard` topic.

Wiring (composition root)::

    publisher = WallboardPublisher(bus, clock=now, agents=QueueStatusAgents(ami, queues))
    stages.append(wallboard_stage(publisher))        # the call pipeline hands it events
    scheduler.add_listener(publisher.on_assessment)  # SlaScheduler
    await publisher.start()                          # also follows the `emergency` topic
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol

from bus import MessageBus
from bus.topics import EMERGENCY, WALLBOARD
from calls import (
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallEvent,
    CallLeftQueue,
    CallQueued,
    Clock,
)
from calls.control import CallControl
from pipeline import Stage
from supervision.domain.calendar import CHINA_STANDARD_TIME
from supervision.domain.sla import TicketSla
from supervision.domain.wallboard import (
    AgentPresence,
    CallFloor,
    EmergencyState,
    WallboardSnapshot,
    build_snapshot,
)

log = logging.getLogger(__name__)

TOPIC = WALLBOARD


class AgentSource(Protocol):
    async def agents(self) -> Sequence[AgentPresence]: ...


class QueueStatusAgents:
    """Agent presence from the PBX's own queue status (QueueStatus over AMI)."""

    def __init__(self, control: CallControl, queues: Sequence[str]) -> None:
        self._control = control
        self._queues = tuple(queues)

    async def agents(self) -> Sequence[AgentPresence]:
        seen: dict[str, AgentPresence] = {}
        for queue in self._queues:
            snapshot = await self._control.queue_status(queue)
            for m in snapshot.members:
                # Device state 2 in use, 3 busy, 6 ringing, 7 ring+inuse, 8 on hold.
                busy = m.in_call or m.status in (2, 3, 6, 7, 8)
                old = seen.get(m.interface)
                seen[m.interface] = AgentPresence(
                    m.name or m.interface,
                    m.interface,
                    paused=m.paused if old is None else (old.paused and m.paused),
                    in_call=busy or (old is not None and old.in_call),
                )
        return list(seen.values())


def emergency_from_message(message: dict[str, Any]) -> EmergencyState | None:
    """The fallback service's `{"type": "mode", "active", "since", "reason", ...}`."""
    if message.get("type") not in ("mode", None) or "active" not in message:
        return None
    since = message.get("since")
    try:
        at = datetime.fromisoformat(since) if isinstance(since, str) else None
    except ValueError:
        at = None
    reason = message.get("reason")
    return EmergencyState(bool(message["active"]), at, str(reason) if reason else None)


class WallboardPublisher:
    def __init__(
        self,
        bus: MessageBus,
        *,
        clock: Clock,
        agents: AgentSource | None = None,
        queues: Sequence[str] = ("hotline-main", "hotline-emergency"),
        zone: tzinfo = CHINA_STANDARD_TIME,
        service_level_target: timedelta = timedelta(seconds=20),
        interval: float = 2.0,
        agent_poll_interval: float = 5.0,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._agent_source = agents
        self._queues = tuple(queues)
        self._interval = interval
        self._agent_poll = agent_poll_interval
        self.floor = CallFloor(zone=zone, service_level_target=service_level_target)
        self._agents: Sequence[AgentPresence] = ()
        self._tickets: Sequence[TicketSla] = ()
        self._emergency = EmergencyState()
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.latest: dict[str, Any] | None = None

    # --- inputs (synchronous, cheap: safe inside the tracker's callbacks) -------------

    def on_call_event(self, event: CallEvent) -> None:
        if self.floor.apply(event):
            self._dirty.set()

    async def handle_call_event(self, event: CallEvent) -> None:
        """The pipeline's wallboard stage."""
        self.on_call_event(event)

    def on_assessment(self, assessments: Sequence[TicketSla], now: datetime) -> None:
        self._tickets = assessments
        self._dirty.set()

    def set_agents(self, agents: Sequence[AgentPresence]) -> None:
        self._agents = tuple(agents)
        self._dirty.set()

    def set_emergency(self, state: EmergencyState) -> None:
        self._emergency = state
        self._dirty.set()

    # --- output ---------------------------------------------------------------------

    def snapshot(self) -> WallboardSnapshot:
        return build_snapshot(
            self._clock(),
            self.floor,
            self._agents,
            self._tickets,
            self._emergency,
            queues=self._queues,
        )

    async def publish_now(self) -> dict[str, Any]:
        message = self.snapshot().to_message()
        self.latest = message
        await self._bus.publish(TOPIC, message)
        return message

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._publish_loop(), name="wallboard-publish")]
        if self._agent_source is not None:
            self._tasks.append(asyncio.create_task(self._agent_loop(), name="wallboard-agents"))
        subscription = await self._bus.subscribe(EMERGENCY)
        self._tasks.append(
            asyncio.create_task(self._emergency_loop(subscription), name="wallboard-emergency")
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _publish_loop(self) -> None:
        while True:
            # Publish on change, and at least every `interval` so wait times keep ticking.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), self._interval)
            self._dirty.clear()
            try:
                await self.publish_now()
            except Exception:
                log.exception("wallboard publish failed")
            await asyncio.sleep(0.2)  # coalesce bursts of call events

    async def _agent_loop(self) -> None:
        assert self._agent_source is not None
        while True:
            try:
                self.set_agents(await self._agent_source.agents())
            except Exception as exc:  # AMI down: keep the last known picture
                log.warning("wallboard: agent states unavailable: %s", exc)
            await asyncio.sleep(self._agent_poll)

    async def _emergency_loop(self, subscription: Any) -> None:
        try:
            async for message in subscription:
                state = emergency_from_message(message)
                if state is not None:
                    self.set_emergency(state)
        finally:
            await subscription.close()


FLOOR_EVENTS = (CallQueued, AgentRinging, CallAnswered, CallAbandoned, CallLeftQueue, CallEnded)


def wallboard_stage(publisher: WallboardPublisher) -> Stage:
    """The live floor (queues, waiting callers) follows every call; nothing to retry. It
    takes the events `CallFloor.apply` folds in."""
    return Stage("wallboard", 40, publisher.handle_call_event, events=FLOOR_EVENTS)
