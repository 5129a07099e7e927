"""Presence bookkeeping of one process, and the merge of several processes' views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.domain.presence import ConsoleSeen, PresenceTable, merge_presence
from console.domain.throttle import Attempts
from console.redis_state import decode_attempts, decode_seen, encode_attempts, encode_seen

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_connections_count_up_and_down() -> None:
    table = PresenceTable()
    table.connected("alice", "agent", at(0))
    table.connected("alice", "agent", at(1))  # a second tab
    table.heartbeat("alice", at(5))
    table.heartbeat("nobody", at(5))  # unknown: ignored
    assert table.snapshot() == [ConsoleSeen("alice", "agent", 2, at(5))]
    table.disconnected("alice", at(6))
    assert table.get("alice") == ConsoleSeen("alice", "agent", 1, at(6))
    table.disconnected("alice", at(7))
    table.disconnected("alice", at(8))
    assert table.snapshot() == []


def test_views_of_several_processes_merge_per_user() -> None:
    a = [ConsoleSeen("alice", "agent", 1, at(10)), ConsoleSeen("sue", "supervisor", 1, at(3))]
    b = [ConsoleSeen("alice", "agent", 2, at(4)), ConsoleSeen("bob", "agent", 1, at(9))]
    c = [ConsoleSeen("sue", "admin", 1, at(30))]  # role changed: the latest line wins
    assert merge_presence([a, b, c]) == [
        ConsoleSeen("alice", "agent", 3, at(10)),
        ConsoleSeen("bob", "agent", 1, at(9)),
        ConsoleSeen("sue", "admin", 2, at(30)),
    ]
    assert merge_presence([]) == []


def test_records_survive_their_redis_encoding() -> None:
    seen = ConsoleSeen("alice", "agent", 2, at(1.5))
    assert decode_seen("alice", encode_seen(seen)) == seen
    assert decode_seen("alice", b"not json") is None
    attempts = Attempts((at(1), at(2.25)), at(300))
    assert decode_attempts(encode_attempts(attempts)) == attempts
    assert decode_attempts(encode_attempts(Attempts())) == Attempts()
    assert decode_attempts(None) is None
    assert decode_attempts(b'{"f": "x"}') is None
