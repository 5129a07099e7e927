"""Fakes for the fallback unit tests: a PBX that keeps queues like Asterisk does (priority,
then arrival), records every action, and can be told to fail; a ticket sink; a bus."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ami.errors import AmiActionError, AmiNotConnected, HeaderInjection
from calls.control import QueueEntry, QueueMemberState, QueueSnapshot
from fallback.domain.mode import EmergencyPolicy
from fallback.journal import EmergencyJournal
from fallback.paper import PaperNumberAllocator
from fallback.ports import BackfillOutcome, BackfillTicket
from fallback.service import EmergencyService
from fallback.switching import PbxSwitch


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 22, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class Waiting:
    channel: str
    linkedid: str
    caller: str
    priority: int = 5
    joined: int = 0


@dataclass
class FakePbx:
    """Implements calls.control.CallControl over in-memory queues."""

    actions: list[tuple[Any, ...]] = field(default_factory=list)
    queues: dict[str, list[Waiting]] = field(default_factory=dict)
    members: dict[str, list[QueueMemberState]] = field(default_factory=dict)
    astdb: dict[tuple[str, str], str] = field(default_factory=dict)
    channel_vars: dict[str, dict[str, str]] = field(default_factory=dict)
    talking: set[str] = field(default_factory=set)
    redirect_failures: dict[str, int] = field(default_factory=dict)
    connected: bool = True
    # Called right before a redirect is executed (to simulate races).
    before_redirect: Any = None
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def _check(self, *values: str | None) -> None:
        if not self.connected:
            raise AmiNotConnected("not connected")
        for v in values:
            if v is not None and ("\r" in v or "\n" in v):
                raise HeaderInjection(v)

    def join(
        self, queue: str, channel: str, linkedid: str, caller: str = "", prio: int = 5
    ) -> None:
        self.queues.setdefault(queue, []).append(
            Waiting(channel, linkedid, caller or linkedid, prio, next(self._seq))
        )
        self.channel_vars.setdefault(channel, {})["QUEUE_PRIO"] = str(prio)
        self._order(queue)

    def _order(self, queue: str) -> None:
        self.queues[queue].sort(key=lambda w: (-w.priority, w.joined))

    def answer(self, channel: str) -> None:
        """An agent picks up: the caller leaves the queue and talks."""
        for entries in self.queues.values():
            entries[:] = [w for w in entries if w.channel != channel]
        self.talking.add(channel)

    def where(self, channel: str) -> str | None:
        for queue, entries in self.queues.items():
            if any(w.channel == channel for w in entries):
                return queue
        return "talking" if channel in self.talking else None

    async def queue_add(
        self,
        queue: str,
        interface: str,
        *,
        member_name: str | None = None,
        penalty: int = 0,
        paused: bool = False,
        state_interface: str | None = None,
    ) -> None:
        self._check(queue, interface)
        self.actions.append(("QueueAdd", queue, interface))
        existing = self.members.setdefault(queue, [])
        if any(m.interface == interface for m in existing):
            raise AmiActionError("QueueAdd", "Unable to add interface: Already there")
        existing.append(
            QueueMemberState(queue, member_name or interface, interface, paused, False, 1)
        )

    async def queue_remove(self, queue: str, interface: str) -> None:
        self._check(queue, interface)
        self.actions.append(("QueueRemove", queue, interface))
        self.members[queue] = [m for m in self.members.get(queue, []) if m.interface != interface]

    async def queue_pause(
        self, interface: str, paused: bool, *, queue: str | None = None, reason: str = ""
    ) -> None:
        self._check(interface)
        self.actions.append(("QueuePause", interface, paused))

    async def queue_status(self, queue: str | None = None) -> QueueSnapshot:
        self._check(queue)
        self.actions.append(("QueueStatus", queue))
        names = [queue] if queue else list(self.queues)
        entries = []
        for q in names:
            for pos, w in enumerate(self.queues.get(q, []), start=1):
                entries.append(
                    QueueEntry(
                        q, pos, w.channel, w.linkedid, w.linkedid, w.caller, "", 0, w.priority
                    )
                )
        members = [m for q in names for m in self.members.get(q, [])]
        return QueueSnapshot(tuple(members), tuple(entries))

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        self._check(channel, context, exten)
        self.actions.append(("Redirect", channel, context, exten, priority))
        if self.before_redirect is not None:
            self.before_redirect(channel)
        if self.redirect_failures.get(channel, 0) > 0:
            self.redirect_failures[channel] -= 1
            raise AmiActionError("Redirect", "Redirect failed")
        source = self.where(channel)
        if source is None or source == "talking":
            if source == "talking":
                self.talking.discard(channel)  # a real Redirect would yank it out of the bridge
                self.actions.append(("YANKED", channel))
            raise AmiActionError("Redirect", "Channel not found")
        waiting = next(w for w in self.queues[source] if w.channel == channel)
        self.queues[source].remove(waiting)
        assert context == "hotline-requeue" and exten == "s"
        target = self.channel_vars[channel]["HOTLINE_QUEUE"]
        waiting.joined = next(self._seq)
        self.queues.setdefault(target, []).append(waiting)
        self._order(target)

    async def originate(
        self,
        channel: str,
        *,
        context: str,
        exten: str,
        priority: int = 1,
        caller_id: str | None = None,
        timeout_ms: int = 30000,
        variables: Mapping[str, str] | None = None,
        async_: bool = True,
    ) -> str:
        self._check(channel, context, exten, caller_id, *(variables or {}).values())
        action_id = f"fake-{len(self.actions) + 1}"
        self.actions.append(("Originate", channel, context, exten, caller_id, action_id))
        return action_id

    async def setvar(self, variable: str, value: str, *, channel: str | None = None) -> None:
        self._check(variable, value, channel)
        self.actions.append(("Setvar", variable, value, channel))
        if channel is not None:
            if self.where(channel) is None:
                raise AmiActionError("Setvar", "Channel not found")
            self.channel_vars.setdefault(channel, {})[variable] = value

    async def getvar(self, variable: str, *, channel: str | None = None) -> str | None:
        self._check(variable, channel)
        return self.channel_vars.get(channel or "", {}).get(variable)

    async def db_put(self, family: str, key: str, value: str) -> None:
        self._check(family, key, value)
        self.actions.append(("DBPut", family, key, value))
        self.astdb[(family, key)] = value

    async def db_get(self, family: str, key: str) -> str | None:
        self._check(family, key)
        return self.astdb.get((family, key))

    async def db_del(self, family: str, key: str) -> None:
        self._check(family, key)
        self.astdb.pop((family, key), None)

    async def user_event(self, name: str, headers: Mapping[str, str]) -> None:
        self._check(name, *headers.values())

    async def command(self, command: str) -> list[str]:
        self._check(command)
        return []

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [a for a in self.actions if a[0] == name]


class FakeSink:
    """BackfillTicketSink: tickets keyed by call id (a call never gets two)."""

    def __init__(self) -> None:
        self.tickets: dict[str, BackfillTicket] = {}
        self.by_call: dict[str, str] = {}
        self.down = False
        self._n = 0

    def preexisting(self, call_id: str) -> str:
        self._n += 1
        number = f"T{self._n:05d}"
        self.by_call[call_id] = number
        return number

    async def ticket_for_call(self, call_id: str) -> str | None:
        if self.down:
            from fallback.errors import TicketSystemUnavailable

            raise TicketSystemUnavailable("database down")
        return self.by_call.get(call_id)

    async def backfill(self, ticket: BackfillTicket) -> BackfillOutcome:
        if self.down:
            from fallback.errors import TicketSystemUnavailable

            raise TicketSystemUnavailable("database down")
        if ticket.call_id and ticket.call_id in self.by_call:
            return BackfillOutcome(self.by_call[ticket.call_id], False)
        self._n += 1
        number = f"T{self._n:05d}"
        self.tickets[number] = ticket
        if ticket.call_id:
            self.by_call[ticket.call_id] = number
        return BackfillOutcome(number, True)


class RecordingBus:
    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.messages.append((topic, message))

    async def subscribe(self, *topics: str) -> Any:
        raise AssertionError("the emergency service only publishes")

    async def close(self) -> None:
        return None

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for _t, m in self.messages if m.get("type") == kind]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pbx() -> FakePbx:
    return FakePbx()


@pytest.fixture
def sink() -> FakeSink:
    return FakeSink()


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
async def make_service(tmp_path, pbx, sink, bus, clock):
    """Builds and starts emergency services on the fake PBX; stops what a test left."""
    made: list[EmergencyService] = []

    async def make(policy: EmergencyPolicy | None = None, **kw) -> EmergencyService:
        service = EmergencyService(
            control=pbx,
            switch=PbxSwitch(pbx, pool=["PJSIP/1003"], retry_delay=0),
            journal=EmergencyJournal(tmp_path),
            paper=PaperNumberAllocator(tmp_path),
            sink=sink,
            clock=clock,
            policy=policy or EmergencyPolicy(failures_to_enter=3, hold_down=timedelta(0)),
            bus=bus,
            **kw,
        )
        await service.start()
        made.append(service)
        return service

    yield make
    for service in made:
        if service.journal._opened:  # a failed test did not reach stop()
            await service.stop()
