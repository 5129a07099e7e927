from datetime import UTC, datetime, timedelta

import pytest

from routing.domain.levels import EscalationStep, FaultLevel, SlaPolicy
from routing.records import TicketStatus
from supervision.domain.calendar import WorkingCalendar
from supervision.domain.escalation import (
    Action,
    ActionKind,
    ChannelKind,
    NoticeRecord,
    StepRecord,
    SupervisionPolicy,
    due_actions,
    escalation_key,
)
from supervision.domain.sla import Pause, SlaTicket

# Wednesday 2026-11-18 10:00 Beijing time.
T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
POLICY = SupervisionPolicy()


def m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


def ticket(level: int, number: str = "T1", **kw: object) -> SlaTicket:
    base: dict[str, object] = {
        "number": number,
        "level": FaultLevel(level),
        "status": TicketStatus.OPEN,
        "created_at": T0,
        "responded_at": T0 + m(1),  # keep breach notices out of ladder tests
        "onsite_at": T0 + m(2),
    }
    base.update(kw)
    return SlaTicket(**base)  # type: ignore[arg-type]


def ladder_keys(actions: list[Action]) -> list[str]:
    return [a.key for a in actions if a.kind is ActionKind.ESCALATION]


@pytest.mark.parametrize(
    ("level", "minutes", "steps"),
    [
        (1, 14, []),
        (1, 15, [0]),
        (1, 31, [0, 1]),
        (1, 59, [0, 1, 2]),
        (1, 60, [0, 1, 2, 3]),
        (1, 125, [0, 1, 2, 3, 4]),
        (2, 15, [0]),
        (2, 44, [0]),
        (2, 45, [0, 1]),
        (2, 300, [0, 1, 2]),
        (3, 59, [0]),
        (3, 60, [0, 1]),
        (4, 15, [0]),
        (4, 600, [0]),
    ],
)
def test_ladder_steps_due(level: int, minutes: int, steps: list[int]) -> None:
    actions = due_actions([ticket(level)], {}, T0 + m(minutes), POLICY)
    assert ladder_keys(actions) == [escalation_key("T1", FaultLevel(level), i) for i in steps]


def test_step_targets_come_from_the_policy() -> None:
    actions = due_actions([ticket(1)], {}, T0 + m(61), POLICY)
    targets = {a.step_index: a.targets for a in actions if a.kind is ActionKind.ESCALATION}
    assert targets[0] == ("duty_engineer", "responsible_manager")
    assert targets[3] == ("service_centre_head", "remote_expert")
    custom = SupervisionPolicy(
        sla=SlaPolicy.from_mapping(
            {"escalation": {"4": [{"after_minutes": 5, "targets": ["helpdesk"]}]}}
        )
    )
    got = due_actions([ticket(4)], {}, T0 + m(5), custom)
    assert [a.targets for a in got] == [("helpdesk",)]


def test_resolved_tickets_and_pauses_stop_the_ladder() -> None:
    done = ticket(1, status=TicketStatus.RESOLVED, resolved_at=T0 + m(10))
    assert due_actions([done], {}, T0 + m(200), POLICY) == []
    waiting = ticket(2, pauses=(Pause(T0 + m(5)),))
    assert due_actions([waiting], {}, T0 + m(200), POLICY) == []
    # Paused 20 minutes: step 0 (15 min) falls due at minute 35.
    was_waiting = ticket(2, pauses=(Pause(T0 + m(5), T0 + m(25)),))
    assert ladder_keys(due_actions([was_waiting], {}, T0 + m(34), POLICY)) == []
    actions = due_actions([was_waiting], {}, T0 + m(35), POLICY)
    assert [a.due_at for a in actions] == [T0 + m(35)]


def acked(key: str, at: datetime) -> StepRecord:
    return StepRecord(key, "T1", at, (NoticeRecord(ChannelKind.IM, at, at + m(1)),))


def run_scheduler(
    tickets: list[SlaTicket],
    start: datetime,
    end: datetime,
    tick: timedelta,
    log: dict[str, StepRecord],
    *,
    crash: tuple[datetime, datetime] | None = None,
) -> list[str]:
    """Tick like the scheduler; during `crash` nothing runs. Every notice is acked at once."""
    sent: list[str] = []
    now = start
    while now <= end:
        if crash is None or not (crash[0] <= now < crash[1]):
            for action in due_actions(tickets, log, now, POLICY):
                log[action.key] = acked(action.key, now)
                sent.append(action.key)
        now += tick
    return sent


def test_restart_mid_escalation_neither_duplicates_nor_skips() -> None:
    tickets = [ticket(1, "T1"), ticket(2, "T2", created_at=T0 + m(3))]
    straight = run_scheduler(tickets, T0, T0 + m(130), m(1), {})
    # Controller down from minute 20 to minute 70: steps 30/45/60 fall due while it is down.
    log: dict[str, StepRecord] = {}
    before = run_scheduler(tickets, T0, T0 + m(19), m(1), log)
    after = run_scheduler(tickets, T0 + m(70), T0 + m(130), m(1), log)
    crashed = before + after
    assert sorted(crashed) == sorted(set(crashed)), "a step was sent twice"
    esc = {k for k in straight if "/esc/" in k}
    assert esc == {k for k in crashed if "/esc/" in k}, "a step was skipped"
    assert len([k for k in straight if "/esc/1/" in k]) == 5
    # The same plan again after the restart is empty: nothing left to send.
    assert due_actions(tickets, log, T0 + m(130), POLICY) == []


