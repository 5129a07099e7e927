"""The emergency state machine: normal → emergency → recovering (backfill open) → normal.

Pure: every function takes the current `ModeState`, the `EmergencyPolicy` and the time, and
returns a `Step` (the new state, the audit records to keep, and what the PBX must do). The
service journals the step before it acts on it, so a restart resumes in the same mode.

Rules:
* Automatic entry after `failures_to_enter` consecutive failed health rounds.
* Exit is automatic (`auto_exit`) only when the entry was automatic; otherwise, after
  `successes_to_exit` healthy rounds, an `exit_recommended` notice asks a supervisor.
* Hold-down: no automatic transition within `hold_down` of the previous transition.
* A supervisor may flip either way at any time, with a mandatory reason. A manual exit
  while checks still fail disarms automatic entry until a healthy round is seen (the
  supervisor has judged the alarm false; the watch must not flip straight back).
* Flipping to the mode already in force changes nothing and is audited as `unchanged`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from fallback.domain.forms import single_line
from fallback.errors import InvalidRequest
from fallback.records import AuditRecord

WATCH = "health-watch"


class Mode(StrEnum):
    NORMAL = "normal"
    EMERGENCY = "emergency"
    RECOVERING = "recovering"  # routing back to normal, backfill still open


class Verdict(StrEnum):
    HEALTHY = "healthy"
    FAILING = "failing"
    INCONCLUSIVE = "inconclusive"  # counts neither way


class SwitchCommand(StrEnum):
    ENTER = "enter"  # route new calls to the emergency queue, move waiting callers
    EXIT = "exit"  # route new calls to the main queue again


@dataclass(frozen=True, slots=True)
class EmergencyPolicy:
    failures_to_enter: int = 3
    successes_to_exit: int = 3
    hold_down: timedelta = timedelta(seconds=60)
    auto_exit: bool = False

    def __post_init__(self) -> None:
        if self.failures_to_enter < 1 or self.successes_to_exit < 1:
            raise InvalidRequest("failures_to_enter and successes_to_exit must be at least 1")
        if self.hold_down < timedelta(0):
            raise InvalidRequest("hold_down must not be negative")


@dataclass(frozen=True, slots=True)
class ModeState:
    mode: Mode = Mode.NORMAL
    since: datetime | None = None
    reason: str | None = None
    by: str | None = None
    automatic: bool = False  # the last transition was made by the health watch
    last_switch_at: datetime | None = None
    entered_at: datetime | None = None  # start of the current/last emergency period
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    auto_entry_armed: bool = True
    exit_recommended: bool = False

    @property
    def active(self) -> bool:
        return self.mode is Mode.EMERGENCY

    def as_json(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return None if v is None else v.isoformat()

        return {
            "mode": self.mode.value,
            "since": iso(self.since),
            "reason": self.reason,
            "by": self.by,
            "automatic": self.automatic,
            "last_switch_at": iso(self.last_switch_at),
            "entered_at": iso(self.entered_at),
            "auto_entry_armed": self.auto_entry_armed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModeState:
        """Restore after a restart; health counters start afresh."""

        def dt(key: str) -> datetime | None:
            raw = data.get(key)
            return None if raw is None else datetime.fromisoformat(str(raw))

        return cls(
            mode=Mode(str(data["mode"])),
            since=dt("since"),
            reason=data.get("reason"),
            by=data.get("by"),
            automatic=bool(data.get("automatic", False)),
            last_switch_at=dt("last_switch_at"),
            entered_at=dt("entered_at"),
            auto_entry_armed=bool(data.get("auto_entry_armed", True)),
        )


@dataclass(frozen=True, slots=True)
class Step:
    state: ModeState
    audit: tuple[AuditRecord, ...] = ()
    command: SwitchCommand | None = None


def _held_down(state: ModeState, policy: EmergencyPolicy, at: datetime) -> bool:
    return state.last_switch_at is not None and at - state.last_switch_at < policy.hold_down


def _audit(
    state: ModeState,
    to: Mode,
    *,
    at: datetime,
    action: str,
    outcome: str,
    by: str,
    reason: str,
    automatic: bool,
    duration: timedelta | None = None,
) -> AuditRecord:
    return AuditRecord(
        at=at,
        action=action,
        outcome=outcome,
        from_state=state.mode.value,
        to_state=to.value,
        by=by,
        reason=reason,
        automatic=automatic,
        duration_seconds=None if duration is None else duration.total_seconds(),
    )


def _enter(state: ModeState, *, at: datetime, by: str, reason: str, automatic: bool) -> Step:
    new = replace(
        state,
        mode=Mode.EMERGENCY,
        since=at,
        reason=reason,
        by=by,
        automatic=automatic,
        last_switch_at=at,
        entered_at=at,
        consecutive_successes=0,
        exit_recommended=False,
    )
    record = _audit(
        state,
        Mode.EMERGENCY,
        at=at,
        action="auto_enter" if automatic else "enter",
        outcome="switched",
        by=by,
        reason=reason,
        automatic=automatic,
    )
    return Step(new, (record,), SwitchCommand.ENTER)


def _exit(
    state: ModeState, *, at: datetime, by: str, reason: str, automatic: bool, disarm: bool
) -> Step:
    new = replace(
        state,
        mode=Mode.RECOVERING,
        since=at,
        reason=reason,
        by=by,
        automatic=automatic,
        last_switch_at=at,
        consecutive_failures=state.consecutive_failures,
        auto_entry_armed=not disarm,
        exit_recommended=False,
    )
    duration = None if state.entered_at is None else at - state.entered_at
    record = _audit(
        state,
        Mode.RECOVERING,
        at=at,
        action="auto_exit" if automatic else "exit",
        outcome="switched",
        by=by,
        reason=reason,
        automatic=automatic,
        duration=duration,
    )
    return Step(new, (record,), SwitchCommand.EXIT)


def observe(
    state: ModeState, policy: EmergencyPolicy, verdict: Verdict, at: datetime, detail: str = ""
) -> Step:
    """Feed one health round's verdict."""
    if verdict is Verdict.INCONCLUSIVE:
        return Step(state)
    if verdict is Verdict.FAILING:
        failing = replace(
            state,
            consecutive_failures=state.consecutive_failures + 1,
            consecutive_successes=0,
            exit_recommended=False,
        )
        if (
            failing.mode is not Mode.EMERGENCY
            and failing.auto_entry_armed
            and failing.consecutive_failures >= policy.failures_to_enter
            and not _held_down(failing, policy, at)
        ):
            reason = f"{failing.consecutive_failures} consecutive failed health checks"
            if detail:
                reason += f": {detail}"
            return _enter(failing, at=at, by=WATCH, reason=reason, automatic=True)
        return Step(failing)

    healthy = replace(
        state,
        consecutive_failures=0,
        consecutive_successes=state.consecutive_successes + 1,
        auto_entry_armed=True,
    )
    if healthy.mode is not Mode.EMERGENCY or healthy.consecutive_successes < (
        policy.successes_to_exit
    ):
        return Step(healthy)
    if policy.auto_exit and healthy.automatic and not _held_down(healthy, policy, at):
        reason = f"{healthy.consecutive_successes} consecutive healthy checks"
        return _exit(healthy, at=at, by=WATCH, reason=reason, automatic=True, disarm=False)
    if healthy.exit_recommended:
        return Step(healthy)
    record = _audit(
        healthy,
        Mode.EMERGENCY,
        at=at,
        action="exit_recommended",
        outcome="unchanged",
        by=WATCH,
        reason=f"main seat system healthy for {healthy.consecutive_successes} checks; "
        "a supervisor may switch back",
        automatic=True,
    )
    return Step(replace(healthy, exit_recommended=True), (record,))


