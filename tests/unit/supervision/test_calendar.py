from datetime import UTC, date, datetime, timedelta

import pytest

from supervision.domain.calendar import CHINA_STANDARD_TIME, WorkingCalendar
from supervision.domain.errors import SupervisionConfigError

CST = CHINA_STANDARD_TIME
# 2026-10-01..07: National Day holiday; 2026-10-10 (Saturday): make-up working day.
CAL = WorkingCalendar.build(
    holidays=[f"2026-10-0{d}" for d in range(1, 8)], extra_workdays=["2026-10-10"]
)


def cst(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CST)


@pytest.mark.parametrize(
    ("start", "hours", "expected", "why"),
    [
        (cst(2026, 11, 18, 10), 2, cst(2026, 11, 18, 12), "inside one working day"),
        (cst(2026, 11, 18, 17), 2, cst(2026, 11, 19, 10), "crosses the evening"),
        (cst(2026, 11, 18, 20), 2, cst(2026, 11, 19, 11), "sent after hours"),
        (cst(2026, 11, 18, 7), 2, cst(2026, 11, 18, 11), "sent before opening"),
        (cst(2026, 11, 20, 17, 30), 2, cst(2026, 11, 23, 10, 30), "Friday evening to Monday"),
        (cst(2026, 11, 21, 12), 2, cst(2026, 11, 23, 11), "sent on Saturday"),
        (cst(2026, 9, 30, 17), 2, cst(2026, 10, 8, 10), "holiday week skipped"),
        (cst(2026, 10, 9, 17), 2, cst(2026, 10, 10, 10), "make-up Saturday counts"),
        (cst(2026, 11, 18, 18), 0, cst(2026, 11, 18, 18), "zero is the same instant"),
        (cst(2026, 11, 18, 9), 9, cst(2026, 11, 18, 18), "exactly one full day"),
        (cst(2026, 11, 18, 9), 10, cst(2026, 11, 19, 10), "a full day and one hour"),
    ],
)
def test_add_working_time(start: datetime, hours: int, expected: datetime, why: str) -> None:
    got = CAL.add_working_time(start, timedelta(hours=hours))
    assert got == expected, why
    assert got.tzinfo is UTC


def test_utc_input_is_read_in_the_calendar_zone() -> None:
    # 01:00 UTC is 09:00 in Beijing.
    start = datetime(2026, 11, 18, 1, 0, tzinfo=UTC)
    assert CAL.add_working_time(start, timedelta(hours=1)) == datetime(2026, 11, 18, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("a", "b", "hours"),
    [
        (cst(2026, 11, 18, 10), cst(2026, 11, 18, 12), 2),
        (cst(2026, 11, 18, 17), cst(2026, 11, 19, 10), 2),
        (cst(2026, 11, 20, 12), cst(2026, 11, 23, 12), 9),
        (cst(2026, 9, 30, 9), cst(2026, 10, 9, 9), 18),  # Sep 30 and Oct 8
        (cst(2026, 11, 19, 10), cst(2026, 11, 18, 10), 0),
    ],
)
def test_working_time_between(a: datetime, b: datetime, hours: int) -> None:
    assert CAL.working_time_between(a, b) == timedelta(hours=hours)


def test_working_day_rules() -> None:
    assert CAL.is_working_day(date(2026, 11, 18))
    assert not CAL.is_working_day(date(2026, 11, 21))
    assert not CAL.is_working_day(date(2026, 10, 2))
    assert CAL.is_working_day(date(2026, 10, 10))
    assert CAL.is_working_time(cst(2026, 11, 18, 9))
    assert not CAL.is_working_time(cst(2026, 11, 18, 18))


def test_bad_calendars_are_refused() -> None:
    with pytest.raises(SupervisionConfigError):
        WorkingCalendar.build(start="18:00", end="09:00")
    with pytest.raises(SupervisionConfigError):
        WorkingCalendar.build(start="9 o'clock")
    with pytest.raises(SupervisionConfigError):
        WorkingCalendar.build(weekdays=[])
    with pytest.raises(ValueError, match="naive"):
        CAL.add_working_time(datetime(2026, 11, 18, 9), timedelta(hours=1))


def test_custom_hours_and_weekdays() -> None:
    # A desk that works Monday-Saturday, 08:30-12:00.
    cal = WorkingCalendar.build(start="08:30", end="12:00", weekdays=range(6))
    got = cal.add_working_time(cst(2026, 11, 20, 11), timedelta(hours=2))
    assert got == cst(2026, 11, 21, 9, 30)
