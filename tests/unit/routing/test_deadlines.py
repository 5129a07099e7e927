from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routing.domain.deadlines import deadlines_for, unidentified_level
from routing.domain.levels import FaultLevel, SlaPolicy

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("level", "distance", "response", "onsite"),
    [
        # level rule alone (distance unknown)
        (1, None, 30 * M, 2 * H),
        (2, None, 2 * H, 12 * H),
        (3, None, 2 * H, 24 * H),
        (4, None, 2 * H, None),
        # distance bands: ≤50 km 5 h, ≤100 km 12 h, ≤400 km 24 h, beyond 3 days
        (1, 10.0, 30 * M, 2 * H),  # level stricter
        (2, 10.0, 2 * H, 5 * H),  # distance stricter
        (2, 50.0, 2 * H, 5 * H),  # band edge is inclusive
        (2, 50.1, 2 * H, 12 * H),
        (3, 80.0, 2 * H, 12 * H),
        (3, 100.0, 2 * H, 12 * H),
        (3, 250.0, 2 * H, 24 * H),
        (2, 399.9, 2 * H, 12 * H),
        (3, 800.0, 2 * H, 24 * H),  # 3 days band, level 24 h stricter
        (4, 5.0, 2 * H, None),  # consultation: never on site
    ],
)
def test_deadline_table(
    level: int, distance: float | None, response: timedelta, onsite: timedelta | None
) -> None:
    due = deadlines_for(SlaPolicy(), level, T0, distance)
    assert due.response_due == T0 + response
    assert due.onsite_due == (None if onsite is None else T0 + onsite)


def test_remote_and_feature_request_windows() -> None:
    policy = SlaPolicy()
    assert deadlines_for(policy, 3, T0, remote=True).response_due == T0 + 4 * H
    assert deadlines_for(policy, 2, T0, remote=True).response_due == T0 + 2 * H
    assert deadlines_for(policy, 4, T0, feature_request=True).response_due == T0 + 48 * H


def test_deadlines_follow_configuration() -> None:
    policy = SlaPolicy.from_mapping(
        {
            "response_minutes": {"1": 15},
            "onsite_minutes": {"1": 60},
            "distance_bands": [{"max_km": 20, "onsite_minutes": 45}, {"onsite_minutes": 600}],
        }
    )
    assert deadlines_for(policy, 1, T0, 10).response_due == T0 + 15 * M
    assert deadlines_for(policy, 1, T0, 10).onsite_due == T0 + 45 * M
    assert deadlines_for(policy, 1, T0, 500).onsite_due == T0 + 60 * M


def test_unidentified_level_counts_as_major() -> None:
    assert unidentified_level(None) is FaultLevel.P2
    assert unidentified_level(0) is FaultLevel.P2
    assert unidentified_level(1) is FaultLevel.P1
    with pytest.raises(ValueError):
        deadlines_for(SlaPolicy(), 7, T0)
