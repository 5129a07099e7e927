"""An agent's membership of the main queue, and the PBX steps a console request needs.

Pure: `plan` turns (what the PBX has now, what the agent asks for) into the ordered
queue actions the console must drive through `CallControl`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"  # not a member of the main queue
    READY = "ready"
    PAUSED = "paused"


class QueueAction(StrEnum):
    ADD = "add"  # QueueAdd, unpaused
    PAUSE = "pause"  # QueuePause Paused: true
    UNPAUSE = "unpause"  # QueuePause Paused: false
    REMOVE = "remove"  # QueueRemove


@dataclass(frozen=True, slots=True)
class Membership:
    """What the console believes the PBX has for one agent."""

    in_queue: bool = False
    paused: bool = False

    @property
    def state(self) -> AgentState:
        if not self.in_queue:
            return AgentState.LOGGED_OUT
        return AgentState.PAUSED if self.paused else AgentState.READY


def plan(current: Membership, wanted: AgentState) -> tuple[QueueAction, ...]:
    """PBX actions that take `current` to `wanted`.

    The first "ready" adds the agent to the main queue; later toggles only pause and
    unpause (Asterisk keeps the member, so calls see a stable queue). "paused" before the
    agent ever joined needs nothing: a member that does not exist takes no calls.
    Logging out removes the member whatever its pause state.
    """
    match wanted:
        case AgentState.READY:
            if not current.in_queue:
                return (QueueAction.ADD,)
            return (QueueAction.UNPAUSE,) if current.paused else ()
        case AgentState.PAUSED:
            if current.in_queue and not current.paused:
                return (QueueAction.PAUSE,)
            return ()
        case AgentState.LOGGED_OUT:
            return (QueueAction.REMOVE,) if current.in_queue else ()


def after(current: Membership, action: QueueAction) -> Membership:
    """Membership once `action` succeeded on the PBX."""
    match action:
        case QueueAction.ADD:
            return Membership(in_queue=True, paused=False)
        case QueueAction.PAUSE:
            return Membership(in_queue=True, paused=True)
        case QueueAction.UNPAUSE:
            return Membership(in_queue=True, paused=False)
        case QueueAction.REMOVE:
            return Membership()
