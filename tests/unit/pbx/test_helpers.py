"""Small pure helpers of the simulation."""

from __future__ import annotations

import pytest

from pbx.simulation import parse_caller_id, whole_seconds


def test_whole_seconds_survives_float_differences_of_epochs() -> None:
    start = 1795303935.123456
    assert whole_seconds((start + 1.0) - start) == 1
    assert whole_seconds(7.999) == 7
    assert whole_seconds(-0.5) == 0


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ('"Hotline test" <4000>', ("4000", "Hotline test")),
        ("Hotline drill <91234567>", ("91234567", "Hotline drill")),
        ("13800138000", ("13800138000", "")),
        ("", ("", "")),
    ],
)
def test_parse_caller_id(raw: str, parsed: tuple[str, str]) -> None:
    assert parse_caller_id(raw) == parsed
