"""Choosing the language, and writing times the way Chinese offices do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from translations import (
    check_language,
    format_duration,
    format_local,
    format_time_left,
    negotiate,
)


@pytest.mark.parametrize(
    ("chosen", "remembered", "accept", "default", "expected"),
    [
        (None, None, None, "zh-CN", "zh-CN"),  # nobody chose: HOTLINE_LOCALE
        (None, None, None, "en", "en"),
        (None, None, "en-US,en;q=0.9", "zh-CN", "en"),  # the browser's language
        (None, None, "fr-FR, en;q=0.5", "zh-CN", "en"),  # the best one we have
        (None, None, "en;q=0.3, zh-CN;q=0.8", "en", "zh-CN"),  # quality, not order
        (None, None, "zh-Hans-CN", "en", "zh-CN"),
        (None, None, "de, fr", "zh-CN", "zh-CN"),  # nothing we have: the default
        (None, None, "en;q=0", "zh-CN", "zh-CN"),  # q=0 means "not this"
        (None, "en", "zh-CN", "zh-CN", "en"),  # remembered beats the browser
        ("zh-CN", "en", "en", "en", "zh-CN"),  # an explicit ?lang= beats everything
        ("klingon", "en", None, "zh-CN", "en"),  # a junk choice is ignored
        (None, "junk", "xx;q=abc", "zh-CN", "zh-CN"),  # a malformed header is no error
    ],
)
def test_negotiation_order(
    chosen: str | None, remembered: str | None, accept: str | None, default: str, expected: str
) -> None:
    assert (
        negotiate(chosen=chosen, remembered=remembered, accept_language=accept, default=default)
        == expected
    )


def test_settings_names_are_checked() -> None:
    assert check_language("zh_CN") == "zh-CN"
    assert check_language("en-GB") == "en"
    with pytest.raises(ValueError, match="unsupported language"):
        check_language("fr")


def test_local_time_is_iso_date_and_24_hour_clock_in_the_desk_zone() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert format_local(datetime(2026, 12, 4, 17, 10, 41, tzinfo=UTC), shanghai) == (
        "2026-12-05 01:10"
    )
    assert format_local(datetime(2026, 12, 5, 13, 5), shanghai) == "2026-12-05 21:05"  # naive=UTC
    assert format_local(None, shanghai) == "—"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "00:00"),
        (7, "00:07"),
        (65.4, "01:05"),
        (3599, "59:59"),
        (3725, "1:02:05"),
        (-30, "-00:30"),
    ],
)
def test_durations_are_mm_ss(seconds: float, shown: str) -> None:
    assert format_duration(seconds) == shown


def test_sla_clocks_read_as_time_left() -> None:
    assert (
        format_time_left(timedelta(hours=1, minutes=50, seconds=20), "zh-CN") == "还剩 1 小时 50 分"
    )
    assert format_time_left(timedelta(minutes=-5, seconds=-10), "zh-CN") == "已超时 5 分"
    assert format_time_left(timedelta(minutes=45), "en") == "45 min left"
    assert format_time_left(timedelta(hours=-2), "en") == "overdue by 2 h 0 min"
