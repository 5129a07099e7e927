"""The RMA form's spare-part dates and the part clocks' times, kept in step.

The form has always recorded when a spare part was sent and received as dates; the part
clocks need times. A date entered without a time stops the clock at the end of that day
in the desk's zone, or at the moment of entry if that is earlier (a part entered as sent
"today" was sent by now); a time entered without a date fills the date in. Whatever the
agent typed explicitly wins, and nothing already recorded is overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

# (form date field, clock time field)
PAIRS = (("spare_sent_on", "part_sent_at"), ("spare_received_on", "part_received_at"))


def end_of_day(day: date, zone: tzinfo) -> datetime | None:
    """The last second of `day` in `zone`; None at the end of the calendar (9999-12-31)."""
    try:
        return datetime.combine(day + timedelta(days=1), time(0), zone) - timedelta(seconds=1)
    except OverflowError:
        return None


def _local_date(moment: datetime, zone: tzinfo) -> date:
    try:
        return moment.astimezone(zone).date()
    except OverflowError:  # within hours of datetime.max: the stored date is close enough
        return moment.date()


def matching_part_fields(
    changes: Mapping[str, Any], current: Mapping[str, Any], at: datetime, zone: tzinfo
) -> dict[str, Any]:
    """The companion fields to set along with `changes` (`current`: the stored values)."""
    out: dict[str, Any] = {}
    for date_field, time_field in PAIRS:
        day = changes.get(date_field)
        if day is not None and time_field not in changes and current.get(time_field) is None:
            end = end_of_day(day, zone) if 2000 <= day.year <= 2100 else None
            if end is not None:  # a date out of any plausible range starts no clock
                out[time_field] = min(end, at)
        moment = changes.get(time_field)
        if moment is not None and date_field not in changes and current.get(date_field) is None:
            out[date_field] = _local_date(moment, zone)
    return out