def test_progress_reports_hourly_for_level_one_only() -> None:
    log: dict[str, StepRecord] = {}
    sent = run_scheduler([ticket(1), ticket(2, "T2")], T0, T0 + m(185), m(5), log)
    assert [k for k in sent if "/progress/" in k] == [
        "T1/progress/1",
        "T1/progress/2",
        "T1/progress/3",
    ]
    # After a long outage only the latest report goes out (it supersedes the missed ones).
    actions = due_actions([ticket(1)], {}, T0 + m(200), POLICY)
    assert [a.key for a in actions if a.kind is ActionKind.PROGRESS_REPORT] == ["T1/progress/3"]


def test_breach_announced_once_per_clock() -> None:
    t = ticket(1, responded_at=None, onsite_at=None)
    actions = due_actions([t], {}, T0 + m(30), POLICY)
    assert [a.key for a in actions if a.kind is ActionKind.BREACH] == ["T1/breach/response"]
    log = {a.key: acked(a.key, T0 + m(30)) for a in actions}
    actions = due_actions([t], log, T0 + m(121), POLICY)
    assert [a.key for a in actions if a.kind is ActionKind.BREACH] == ["T1/breach/onsite"]
    breach = [a for a in actions if a.kind is ActionKind.BREACH][0]
    assert breach.targets == POLICY.breach_targets and breach.due_at == T0 + m(120)


def unacked(key: str, at: datetime, channel: ChannelKind) -> StepRecord:
    return StepRecord(key, "T1", at, (NoticeRecord(channel, at, None),))


def test_unacknowledged_im_notice_brings_the_next_step_forward() -> None:
    # Level 2: step 0 at 15 min, step 1 normally at 45 min.
    key0 = escalation_key("T1", FaultLevel.P2, 0)
    log = {key0: unacked(key0, T0 + m(15), ChannelKind.IM)}
    assert due_actions([ticket(2)], log, T0 + m(24), POLICY) == []
    actions = due_actions([ticket(2)], log, T0 + m(25), POLICY)
    assert [(a.key, a.due_at, a.step_index) for a in actions] == [
        (escalation_key("T1", FaultLevel.P2, 1), T0 + m(25), 1)
    ]
    assert "not acknowledged" in actions[0].reason
    # Once anybody acknowledges, nothing is brought forward.
    log = {key0: acked(key0, T0 + m(15))}
    assert due_actions([ticket(2)], log, T0 + m(25), POLICY) == []


@pytest.mark.parametrize(
    ("sent_local_hour", "ack_due_after_minutes"),
    [
        (10, 120),  # 10:00 -> 12:00 same day
        (17, 17 * 60),  # 17:00 -> 10:00 next day
    ],
)
def test_email_ack_window_is_two_working_hours(
    sent_local_hour: int, ack_due_after_minutes: int
) -> None:
    created = T0 + timedelta(hours=sent_local_hour - 10)
    t = ticket(4, created_at=created - m(15))
    key0 = escalation_key("T1", FaultLevel.P4, 0)
    log = {key0: unacked(key0, created, ChannelKind.EMAIL)}
    due = created + m(ack_due_after_minutes)
    assert due_actions([t], log, due - m(1), POLICY) == []
    top = due_actions([t], log, due, POLICY)
    assert [(a.kind, a.targets, a.due_at) for a in top] == [
        (ActionKind.UNACKNOWLEDGED, POLICY.unacked_fallback_targets, due)
    ]


def test_email_ack_window_skips_holidays() -> None:
    holiday = SupervisionPolicy(calendar=WorkingCalendar.build(holidays=["2026-11-19"]))
    sent = T0 + timedelta(hours=7)  # 17:00 Wednesday; Thursday is a holiday
    t = ticket(4, created_at=sent - m(15))
    key0 = escalation_key("T1", FaultLevel.P4, 0)
    log = {key0: unacked(key0, sent, ChannelKind.EMAIL)}
    friday_10 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert due_actions([t], log, friday_10 - m(1), holiday) == []
    assert len(due_actions([t], log, friday_10, holiday)) == 1


def test_webhook_and_undelivered_notices_do_not_count_as_unacked() -> None:
    key0 = escalation_key("T1", FaultLevel.P2, 0)
    for notice in (NoticeRecord(ChannelKind.WEBHOOK, T0, None), NoticeRecord(ChannelKind.IM, None)):
        log = {key0: StepRecord(key0, "T1", T0 + m(15), (notice,))}
        assert due_actions([ticket(2)], log, T0 + m(40), POLICY) == []


