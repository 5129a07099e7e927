"""Log-in throttling by (client, user name), with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.domain.throttle import (
    Attempts,
    LoginThrottle,
    ThrottlePolicy,
    after_failure,
    keep_until,
    wait_needed,
)

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
POLICY = ThrottlePolicy(max_failures=3, window=timedelta(minutes=5), lockout=timedelta(minutes=2))


def test_locks_after_max_failures_then_frees() -> None:
    throttle = LoginThrottle(POLICY)
    for i in range(2):
        throttle.failed("10.0.0.1", "alice", T0 + timedelta(seconds=i))
        assert throttle.wait_needed("10.0.0.1", "alice", T0 + timedelta(seconds=i)) is None
    throttle.failed("10.0.0.1", "Alice", T0 + timedelta(seconds=2))  # names fold case
    assert throttle.wait_needed("10.0.0.1", "alice", T0 + timedelta(seconds=3)) == timedelta(
        minutes=2, seconds=-1
    )
    assert throttle.wait_needed("10.0.0.2", "alice", T0) is None  # another desk may log in
    assert throttle.wait_needed("10.0.0.1", "bob", T0) is None
    assert throttle.wait_needed("10.0.0.1", "alice", T0 + timedelta(minutes=3)) is None


def test_failures_outside_the_window_do_not_add_up() -> None:
    throttle = LoginThrottle(POLICY)
    for minutes in (0, 6, 12, 18):
        throttle.failed("c", "alice", T0 + timedelta(minutes=minutes))
    assert throttle.wait_needed("c", "alice", T0 + timedelta(minutes=18)) is None


def test_success_clears_the_count() -> None:
    throttle = LoginThrottle(POLICY)
    throttle.failed("c", "alice", T0)
    throttle.failed("c", "alice", T0)
    throttle.succeeded("c", "alice")
    throttle.failed("c", "alice", T0)
    assert throttle.wait_needed("c", "alice", T0) is None


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(ThrottlePolicy(max_tracked=100))
    for i in range(1000):
        throttle.failed("c", f"user{i}", T0)
    assert len(throttle._attempts) <= 100


# --- the rules one pair at a time (what the shared throttle applies in Redis) -----------


def _at(*seconds: float) -> tuple[datetime, ...]:
    return tuple(T0 + timedelta(seconds=s) for s in seconds)


@pytest.mark.parametrize(
    ("before", "failure_at", "after"),
    [
        (None, 0, Attempts(_at(0))),
        (Attempts(_at(0)), 10, Attempts(_at(0, 10))),
        # The third failure inside the window locks for `lockout` and starts a new count.
        (Attempts(_at(0, 10)), 20, Attempts((), T0 + timedelta(seconds=20, minutes=2))),
        # Failures older than the window no longer count.
        (Attempts(_at(0, 10)), 400, Attempts(_at(400))),
        (Attempts(_at(0, 200)), 320, Attempts(_at(200, 320))),
    ],
)
def test_after_failure(before: Attempts | None, failure_at: float, after: Attempts) -> None:
    assert after_failure(before, T0 + timedelta(seconds=failure_at), POLICY) == after


@pytest.mark.parametrize(
    ("attempts", "now", "wait"),
    [
        (None, 0, None),
        (Attempts(_at(0, 1)), 2, None),
        (Attempts((), T0 + timedelta(seconds=60)), 20, timedelta(seconds=40)),
        (Attempts((), T0 + timedelta(seconds=60)), 60, None),
    ],
)
def test_wait_needed(attempts: Attempts | None, now: float, wait: timedelta | None) -> None:
    assert wait_needed(attempts, T0 + timedelta(seconds=now)) == wait


@pytest.mark.parametrize(
    ("attempts", "until"),
    [
        (Attempts(), None),
        (Attempts(_at(0, 30)), T0 + timedelta(seconds=30, minutes=5)),
        (Attempts((), T0 + timedelta(minutes=2)), T0 + timedelta(minutes=2)),
        (Attempts(_at(0), T0 + timedelta(minutes=9)), T0 + timedelta(minutes=9)),
    ],
)
def test_keep_until(attempts: Attempts, until: datetime | None) -> None:
    assert keep_until(attempts, POLICY) == until
