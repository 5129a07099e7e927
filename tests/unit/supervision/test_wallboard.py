from dataclasses import replace
from datetime import UTC, datetime, timedelta

from calls import (
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallOutcome,
    CallQueued,
    CallSnapshot,
    CallState,
)
from calls.control import QueueEntry
from routing.domain.levels import FaultLevel, SlaPolicy
from routing.records import TicketStatus
from supervision.domain.calendar import CHINA_STANDARD_TIME
from supervision.domain.sla import SlaTicket, assess
from supervision.domain.wallboard import (
    PREFERRED_ENGINEER,
    AgentActivity,
    AgentPresence,
    CallFloor,
    EmergencyState,
    build_snapshot,
)
from testkit.call_snapshots import call_snapshot

T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


def snap(
    cid: str,
    queued_at: datetime | None = T0,
    *,
    outcome: CallOutcome | None = None,
    level: str = "1",
) -> CallSnapshot:
    return call_snapshot(
        cid,
        T0 - timedelta(seconds=30),
        queued_at=queued_at,
        outcome=outcome,
        site_code="1001",
        level=int(level),
        variables={"HOTLINE_LEVEL": level},
    )


def floor() -> CallFloor:
    return CallFloor(zone=CHINA_STANDARD_TIME, service_level_target=timedelta(seconds=20))


def test_waiting_answered_abandoned_and_service_level() -> None:
    f = floor()
    s = timedelta(seconds=1)
    assert f.apply(CallQueued(snap("a"), T0, position=1))
    assert f.apply(CallQueued(snap("b"), T0 + 5 * s, position=2))
    assert f.apply(CallQueued(snap("c"), T0 + 6 * s, position=3))
    board = build_snapshot(
        T0 + 30 * s, f, [], [], EmergencyState(), queues=["hotline-main", "hotline-emergency"]
    )
    main = {q.queue: q for q in board.queues}["hotline-main"]
    assert (main.waiting, main.longest_wait_s) == (3, 30)
    assert [c.call_id for c, _ in main.calls] == ["a", "b", "c"]
    assert {q.queue: q for q in board.queues}["hotline-emergency"].waiting == 0

    f.apply(CallAnswered(snap("a"), T0 + 10 * s, interface="PJSIP/1001", hold_seconds=10))
    f.apply(CallAnswered(snap("b"), T0 + 40 * s, interface="PJSIP/1002", hold_seconds=35))
    f.apply(CallAbandoned(snap("c"), T0 + 50 * s, hold_seconds=44))
    # The ended event of an abandoned call must not count it twice.
    f.apply(CallEnded(snap("c", outcome=CallOutcome.ABANDONED), T0 + 50 * s))
    agents = [
        AgentPresence("alice", "PJSIP/1001", paused=False, in_call=False),
        AgentPresence("bob", "PJSIP/1002", paused=True, in_call=False),
        AgentPresence("carol", "PJSIP/1003", paused=False, in_call=False),
        AgentPresence("dave", "PJSIP/1004", paused=True, in_call=False),
    ]
    board = build_snapshot(T0 + 60 * s, f, agents, [], EmergencyState())
    assert board.queues == () or all(q.waiting == 0 for q in board.queues)
    assert (board.answered_today, board.abandoned_today, board.answered_in_target) == (2, 1, 1)
    assert board.service_level is not None and abs(board.service_level - 1 / 3) < 1e-9
    assert board.agent_counts() == {"ready": 1, "busy": 2, "paused": 1}
    f.apply(CallEnded(snap("a", outcome=CallOutcome.ANSWERED), T0 + 70 * s))
    board = build_snapshot(T0 + 80 * s, f, agents, [], EmergencyState())
    assert dict((p.name, a) for p, a in board.agents)["alice"] is AgentActivity.READY
    msg = board.to_message()
    # bob is paused but still talking on call b: busy until that call ends.
    assert msg["type"] == "wallboard" and msg["agents"] == {"ready": 2, "busy": 1, "paused": 1}