def test_plan_is_ordered_and_deterministic() -> None:
    tickets = [ticket(1, f"T{i}", created_at=T0 + m(i)) for i in range(5, 0, -1)]
    a = due_actions(tickets, {}, T0 + m(100), POLICY)
    b = due_actions(list(reversed(tickets)), {}, T0 + m(100), POLICY)
    assert a == b
    assert [x.due_at for x in a] == sorted(x.due_at for x in a)


def test_a_step_nobody_received_escalates_at_once() -> None:
    key0 = escalation_key("T1", FaultLevel.P2, 0)
    failed = StepRecord(
        key0,
        "T1",
        T0 + m(15),
        (
            NoticeRecord(ChannelKind.IM, None, failed_at=T0 + m(16)),
            NoticeRecord(ChannelKind.EMAIL, None, failed_at=T0 + m(17)),
        ),
    )
    assert due_actions([ticket(2)], {key0: failed}, T0 + m(16), POLICY) == []
    (action,) = due_actions([ticket(2)], {key0: failed}, T0 + m(17), POLICY)
    assert (action.step_index, action.due_at) == (1, T0 + m(17))
    # One notice still in flight: wait for it.
    pending = StepRecord(
        key0,
        "T1",
        T0 + m(15),
        (
            NoticeRecord(ChannelKind.IM, None, failed_at=T0 + m(16)),
            NoticeRecord(ChannelKind.EMAIL, None),
        ),
    )
    assert due_actions([ticket(2)], {key0: pending}, T0 + m(30), POLICY) == []
    # One delivered IM notice: its 10-minute window decides, the failure does not.
    mixed = StepRecord(
        key0,
        "T1",
        T0 + m(15),
        (
            NoticeRecord(ChannelKind.IM, None, failed_at=T0 + m(16)),
            NoticeRecord(ChannelKind.IM, T0 + m(15)),
        ),
    )
    assert due_actions([ticket(2)], {key0: mixed}, T0 + m(24), POLICY) == []
    assert len(due_actions([ticket(2)], {key0: mixed}, T0 + m(25), POLICY)) == 1


def test_the_fallback_roles_past_the_top_go_out_once() -> None:
    key0 = escalation_key("T1", FaultLevel.P4, 0)
    log = {key0: unacked(key0, T0 + m(15), ChannelKind.IM)}
    (top,) = due_actions([ticket(4)], log, T0 + m(25), POLICY)
    assert (top.key, top.step_index, top.due_at) == ("T1/unacked/4/0", 0, T0 + m(25))
    log[top.key] = acked(top.key, T0 + m(25))
    assert due_actions([ticket(4)], log, T0 + m(90), POLICY) == []


def test_a_rung_due_by_time_keeps_its_time_when_the_rung_below_went_unacknowledged() -> None:
    # Level 2: step 0 unacknowledged since minute 25; step 1 is due by time at minute 45.
    key0 = escalation_key("T1", FaultLevel.P2, 0)
    log = {key0: unacked(key0, T0 + m(15), ChannelKind.IM)}
    (step1,) = due_actions([ticket(2)], log, T0 + m(50), POLICY)
    assert (step1.step_index, step1.due_at) == (1, T0 + m(45))
    assert step1.reason == "open 45 min without resolution"


def test_only_the_rung_right_above_an_unacknowledged_one_is_brought_forward() -> None:
    # Level 1: step 0 unacknowledged, step 1 taken and acknowledged: step 2 waits for 45 min.
    key0, key1 = (escalation_key("T1", FaultLevel.P1, i) for i in (0, 1))
    log = {
        key0: unacked(key0, T0 + m(15), ChannelKind.IM),
        key1: acked(key1, T0 + m(26)),
    }
    assert ladder_keys(due_actions([ticket(1)], log, T0 + m(44), POLICY)) == []
    (step2,) = ladder_keys(due_actions([ticket(1)], log, T0 + m(45), POLICY))
    assert step2 == escalation_key("T1", FaultLevel.P1, 2)


def progress_reports(policy: SupervisionPolicy, minutes: int) -> list[Action]:
    actions = due_actions([ticket(1)], {}, T0 + m(minutes), policy)
    return [a for a in actions if a.kind is ActionKind.PROGRESS_REPORT]


def test_a_progress_report_goes_to_every_role_the_ladder_reached() -> None:
    (report,) = progress_reports(POLICY, 61)
    assert report.targets == (
        "duty_engineer",
        "responsible_manager",
        "emergency_team",
        "account_manager",
        "service_centre_head",
        "remote_expert",
    )
    # No rung reached yet: the breach targets hear of it.
    late_ladder = SlaPolicy(escalation={FaultLevel.P1: (EscalationStep(m(90), ("x",)),)})
    (report,) = progress_reports(SupervisionPolicy(sla=late_ladder), 61)
    assert report.targets == POLICY.breach_targets


def test_no_progress_reports_without_an_interval() -> None:
    never = SupervisionPolicy(sla=SlaPolicy(progress_report_interval=m(0)))
    assert progress_reports(never, 300) == []
