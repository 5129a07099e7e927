"""The emergency state machine, driven by tables and a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fallback.domain import mode as md
from fallback.errors import InvalidRequest
from fallback.records import AuditRecord

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
F, H, U = md.Verdict.FAILING, md.Verdict.HEALTHY, md.Verdict.INCONCLUSIVE


def run(
    policy: md.EmergencyPolicy,
    script: list[tuple[float, object]],
    state: md.ModeState | None = None,
):
    """Script rows: (seconds since T0, verdict | ("flip", active, by, reason) | ("close",)).
    Returns the final state and the trail of (t, mode, command) after each row."""
    s = state or md.ModeState()
    trail = []
    audit = []
    for t, what in script:
        at = T0 + timedelta(seconds=t)
        if isinstance(what, md.Verdict):
            step = md.observe(s, policy, what, at, "database failed")
        elif what[0] == "flip":
            step = md.request(s, what[1], by=what[2], reason=what[3], at=at)
        else:
            step = md.close_backfill(s, by="lead", at=at, missing=0)
        s = step.state
        audit.extend(step.audit)
        trail.append((t, s.mode.value, None if step.command is None else step.command.value))
    return s, trail, audit


POLICY = md.EmergencyPolicy(
    failures_to_enter=3, successes_to_exit=2, hold_down=timedelta(seconds=60), auto_exit=True
)


@pytest.mark.parametrize(
    ("name", "policy", "script", "modes", "commands"),
    [
        (
            "three failures enter",
            POLICY,
            [(0, F), (5, F), (10, F)],
            ["normal", "normal", "emergency"],
            [None, None, "enter"],
        ),
        (
            "a healthy round resets the count",
            POLICY,
            [(0, F), (5, F), (10, H), (15, F), (20, F)],
            ["normal"] * 5,
            [None] * 5,
        ),
        (
            "inconclusive rounds count neither way",
            POLICY,
            [(0, F), (5, U), (10, F), (15, U), (20, F)],
            ["normal"] * 4 + ["emergency"],
            [None] * 4 + ["enter"],
        ),
        (
            "automatic exit waits for the hold-down",
            POLICY,
            [(0, F), (5, F), (10, F), (15, H), (20, H), (70, H)],
            ["normal", "normal", "emergency", "emergency", "emergency", "recovering"],
            [None, None, "enter", None, None, "exit"],
        ),
        (
            "no flapping: re-entry held down after an exit",
            POLICY,
            [(0, F), (5, F), (10, F), (70, H), (75, H), (80, F), (85, F), (90, F), (140, F)],
            [
                "normal",
                "normal",
                "emergency",
                "emergency",
                "recovering",
                "recovering",
                "recovering",
                "recovering",
                "emergency",
            ],
            [None, None, "enter", None, "exit", None, None, None, "enter"],
        ),
        (
            "supervisor-confirmed exit: healthy rounds only recommend",
            md.EmergencyPolicy(failures_to_enter=1, successes_to_exit=2, auto_exit=False),
            [(0, F), (100, H), (105, H), (110, H), (200, ("flip", False, "lead", "db back"))],
            ["emergency", "emergency", "emergency", "emergency", "recovering"],
            ["enter", None, None, None, "exit"],
        ),
        (
            "manual entry is never undone automatically",
            POLICY,
            [(0, ("flip", True, "lead", "consoles frozen")), (100, H), (105, H), (200, H)],
            ["emergency"] * 4,
            ["enter", None, None, None],
        ),
        (
            "manual exit while failing disarms automatic entry until healthy",
            md.EmergencyPolicy(failures_to_enter=2, hold_down=timedelta(0)),
            [
                (0, F),
                (5, F),
                (10, ("flip", False, "lead", "false alarm")),
                (15, F),
                (20, F),
                (25, F),
                (30, H),
                (35, F),
                (40, F),
            ],
            [
                "normal",
                "emergency",
                "recovering",
                "recovering",
                "recovering",
                "recovering",
                "recovering",
                "recovering",
                "emergency",
            ],
            [None, "enter", "exit", None, None, None, None, None, "enter"],
        ),
        (
            "manual flips ignore the hold-down",
            POLICY,
            [
                (0, ("flip", True, "lead", "drill")),
                (1, ("flip", False, "lead", "done")),
                (2, ("flip", True, "lead", "again")),
            ],
            ["emergency", "recovering", "emergency"],
            ["enter", "exit", "enter"],
        ),
        (
            "full cycle back to normal",
            POLICY,
            [
                (0, ("flip", True, "lead", "db down")),
                (600, ("flip", False, "lead", "db up")),
                (900, ("close",)),
            ],
            ["emergency", "recovering", "normal"],
            ["enter", "exit", None],
        ),
    ],
)
def test_state_machine_table(name, policy, script, modes, commands) -> None:
    _state, trail, _audit = run(policy, script)
    assert [m for _t, m, _c in trail] == modes, name
    assert [c for _t, _m, c in trail] == commands, name


def test_every_transition_is_audited_with_who_when_why_and_duration() -> None:
    _s, _trail, audit = run(
        POLICY,
        [(0, F), (5, F), (10, F), (15, H), (20, H), (100, H), (200, ("close",))],
    )
    assert [(a.action, a.outcome) for a in audit] == [
        ("auto_enter", "switched"),
        ("exit_recommended", "unchanged"),  # healthy, but still inside the hold-down
        ("auto_exit", "switched"),
        ("close_backfill", "switched"),
    ]
    enter, _recommended, leave, close = audit
    assert enter.by == md.WATCH and enter.automatic
    assert enter.at == T0 + timedelta(seconds=10)
    assert "3 consecutive failed health checks" in enter.reason
    assert "database failed" in enter.reason
    assert leave.duration_seconds == 90.0
    assert (close.from_state, close.to_state, close.by) == ("recovering", "normal", "lead")


@pytest.mark.parametrize("active", [True, False])
def test_double_flip_is_idempotent_and_audited(active: bool) -> None:
    start = md.ModeState(mode=md.Mode.EMERGENCY if active else md.Mode.NORMAL)
    step = md.request(start, active, by="lead", reason="again", at=T0)
    assert step.command is None
    assert step.state == start
    assert [(a.action, a.outcome, a.by, a.reason) for a in step.audit] == [
        ("enter" if active else "exit", "unchanged", "lead", "again")
    ]


def test_exit_recommendation_is_audited_once() -> None:
    policy = md.EmergencyPolicy(failures_to_enter=1, successes_to_exit=2)
    s, _trail, audit = run(policy, [(0, F), (5, H), (10, H), (15, H), (20, H)])
    assert s.exit_recommended
    assert [a.action for a in audit] == ["auto_enter", "exit_recommended"]
    s2 = md.observe(s, policy, F, T0 + timedelta(seconds=30)).state
    assert not s2.exit_recommended


@pytest.mark.parametrize(
    ("by", "reason"),
    [("lead", ""), ("lead", "   "), ("", "db down"), ("lead", "a\r\nEvil: 1"), ("x\n", "ok")],
)
def test_flip_requires_who_and_a_single_line_reason(by: str, reason: str) -> None:
    with pytest.raises(InvalidRequest):
        md.request(md.ModeState(), True, by=by, reason=reason, at=T0)


def test_close_backfill_rules() -> None:
    with pytest.raises(InvalidRequest, match="still in emergency"):
        md.close_backfill(md.ModeState(mode=md.Mode.EMERGENCY), by="lead", at=T0, missing=0)
    with pytest.raises(InvalidRequest, match="not accounted"):
        md.close_backfill(md.ModeState(mode=md.Mode.RECOVERING), by="lead", at=T0, missing=2)
    same = md.close_backfill(md.ModeState(), by="lead", at=T0, missing=0)
    assert same.state == md.ModeState() and same.audit[0].outcome == "unchanged"


def test_state_survives_json_round_trip() -> None:
    s, _t, _a = run(POLICY, [(0, F), (5, F), (10, F)])
    restored = md.ModeState.from_json(s.as_json())
    assert (
        restored.mode,
        restored.since,
        restored.reason,
        restored.by,
        restored.automatic,
        restored.entered_at,
    ) == (s.mode, s.since, s.reason, s.by, s.automatic, s.entered_at)
    assert restored.consecutive_failures == 0  # counters start afresh after a restart


def test_the_audit_survives_json_round_trip() -> None:
    _s, _t, audit = run(POLICY, [(0, F), (5, F), (10, F), (15, H), (20, H), (100, H)])
    assert any(a.duration_seconds for a in audit)
    assert [AuditRecord.from_json(a.as_json()) for a in audit] == audit


def test_policy_validation() -> None:
    with pytest.raises(InvalidRequest):
        md.EmergencyPolicy(failures_to_enter=0)
    with pytest.raises(InvalidRequest):
        md.EmergencyPolicy(hold_down=timedelta(seconds=-1))