def request(state: ModeState, active: bool, *, by: str, reason: str, at: datetime) -> Step:
    """A supervisor flips the mode by hand (reason mandatory)."""
    by = single_line(by, "who flips the mode", limit=None)
    reason = single_line(reason, "a reason", limit=None)
    if active:
        if state.mode is Mode.EMERGENCY:
            record = _audit(
                state,
                state.mode,
                at=at,
                action="enter",
                outcome="unchanged",
                by=by,
                reason=reason,
                automatic=False,
            )
            return Step(state, (record,))
        return _enter(state, at=at, by=by, reason=reason, automatic=False)
    if state.mode is not Mode.EMERGENCY:
        record = _audit(
            state,
            state.mode,
            at=at,
            action="exit",
            outcome="unchanged",
            by=by,
            reason=reason,
            automatic=False,
        )
        return Step(state, (record,))
    return _exit(
        state,
        at=at,
        by=by,
        reason=reason,
        automatic=False,
        disarm=state.consecutive_failures > 0,
    )


def close_backfill(state: ModeState, *, by: str, at: datetime, missing: int) -> Step:
    """Recovering → normal once every emergency call is accounted for (`missing` == 0).

    Raises `InvalidRequest` in emergency mode; the caller raises `BackfillIncomplete`
    with the list when `missing` > 0 (this function refuses too, as a safety net).
    """
    by = single_line(by, "who closes the backfill", limit=None)
    if state.mode is Mode.EMERGENCY:
        raise InvalidRequest("still in emergency mode: switch back before closing the backfill")
    if missing > 0:
        raise InvalidRequest(f"{missing} emergency call(s) are not accounted for")
    if state.mode is Mode.NORMAL:
        record = _audit(
            state,
            state.mode,
            at=at,
            action="close_backfill",
            outcome="unchanged",
            by=by,
            reason="backfill complete",
            automatic=False,
        )
        return Step(state, (record,))
    new = replace(
        state, mode=Mode.NORMAL, since=at, reason="backfill complete", by=by, automatic=False
    )
    record = _audit(
        state,
        Mode.NORMAL,
        at=at,
        action="close_backfill",
        outcome="switched",
        by=by,
        reason="backfill complete",
        automatic=False,
    )
    return Step(new, (record,))
