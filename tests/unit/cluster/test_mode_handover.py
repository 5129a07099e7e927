"""After a takeover the PBX's routing mode wins over the new leader's own journal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cluster import ModeHandover
from fallback.records import EmergencyStatus


class FakePbx:
    def __init__(self, mode: str | None) -> None:
        self.mode = mode
        self.reads = 0

    async def db_get(self, family: str, key: str) -> str | None:
        assert (family, key) == ("hotline", "mode")
        self.reads += 1
        return self.mode


class FakeEmergency:
    def __init__(self, active: bool) -> None:
        self.active = active
        self.requests: list[tuple[bool, str, str]] = []

    def status(self) -> EmergencyStatus:
        return EmergencyStatus(
            active=self.active,
            since=datetime(2026, 11, 22, tzinfo=UTC),
            reason=None,
            by=None,
            state="emergency" if self.active else "normal",
        )

    async def set_active(self, active: bool, *, reason: str, by: str) -> EmergencyStatus:
        self.requests.append((active, reason, by))
        self.active = active
        return self.status()


@pytest.mark.parametrize(
    ("pbx_mode", "ours", "expected"),
    [
        ("emergency", False, [True]),  # switched on by hand on the old leader: keep it
        ("normal", True, [False]),  # our journal is stale: do not revive an old emergency
        ("emergency", True, []),
        ("normal", False, []),
        (None, True, []),  # AstDB never written: our journal decides
        ("garbage", False, []),
    ],
)
async def test_the_pbx_mode_is_adopted_once_per_election(
    pbx_mode: str | None, ours: bool, expected: list[bool]
) -> None:
    pbx, emergency = FakePbx(pbx_mode), FakeEmergency(ours)
    handover = ModeHandover(pbx, emergency, "host2")
    await handover(object())  # not armed: an AMI reconnect while leading changes nothing
    assert pbx.reads == 0
    handover.arm()
    await handover(object())
    assert [r[0] for r in emergency.requests] == expected
    if expected:
        assert emergency.requests[0][2] == "controller:host2"
        assert "takeover" in emergency.requests[0][1]
    await handover(object())  # disarmed after one look
    assert pbx.reads == 1
