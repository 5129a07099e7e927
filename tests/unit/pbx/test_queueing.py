"""app_queue rules the stand-in reproduces."""

from __future__ import annotations

import pytest

from pbx.domain.queueing import (
    Strategy,
    caller_number_digits,
    choose_members,
    insert_position,
    is_our_turn,
    next_rr_position,
    rolling_average,
)


@pytest.mark.parametrize(
    ("waiting", "priority", "index"),
    [
        ([], 5, 0),
        ([5, 5], 5, 2),  # same priority: arrival order
        ([5, 5], 10, 0),  # level 1 jumps the queue
        ([10, 6, 5], 6, 2),
        ([10, 6, 5], 1, 3),
        ([10, 10, 6], 10, 2),
    ],
)
def test_insert_position(waiting: list[int], priority: int, index: int) -> None:
    assert insert_position(waiting, priority) == index


@pytest.mark.parametrize(
    ("position", "available", "turn"), [(1, 1, True), (2, 1, False), (2, 2, True), (1, 0, False)]
)
def test_is_our_turn(position: int, available: int, turn: bool) -> None:
    assert is_our_turn(position, available) is turn


MEMBERS = ["PJSIP/1003", "PJSIP/1002", "PJSIP/1001"]


@pytest.mark.parametrize(
    ("strategy", "available", "rr_next", "chosen"),
    [
        (Strategy.RINGALL, MEMBERS, 0, MEMBERS),
        (Strategy.RINGALL, ["PJSIP/1001"], 0, ["PJSIP/1001"]),
        (Strategy.RRMEMORY, MEMBERS, 0, ["PJSIP/1003"]),
        (Strategy.RRMEMORY, MEMBERS, 1, ["PJSIP/1002"]),
        (Strategy.RRMEMORY, ["PJSIP/1003"], 1, ["PJSIP/1003"]),  # wraps around
        (Strategy.RRMEMORY, [], 0, []),
    ],
)
def test_choose_members(
    strategy: Strategy, available: list[str], rr_next: int, chosen: list[str]
) -> None:
    assert choose_members(strategy, MEMBERS, available, rr_next) == chosen


def test_rrmemory_resumes_after_the_member_just_rung() -> None:
    assert next_rr_position(MEMBERS, "PJSIP/1003") == 1
    assert next_rr_position(MEMBERS, "PJSIP/1001") == 0
    assert next_rr_position(MEMBERS, "PJSIP/gone") == 0


@pytest.mark.parametrize(("old", "new", "avg"), [(0, 1, 1), (1, 11, 3), (7, 15, 9), (3, 0, 2)])
def test_rolling_average_matches_the_recordings(old: int, new: int, avg: int) -> None:
    assert rolling_average(old, new) == avg


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013", "+861380013"),
        ("abc", ""),
    ],
)
def test_caller_number_filter(raw: str, digits: str) -> None:
    assert caller_number_digits(raw) == digits


def test_caller_number_filter_drops_non_ascii_digits() -> None:
    assert caller_number_digits("١٢٣45") == "45"
