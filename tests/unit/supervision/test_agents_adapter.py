from typing import Any

from calls.control import QueueMemberState, QueueSnapshot
from supervision.wallboard import QueueStatusAgents, emergency_from_message


class FakeControl:
    """Answers QueueStatus like the PBX would; nothing else is used by the adapter."""

    def __init__(self, members: dict[str, list[QueueMemberState]]) -> None:
        self.members = members
        self.asked: list[str | None] = []

    async def queue_status(self, queue: str | None = None) -> QueueSnapshot:
        self.asked.append(queue)
        return QueueSnapshot(tuple(self.members.get(queue or "", [])), ())


def member(
    queue: str,
    name: str,
    iface: str,
    *,
    paused: bool = False,
    in_call: bool = False,
    status: int = 1,
) -> QueueMemberState:
    return QueueMemberState(queue, name, iface, paused, in_call, status)


async def test_agents_from_queue_status() -> None:
    control: Any = FakeControl(
        {
            "hotline-main": [
                member("hotline-main", "alice", "PJSIP/1001"),
                member("hotline-main", "bob", "PJSIP/1002", paused=True),
                member("hotline-main", "carol", "PJSIP/1003", status=6),  # ringing
            ],
            "hotline-emergency": [member("hotline-emergency", "mobile", "Local/138@out")],
        }
    )
    agents = {
        a.name: a
        for a in await QueueStatusAgents(control, ["hotline-main", "hotline-emergency"]).agents()
    }
    assert control.asked == ["hotline-main", "hotline-emergency"]
    assert (agents["alice"].paused, agents["alice"].in_call) == (False, False)
    assert agents["bob"].paused is True
    assert agents["carol"].in_call is True
    assert agents["mobile"].interface == "Local/138@out"


def test_emergency_messages() -> None:
    state = emergency_from_message(
        {"type": "mode", "active": True, "since": "2026-11-18T02:00:00+00:00", "reason": "db down"}
    )
    assert state is not None and state.active and state.reason == "db down"
    assert state.since is not None and state.since.hour == 2
    assert emergency_from_message({"type": "health", "verdict": "ok"}) is None
    off = emergency_from_message({"type": "mode", "active": False, "since": "garbage"})
    assert off is not None and not off.active and off.since is None
