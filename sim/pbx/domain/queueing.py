"""Queue rules of app_queue that the stand-in reproduces: caller order and member choice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class Strategy(Enum):
    RINGALL = "ringall"
    RRMEMORY = "rrmemory"


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    strategy: Strategy
    member_timeout: float  # seconds a member rings before RingNoAnswer
    retry: float  # seconds between attempts
    join_empty: bool = True
    max_len: int = 0  # 0 = unlimited


def insert_position(waiting_priorities: Sequence[int], priority: int) -> int:
    """0-based index where a new caller goes: after every caller of the same or higher
    priority (app_queue's `join_queue`), so arrival order is kept within a priority."""
    for index, other in enumerate(waiting_priorities):
        if priority > other:
            return index
    return len(waiting_priorities)


def is_our_turn(position: int, available_members: int) -> bool:
    """app_queue with autofill: the first N callers ring when N members are free (1-based)."""
    return position <= max(available_members, 0)


def choose_members(
    strategy: Strategy, members: Sequence[str], available: Sequence[str], rr_next: int
) -> list[str]:
    """Members to ring for one attempt.

    ringall rings every available member; rrmemory rings the first available member at or
    after the remembered position `rr_next` (an index into `members`, in the order they were
    added), wrapping around.
    """
    free = set(available)
    if strategy is Strategy.RINGALL:
        return [m for m in members if m in free]
    count = len(members)
    for offset in range(count):
        candidate = members[(rr_next + offset) % count]
        if candidate in free:
            return [candidate]
    return []


def next_rr_position(members: Sequence[str], rung: str) -> int:
    """After ringing `rung`, rrmemory resumes with the member after it."""
    try:
        return (list(members).index(rung) + 1) % max(len(members), 1)
    except ValueError:
        return 0


def rolling_average(old: int, new: int) -> int:
    """app_queue's hold/talk time average: (3 * old + new) / 4, integer seconds; the first
    sample is taken as it is (the recordings show Holdtime 1 after one 1 s wait)."""
    if old == 0:
        return new
    return (old * 3 + new) // 4


def caller_number_digits(raw: str) -> str:
    """Set(CALLERID(num)=${FILTER(0-9+,${CALLERID(num)})}): digits and `+` only."""
    return "".join(ch for ch in raw if ch.isdigit() and ch.isascii() or ch == "+")
