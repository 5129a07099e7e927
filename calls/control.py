"""`CallControl`: the port through which the domain asks the PBX to do things.

The AMI client implements it (`ami.client.AmiClient`); tests use the PBX stand-in or a fake.
Every method raises `calls.errors.PbxActionFailed` when the PBX answers with an error and
`calls.errors.PbxNotConnected` when no usable connection exists; none of them swallows a
failure. Values containing CR or LF raise `calls.errors.UnsafeValue` before anything is
sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A caller waiting in a queue (QueueStatus → QueueEntry)."""

    queue: str
    position: int
    channel: str
    uniqueid: str
    linkedid: str
    caller_number: str
    caller_name: str
    wait_seconds: int
    priority: int


@dataclass(frozen=True, slots=True)
class QueueMemberState:
    """A queue member (QueueStatus → QueueMember)."""

    queue: str
    name: str
    interface: str
    paused: bool
    in_call: bool
    status: int  # Asterisk device state: 1 not in use, 2 in use, 6 ringing, ...


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """Members and waiting callers of one queue, or of every queue."""

    members: tuple[QueueMemberState, ...]
    entries: tuple[QueueEntry, ...]


class CallControl(Protocol):
    """What the hotline asks of the PBX: queue membership, moving and placing calls,
    channel variables, the AstDB, user events and CLI commands."""

    async def queue_add(
        self,
        queue: str,
        interface: str,
        *,
        member_name: str | None = None,
        penalty: int = 0,
        paused: bool = False,
        state_interface: str | None = None,
    ) -> None: ...

    async def queue_remove(self, queue: str, interface: str) -> None: ...

    async def queue_pause(
        self, interface: str, paused: bool, *, queue: str | None = None, reason: str = ""
    ) -> None: ...

    async def queue_status(self, queue: str | None = None) -> QueueSnapshot: ...

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None: ...

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
        """Returns the ActionID; with async_ the OriginateResponse event tells the outcome."""
        ...

    async def setvar(self, variable: str, value: str, *, channel: str | None = None) -> None: ...

    async def getvar(self, variable: str, *, channel: str | None = None) -> str | None: ...

    async def db_put(self, family: str, key: str, value: str) -> None: ...

    async def db_get(self, family: str, key: str) -> str | None: ...

    async def db_del(self, family: str, key: str) -> None: ...

    async def user_event(self, name: str, headers: Mapping[str, str]) -> None: ...

    async def command(self, command: str) -> list[str]: ...
