"""Who plays which recording, which calls have one, and the retention cutoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routing.domain.recordings import (
    is_recording_name,
    may_play,
    recording_url,
    retention_cutoff,
)

T = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("supervisor", "user", "agent", "people", "allowed"),
    [
        (True, "sue", None, (), True),  # supervisors and admins: every recording
        (False, "alice", "alice", (), True),  # the agent who answered
        (False, "alice", "bob", ("alice",), True),  # the ticket's duty agent or owner
        (False, "alice", "bob", ("bob",), False),  # another agent's call and ticket
        (False, "alice", None, (), False),
        (False, "", None, ("",), False),
    ],
)
def test_may_play(
    supervisor: bool, user: str, agent: str | None, people: tuple[str, ...], allowed: bool
) -> None:
    assert (
        may_play(
            role_at_least_supervisor=supervisor,
            username=user,
            call_agent=agent,
            ticket_people=people,
        )
        is allowed
    )


def test_only_answered_calls_with_a_plain_file_name_have_a_url() -> None:
    assert recording_url("1796.5", "1796.5.wav", T) == "/api/calls/1796.5/recording"
    assert recording_url("1796.5", None, T) is None
    assert recording_url("1796.5", "1796.5.wav", None) is None  # nobody answered: empty file
    assert recording_url("a/b", "x.wav", T) == "/api/calls/a%2Fb/recording"
    for bad in ("../x.wav", "x/y.wav", ".hidden", "", "a..wav"):
        assert not is_recording_name(bad)
        assert recording_url("1", bad, T) is None


def test_retention_cutoff() -> None:
    assert retention_cutoff(T, 30) == T - timedelta(days=30)
    assert retention_cutoff(T, 0) is None