def test_callers_ringing_their_engineer_before_the_queue_are_waiting() -> None:
    f = floor()
    s = timedelta(seconds=1)
    direct = replace(snap("p"), queue=None, state=CallState.AGENT_RINGING)
    assert f.apply(AgentRinging(direct, T0, interface="PJSIP/1004", member_name="PJSIP/1004"))
    # A queue agent's phone ringing changes nothing: the caller is on the queue's board.
    f.apply(CallQueued(snap("q"), T0, position=1))
    assert not f.apply(AgentRinging(snap("q"), T0 + s, interface="PJSIP/1001"))
    board = build_snapshot(T0 + 10 * s, f, [], [], EmergencyState(), queues=["hotline-main"])
    boards = {b.queue: b for b in board.queues}
    assert (boards[PREFERRED_ENGINEER].waiting, boards[PREFERRED_ENGINEER].longest_wait_s) == (
        1,
        10,
    )
    assert boards["hotline-main"].waiting == 1
    # Not answered: the call joins the queue, and waits there since the ring began.
    f.apply(CallQueued(snap("p"), T0 + 15 * s, position=2))
    board = build_snapshot(T0 + 20 * s, f, [], [], EmergencyState(), queues=["hotline-main"])
    assert {b.queue: b.waiting for b in board.queues} == {"hotline-main": 2}
    f.apply(CallAnswered(snap("p"), T0 + 25 * s, interface="PJSIP/1002", hold_seconds=25))
    assert "p" not in f.waiting


def test_counts_reset_at_local_midnight() -> None:
    f = floor()
    f.apply(CallAnswered(snap("a"), T0, interface="PJSIP/1001", hold_seconds=3))
    # 2026-11-18 16:00 UTC is midnight in Beijing: a new day.
    f.apply(CallQueued(snap("b"), datetime(2026, 11, 18, 16, 0, 1, tzinfo=UTC)))
    board = build_snapshot(datetime(2026, 11, 18, 16, 1, tzinfo=UTC), f, [], [], EmergencyState())
    assert board.answered_today == 0 and board.service_level is None


def test_resync_replaces_waiting_calls() -> None:
    f = floor()
    f.apply(CallQueued(snap("gone"), T0))
    entry = QueueEntry("hotline-main", 1, "PJSIP/trunk-x", "u1", "x", "139", "", 42, 10)
    f.resync_waiting([entry], T0 + timedelta(minutes=5))
    board = build_snapshot(T0 + timedelta(minutes=5), f, [], [], EmergencyState())
    assert [(c.call_id, w) for q in board.queues for c, w in q.calls] == [("x", 42)]


def test_tickets_by_level_with_time_to_breach() -> None:
    policy = SlaPolicy()
    now = T0 + timedelta(minutes=40)
    tickets = [
        SlaTicket("T1", FaultLevel.P1, TicketStatus.OPEN, T0),  # response breached at 30
        SlaTicket("T2", FaultLevel.P1, TicketStatus.OPEN, T0 + timedelta(minutes=20)),
        SlaTicket("T3", FaultLevel.P3, TicketStatus.IN_PROGRESS, T0),
        SlaTicket("T4", FaultLevel.P3, TicketStatus.RESOLVED, T0, resolved_at=T0),
    ]
    board = build_snapshot(
        now,
        floor(),
        [],
        [assess(t, policy, now) for t in tickets],
        EmergencyState(active=True, since=T0, reason="seat system down"),
    )
    levels = {lv.level: lv for lv in board.levels}
    assert (levels[1].open, levels[1].breached) == (2, 1)
    assert levels[1].next_breach_ticket == "T2"
    assert levels[1].next_breach_in_s == 10 * 60
    assert (levels[3].open, levels[3].next_breach_in_s) == (1, 80 * 60)
    assert levels[2].open == 0 and levels[2].next_breach_in_s is None
    assert board.breaches == 1
    assert board.to_message()["emergency"]["active"] is True
