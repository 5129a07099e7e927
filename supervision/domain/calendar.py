"""Working-hours calendar: deadlines stated in working hours (e-mail acknowledgement: 2 h).

Pure: time is always passed in. Times are aware datetimes; the calendar's own zone
decides what "09:00 on a weekday" means.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from supervision.domain.errors import SupervisionConfigError

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
# A calendar with no working day for this long is misconfigured, not merely a long holiday.
_MAX_SEARCH_DAYS = 800


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days and hours, public holidays and make-up working days (调休)."""

    zone: tzinfo = CHINA_STANDARD_TIME
    start: time = time(9, 0)
    end: time = time(18, 0)
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise SupervisionConfigError("working hours must start before they end")
        if not self.weekdays and not self.extra_workdays:
            raise SupervisionConfigError("a working calendar needs at least one working day")
        if any(d not in range(7) for d in self.weekdays):
            raise SupervisionConfigError("weekdays are 0 (Monday) to 6 (Sunday)")

    @classmethod
    def build(
        cls,
        *,
        zone: tzinfo = CHINA_STANDARD_TIME,
        start: str = "09:00",
        end: str = "18:00",
        weekdays: Iterable[int] = (0, 1, 2, 3, 4),
        holidays: Iterable[str | date] = (),
        extra_workdays: Iterable[str | date] = (),
    ) -> WorkingCalendar:
        """From configuration strings (``"09:00"``, ISO dates)."""
        try:
            return cls(
                zone=zone,
                start=time.fromisoformat(start),
                end=time.fromisoformat(end),
                weekdays=frozenset(int(d) for d in weekdays),
                holidays=frozenset(_as_date(d) for d in holidays),
                extra_workdays=frozenset(_as_date(d) for d in extra_workdays),
            )
        except ValueError as exc:
            raise SupervisionConfigError(f"bad working calendar: {exc}") from exc

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() in self.weekdays

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return (
            datetime.combine(day, self.start, self.zone),
            datetime.combine(day, self.end, self.zone),
        )

    def is_working_time(self, at: datetime) -> bool:
        local = _aware(at).astimezone(self.zone)
        if not self.is_working_day(local.date()):
            return False
        opens, closes = self._window(local.date())
        return opens <= local < closes

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The instant `amount` of working time after `start` (returned in UTC)."""
        if amount < timedelta(0):
            raise ValueError("working time to add must not be negative")
        if not amount:
            return _aware(start).astimezone(UTC)
        cursor = _aware(start).astimezone(self.zone)
        remaining = amount
        day = cursor.date()
        for _ in range(_MAX_SEARCH_DAYS):
            if self.is_working_day(day):
                opens, closes = self._window(day)
                begin = max(cursor, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(UTC)
                    remaining -= available
            day += timedelta(days=1)
            cursor = datetime.combine(day, time(0), self.zone)
        raise SupervisionConfigError("working calendar has no working time in the next 800 days")

    @property
    def working_day(self) -> timedelta:
        """The working time of one working day (09:00-18:00: 9 h)."""
        return datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)

    def add_working_days(self, start: datetime, days: float) -> datetime:
        """`days` full working days of working time after `start` (returned in UTC): from
        Friday 15:00, two 9-hour working days end on Tuesday 15:00."""
        return self.add_working_time(start, self.working_day * days)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time elapsed from `start` to `end` (zero if `end` is not after `start`)."""
        a = _aware(start).astimezone(self.zone)
        b = _aware(end).astimezone(self.zone)
        total = timedelta(0)
        day = a.date()
        while day <= b.date():
            if self.is_working_day(day):
                opens, closes = self._window(day)
                lo, hi = max(a, opens), min(b, closes)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at.isoformat()} (times must carry a UTC offset)")
    return at


def _as_date(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
