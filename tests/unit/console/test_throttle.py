"""Log-in throttling by (client, user name), with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.domain.throttle import LoginThrottle, ThrottlePolicy

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
