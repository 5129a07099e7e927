"""Drives an agent's main-queue membership on the PBX from the console (ready/paused/log-out).

The plan is pure (`console.domain.agent_state`); this module runs it through `CallControl`
one agent at a time and only records a step once the PBX accepted it, so the console never
shows "ready" for an agent Asterisk does not have.
"""

from __future__ import annotations

import asyncio
import logging

from calls.control import CallControl
from calls.errors import CallControlError, PbxActionFailed, UnsafeValue
from console.domain.agent_state import AgentState, Membership, QueueAction, after, plan
from console.errors import NoPhoneInterface, PbxRefused
from routing.records import ConsoleUser

log = logging.getLogger(__name__)


def _already_member(exc: PbxActionFailed) -> bool:
    # Asterisk: "Unable to add interface: Already there" (e.g. after a controller restart).
    return "already there" in exc.message.lower()


def _not_member(exc: PbxActionFailed) -> bool:
    # Asterisk: "Unable to remove interface: Not there".
    return "not there" in exc.message.lower()


class AgentDesk:
    def __init__(self, control: CallControl, main_queue: str) -> None:
        self._control = control
        self._queue = main_queue
        self._members: dict[str, Membership] = {}
        self._synced: set[str] = set()  # users whose membership was read back from the PBX
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def main_queue(self) -> str:
        return self._queue

    def state_of(self, username: str) -> AgentState:
        """What this process knows (no PBX round trip)."""
        return self._members.get(username, Membership()).state

    async def current_state(self, user: ConsoleUser) -> AgentState:
        """The agent's state, read back from the PBX the first time (e.g. after a restart).

        A PBX that cannot answer leaves the last known state: the page still loads.
        """
        if user.interface and user.username not in self._synced:
            lock = self._locks.setdefault(user.username, asyncio.Lock())
            async with lock:
                if user.username not in self._synced:
                    try:
                        await self._sync(user.username, user.interface)
                    except PbxRefused as exc:
                        log.warning("state of %s unknown: %s", user.username, exc)
        return self.state_of(user.username)

    async def set_state(self, user: ConsoleUser, wanted: AgentState) -> AgentState:
        interface = user.interface
        if not interface:
            raise NoPhoneInterface(
                f"user {user.username} has no phone interface; an admin must set one"
            )
        if "\r" in interface or "\n" in interface:
            raise NoPhoneInterface(f"user {user.username} has an invalid phone interface")
        lock = self._locks.setdefault(user.username, asyncio.Lock())
        async with lock:
            if user.username not in self._synced:
                await self._sync(user.username, interface)
            current = self._members.get(user.username, Membership())
            for action in plan(current, wanted):
                await self._run(action, user.username, interface)
                current = after(current, action)
                self._members[user.username] = current
            if not current.in_queue:
                self._members.pop(user.username, None)
            # "paused" before the first "ready" is not a queue member yet: no calls either way.
            return AgentState.PAUSED if wanted is AgentState.PAUSED else current.state

    async def _sync(self, username: str, interface: str) -> None:
        """Learn what the PBX already has for this agent (a restart of the controller, or a
        member left from an earlier session), so "paused" really pauses a live member."""
        try:
            snapshot = await self._control.queue_status(self._queue)
        except CallControlError as exc:
            raise PbxRefused(
                f"the PBX did not report queue {self._queue} for {interface}: {exc}"
            ) from exc
        for member in snapshot.members:
            if member.queue == self._queue and member.interface == interface:
                self._members[username] = Membership(in_queue=True, paused=member.paused)
                break
        else:
            self._members.pop(username, None)
        self._synced.add(username)

    async def _run(self, action: QueueAction, username: str, interface: str) -> None:
        try:
            match action:
                case QueueAction.ADD:
                    try:
                        await self._control.queue_add(self._queue, interface, member_name=username)
                    except PbxActionFailed as exc:
                        if not _already_member(exc):
                            raise
                        # Still a member from before: make sure it takes calls.
                        await self._control.queue_pause(interface, False, queue=self._queue)
                case QueueAction.PAUSE:
                    await self._control.queue_pause(
                        interface, True, queue=self._queue, reason="console"
                    )
                case QueueAction.UNPAUSE:
                    await self._control.queue_pause(interface, False, queue=self._queue)
                case QueueAction.REMOVE:
                    try:
                        await self._control.queue_remove(self._queue, interface)
                    except PbxActionFailed as exc:
                        if not _not_member(exc):
                            raise
        except UnsafeValue as exc:
            raise NoPhoneInterface(f"invalid phone interface for {username}: {exc}") from exc
        except CallControlError as exc:
            self._synced.discard(username)  # uncertain now: read the PBX again next time
            log.warning("queue %s for %s (%s) failed: %s", action.value, username, interface, exc)
            raise PbxRefused(f"the PBX did not {action.value} {interface}: {exc}") from exc
        log.info("queue %s %s for %s in %s", action.value, interface, username, self._queue)
