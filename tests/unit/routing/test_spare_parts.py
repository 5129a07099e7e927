"""The RMA dates and the part clocks' times kept in step."""

from datetime import UTC, date, datetime

import pytest

from routing.domain.spare_parts import matching_part_fields
from supervision.domain.calendar import CHINA_STANDARD_TIME as CST

NOW = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)  # 14:00 in Beijing
EMPTY = {
    "spare_sent_on": None,
    "part_sent_at": None,
    "spare_received_on": None,
    "part_received_at": None,
}


@pytest.mark.parametrize(
    ("changes", "current", "expected"),
    [
        # A past date stops the clock at the end of that day (Beijing).
        (
            {"spare_sent_on": date(2026, 11, 16)},
            EMPTY,
            {"part_sent_at": datetime(2026, 11, 16, 23, 59, 59, tzinfo=CST)},
        ),
        # Today: not later than the moment it was entered.
        ({"spare_received_on": date(2026, 11, 18)}, EMPTY, {"part_received_at": NOW}),
        # A time fills the date (in Beijing: 01:30 UTC on the 18th is the 18th there).
        (
            {"part_sent_at": datetime(2026, 11, 17, 17, 30, tzinfo=UTC)},
            EMPTY,
            {"spare_sent_on": date(2026, 11, 18)},
        ),
        # Both typed: nothing added.
        (
            {"spare_sent_on": date(2026, 11, 16), "part_sent_at": NOW},
            EMPTY,
            {},
        ),
        # Already recorded: never overwritten.
        (
            {"spare_sent_on": date(2026, 11, 16)},
            {**EMPTY, "part_sent_at": NOW},
            {},
        ),
        ({"spare_sent_on": None}, EMPTY, {}),  # clearing a date clears nothing else
        ({"spare_sent_on": date.max}, EMPTY, {}),  # implausible: no clock time
        ({"spare_sent_on": date(1, 1, 1)}, EMPTY, {}),
        (
            {"part_sent_at": datetime.max.replace(tzinfo=UTC)},
            EMPTY,
            {"spare_sent_on": date.max},
        ),
    ],
)
def test_matching_part_fields(
    changes: dict[str, object], current: dict[str, object], expected: dict[str, object]
) -> None:
    assert matching_part_fields(changes, current, NOW, CST) == expected
